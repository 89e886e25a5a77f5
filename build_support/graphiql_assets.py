"""Fetch GraphiQL's browser bundles from the npm registry into ``router/static/graphiql``.

GraphiQL is a JavaScript application, published on npm, not on PyPI. The build (``setup.py``,
hence ``pip install``, ``pip wheel`` and ``scripts/setup``) runs ``npm pack`` for each package
pinned in ``graphiql-assets.json``, checks the tarball against the pinned sha512 integrity and
copies out the few files the page loads, so the router serves GraphiQL without internet access.
Nothing fetched here is committed: the target folder is git-ignored and rebuilt when the pins
change.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

MANIFEST = Path(__file__).with_name("graphiql-assets.json")
STAMP = ".pins"


class AssetFetchError(RuntimeError):
    """The assets could not be fetched or did not match their pins."""


def _pins() -> str:
    return hashlib.sha256(MANIFEST.read_bytes()).hexdigest()


def up_to_date(target: Path) -> bool:
    """True when ``target`` holds the files of the current pins."""
    stamp = target / STAMP
    return stamp.is_file() and stamp.read_text().strip() == _pins()


def _check_integrity(tarball: Path, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise AssetFetchError(f"unsupported integrity {integrity!r}")
    actual = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if actual != expected:
        raise AssetFetchError(f"{tarball.name} does not match its pinned sha512 integrity")


def _npm_pack(spec: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise AssetFetchError(
            "GraphiQL's scripts come from the npm registry at build time and npm is not on PATH: "
            "install Node.js and npm (Debian: apt-get install npm), then build again."
        )
    result = subprocess.run(
        [npm, "pack", spec, "--json", "--silent", "--pack-destination", str(into)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssetFetchError(f"npm pack {spec} failed:\n{result.stderr.strip()[-2000:]}")
    return into / json.loads(result.stdout)[0]["filename"]


def fetch(target: Path) -> bool:
    """Fill ``target`` with the pinned files unless it is up to date; True when it fetched."""
    if up_to_date(target):
        return False
    manifest = json.loads(MANIFEST.read_text())
    with tempfile.TemporaryDirectory() as scratch:
        staging = Path(scratch) / "graphiql"
        staging.mkdir()
        for package in manifest["packages"]:
            tarball = _npm_pack(f"{package['name']}@{package['version']}", Path(scratch))
            _check_integrity(tarball, package["integrity"])
            with tarfile.open(tarball) as archive:
                for inner, name in package["files"].items():
                    member = archive.extractfile(f"package/{inner}")
                    if member is None:
                        raise AssetFetchError(f"{tarball.name} has no {inner}")
                    (staging / name).write_bytes(member.read())
        (staging / STAMP).write_text(_pins() + "\n")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, target)
    return True


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    fetched = fetch(root / "router" / "static" / "graphiql")
    print("fetched GraphiQL assets" if fetched else "GraphiQL assets are up to date")
