"""The public card page in a real headless Chromium against a live router on a loopback port.

Screenshots are kept in test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.serving import make_server

from tests.conftest import Register, Tenant

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE = "412,915"
VALID_GREEN = (0x0B, 0x6B, 0x2F)
NOT_VALID_RED = (0xA1, 0x13, 0x1F)


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        pytest.skip(
            "chromium is not installed: run `apt-get install -y chromium` (Debian/Ubuntu), "
            "or .ci/run, which installs it, to run the browser tests"
        )
    return CHROMIUM


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The test router served by werkzeug in a thread, on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def run_chromium(chromium: str, url: str, *args: str, language: str = "en-GB") -> str:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # tests run as root in CI containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--lang={language}",
        f"--accept-lang={language}",
        f"--window-size={PHONE}",
        *args,
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def colour_share(image: Image.Image, colour: tuple[int, int, int]) -> float:
    data = image.convert("RGB").tobytes()
    pixels = zip(data[0::3], data[1::3], data[2::3], strict=True)
    close = sum(1 for p in pixels if all(abs(a - b) <= 6 for a, b in zip(p, colour, strict=True)))
    return close / (image.width * image.height)


def screenshot(chromium: str, url: str, name: str, language: str = "en-GB") -> Image.Image:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    run_chromium(chromium, url, f"--screenshot={path}", language=language)
    assert path.exists(), "chromium wrote no screenshot"
    return Image.open(path)


def test_valid_card_page_renders_in_chromium(
    chromium: str, live_url: str, registered: Register, database_url: str
) -> None:
    card = registered()
    url = f"{live_url}/cards/{card['escn']}"
    dom = run_chromium(chromium, url, "--dump-dom")
    assert 'data-valid="true"' in dom
    assert "Valid European Student Card" in dom
    assert "Demo University" in dom
    assert "Card of Ada" not in dom
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    image = screenshot(chromium, url, f"card-page-valid-en-{backend}.png")
    assert image.size == (412, 915)
    # The verdict banner is drawn, in its colour: the stylesheet applied.
    assert colour_share(image, VALID_GREEN) > 0.02


def test_lost_card_page_in_french_renders_in_chromium(
    chromium: str,
    live_url: str,
    registered: Register,
    uni: Tenant,
    client: FlaskClient,
    database_url: str,
) -> None:
    card = registered()
    client.post(
        f"/api/x/cards/{card['escn']}/lifecycle",
        json={"action": "REPORT_LOST"},
        headers=uni.headers,
    )
    url = f"{live_url}/cards/{card['escn']}"
    dom = run_chromium(chromium, url, "--dump-dom", language="fr-FR")
    assert '<html lang="fr">' in dom
    assert "non valide" in dom
    assert "déclarée perdue" in dom
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    image = screenshot(chromium, url, f"card-page-lost-fr-{backend}.png", language="fr-FR")
    assert colour_share(image, NOT_VALID_RED) > 0.02
    assert colour_share(image, VALID_GREEN) == 0
