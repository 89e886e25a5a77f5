"""The built wheel is complete: installed into a fresh virtualenv outside the repository, it
migrates a new SQLite file and a PostgreSQL database, creates an organisation and a key, serves
with gunicorn and answers v2 calls (and GraphiQL's offline scripts are in it).

Run with ``-s`` to see each step and its output.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL, _postgres_schema_url, esi, person_body
from tests.live_server import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]


def _run(command: list[str], *, cwd: Path, env: dict[str, str], show: bool = True) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if show:
        print(f"$ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}")
        print((result.stdout + result.stderr).rstrip()[-1500:] or "(no output)")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A wheel built from the checkout's files, installed into a fresh virtualenv elsewhere."""
    work = tmp_path_factory.mktemp("wheel")
    source, dist, venv = work / "source", work / "dist", work / "venv"
    # Build from the project's own files only (what git tracks, and new files not ignored), so
    # nothing generated in the checkout, such as GraphiQL's fetched scripts, slips in.
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESCR_", "PYTHON"))}
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "-w", str(dist), str(source)], cwd=work, env=env, show=False)
    (wheel,) = dist.glob("escrouter-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    print(f"built {wheel.name}: {len(names)} files")
    for needed in ("router/migrations/env.py", "router/migrations/versions/0001_initial_schema.py",
                   "router/migrations/script.py.mako", "router/static/graphiql/graphiql.min.js",
                   "router/static/graphiql-boot.js", "router/templates/graphiql.html"):
        assert needed in names, needed
    assert not any(name.startswith(("tests/", "migrations/")) for name in names)
    _run([sys.executable, "-m", "venv", str(venv)], cwd=work, env=env, show=False)
    _run([str(venv / "bin/python"), "-m", "pip", "install", "--quiet", str(wheel)],
         cwd=work, env=env, show=False)
    print(f"installed {wheel.name} into a fresh virtualenv")
    yield venv, work


def _serve_and_call(venv: Path, cwd: Path, env: dict[str, str], key: str, log: Path) -> None:
    port = free_port()
    with log.open("w") as sink:
        server = subprocess.Popen(
            [str(venv / "bin/gunicorn"), "-c", "python:router.gunicorn_config",
             "--bind", f"127.0.0.1:{port}", "router.wsgi:app"],
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server, why_not=log.read_text)
        auth = {"Authorization": f"Bearer {key}"}
        created = httpx.post(f"{base}/api/v2/persons", headers=auth, timeout=10,
                             json=person_body(esi("WHEEL"), "123456789"))
        listed = httpx.get(f"{base}/api/v2/persons", headers=auth, timeout=10)
        print(f"POST /api/v2/persons -> {created.status_code}; GET -> {listed.status_code}, "
              f"{listed.json()['page']['totalElements']} person")
        assert created.status_code == 201, created.text
        assert listed.status_code == 200
        assert listed.json()["content"][0]["identifier"] == esi("WHEEL")
        graphiql = httpx.get(f"{base}/static/graphiql/graphiql.min.js", timeout=10)
        assert graphiql.status_code == 200 and len(graphiql.content) > 1_000_000
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def _administer(venv: Path, cwd: Path, env: dict[str, str]) -> str:
    admin = str(venv / "bin/escr-admin")
    _run([admin, "db", "upgrade"], cwd=cwd, env=env)
    _run([admin, "org", "create", "--pic", "123456789", "--name", "Université Wheel",
          "--country", "FR"], cwd=cwd, env=env)
    key = _run([admin, "key", "create", "--pic", "123456789"], cwd=cwd, env=env).strip()
    assert key.startswith("escr_")
    return key


@pytest.mark.e2e
def test_the_wheel_installs_migrates_and_serves_on_sqlite_and_postgresql(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    venv, _ = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ESCR_", "PYTHON"))},
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "ESCR_SECRET_KEY": "wheel-test",
    }
    where = _run([str(venv / "bin/python"), "-c", "import router; print(router.__file__)"],
                 cwd=elsewhere, env=base_env)
    assert where.startswith(str(venv))
    version = _run([str(venv / "bin/escr-admin"), "--version"], cwd=elsewhere, env=base_env)
    assert version.startswith("escr-admin, version ")

    # SQLite in the platform's data folder (no ESCR_INSTANCE_PATH, nothing in the cwd).
    key = _administer(venv, elsewhere, base_env)
    assert (tmp_path / "data" / "escrouter" / "escrouter.sqlite3").is_file()
    assert list(elsewhere.iterdir()) == []
    _serve_and_call(venv, elsewhere, base_env, key, tmp_path / "sqlite.log")

    if not PG_URL:
        pytest.skip("set ESCR_TEST_DATABASE_URL (.ci/run does) for the PostgreSQL half")
    schema = f"escr_wheel_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        pg_env = {**base_env, "ESCR_DATABASE_URL": _postgres_schema_url(schema)}
        key = _administer(venv, elsewhere, pg_env)
        _serve_and_call(venv, elsewhere, pg_env, key, tmp_path / "postgresql.log")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
