"""Every command in README.md runs as written, in order, against a fresh ``scripts/serve``.

The convention (README's "Contributing" says it too):

- Every fenced block whose info string is ``sh`` is run, in the order of the document, in one
  bash session (``set -euo pipefail``), so that variables a block sets serve the blocks after it.
- The session works in a scratch folder where ``.venv`` links to the project's virtualenv, as
  README's reader works at the checkout; what the blocks write lands in the scratch folder.
- The only rewriting: ``127.0.0.1:8080``, ``scripts/serve``'s default address, becomes the test
  server's. ``curl`` runs with ``--fail-with-body``, so an HTTP error fails the block.
- A block fenced ``sh not-run`` (production, systemd, root) is shown but not run: its shell syntax
  is checked with ``bash -n``, and every ``escr-admin`` / ``escr-sgc`` / ``escr-reader`` command it
  names must exist.

Sections added later (delegation, peer routers, reader tools...) follow the same rules: their
``sh`` blocks must run after the ones before them.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from reader_tools.cli import cli as reader_cli
from router.cli import escr_group
from sgc_client.cli import cli as sgc_cli
from tests.live_server import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.M | re.S)
DEFAULT_ADDRESS = "127.0.0.1:8080"


@dataclass
class Block:
    """A fenced shell block of README.md and the line it starts on."""

    line: int
    info: str
    code: str


def shell_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        info = match.group(1).strip()
        if info.split()[:1] == ["sh"]:
            blocks.append(Block(text.count("\n", 0, match.start()) + 1, info, match.group(2)))
    return blocks


def test_readme_blocks_are_run_or_explicitly_not_run() -> None:
    blocks = shell_blocks()
    assert blocks, "README.md has no sh block"
    for block in blocks:
        assert block.info in ("sh", "sh not-run"), f"line {block.line}: marker {block.info!r}"
    assert sum(b.info == "sh" for b in blocks) >= 5


GROUPS: dict[str, click.Group] = {
    "escr-admin": escr_group,
    "escr-sgc": sgc_cli,
    "escr-reader": reader_cli,
}


def _commands(code: str) -> Iterator[list[str]]:
    joined = code.replace("\\\n", " ")
    for line in joined.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # a heredoc line or an unbalanced quote inside $(...)
            continue
        for start, word in enumerate(words):
            if Path(word).name in GROUPS:
                yield words[start:]


def _resolve(group: click.Group, words: list[str]) -> click.Command:
    command: click.Command = group
    context = click.Context(group)
    for word in words:
        if word.startswith("-") or not isinstance(command, click.Group):
            break
        found = command.get_command(context, word)
        assert found is not None, f"{' '.join(words)}: no command {word!r}"
        command = found
    return command


def test_not_run_blocks_are_valid_shell_naming_real_commands() -> None:
    for block in shell_blocks():
        if block.info != "sh not-run":
            continue
        syntax = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
        assert syntax.returncode == 0, f"README line {block.line}: {syntax.stderr}"
        for words in _commands(block.code):
            group = GROUPS[Path(words[0]).name]
            command = _resolve(group, words[1:])
            assert not isinstance(command, click.Group) or "--version" in words, (
                f"README line {block.line}: {' '.join(words)} names no command"
            )


@pytest.fixture
def fresh_serve(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """``scripts/serve`` on a free port with an empty data folder; its address and environment."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESCR_", "PROMETHEUS_"))}
    env.update(
        XDG_DATA_HOME=str(tmp_path / "data"),  # the platform's data folder: nothing else set
        ESCR_VENV=sys.prefix,
        ESCR_BIND=f"127.0.0.1:{port}",
    )
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "serve")], cwd=ROOT, env=env, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    address = f"127.0.0.1:{port}"
    try:
        wait_until_serving(f"http://{address}", process, why_not=log.read_text)
        env.pop("ESCR_BIND")
        yield address, tmp_path, env
    finally:
        os.killpg(process.pid, signal.SIGINT)  # gunicorn's quick shutdown
        process.wait(timeout=60)


@pytest.mark.e2e
def test_every_readme_command_runs_in_order_on_a_fresh_serve(
    fresh_serve: tuple[str, Path, dict[str, str]]
) -> None:
    address, tmp_path, env = fresh_serve
    scratch = tmp_path / "reader"
    scratch.mkdir()
    (scratch / ".venv").symlink_to(sys.prefix)
    script = [
        "set -euo pipefail",
        'curl() { command curl --fail-with-body "$@"; }',
    ]
    for block in shell_blocks():
        if block.info == "sh":
            script.append(f"echo '>>> README line {block.line}'")
            script.append(block.code.replace(DEFAULT_ADDRESS, address))
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=scratch, env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )
    transcript = result.stdout + result.stderr
    print(transcript)
    assert result.returncode == 0, transcript[-4000:]
    # What the tour shows did happen.
    assert '"status": "ACTIVE"' in transcript or '"status":"ACTIVE"' in transcript
    assert '"reason": "LOST"' in transcript or '"reason":"LOST"' in transcript
    assert (scratch / "card.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    # The persons import: Alan is new, Ada (registered with curl above) is unchanged.
    assert "summary: created=1 updated=0 unchanged=1 failed=0" in transcript
    assert "summary: created=0 updated=0 unchanged=2 failed=0" in transcript  # the sync
    assert ": RENEWED (INACTIVE)" in transcript
    assert "erased urn:schac:personalUniqueCode:int:esi:FR:20265678" in transcript
