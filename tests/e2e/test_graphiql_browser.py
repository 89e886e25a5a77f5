"""GraphiQL at /graphql loads in headless Chromium with every other host unreachable.

Chromium resolves no name but 127.0.0.1 (``--host-resolver-rules``), and the page's
Content-Security-Policy allows only the router's own scripts: GraphiQL can only render from the
copy of its scripts the router serves. The screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.serving import make_server

from router import migrate
from router.app import create_app
from router.settings import Settings
from tests.e2e.test_card_page_browser import ARTIFACTS, chromium, run_chromium  # noqa: F401

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@pytest.fixture
def router_url(tmp_path: Path) -> Iterator[str]:
    """A router on SQLite, served by werkzeug in a thread on a free loopback port."""
    settings = Settings(instance_path=tmp_path, secret_key="test-secret")
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["escr.database"].engine.dispose()


@pytest.mark.e2e
def test_graphiql_renders_offline_from_the_routers_own_assets(
    chromium: str, router_url: str  # noqa: F811
) -> None:
    url = f"{router_url}/graphql"
    args = (OFFLINE, "--virtual-time-budget=20000", "--window-size=1280,800")
    dom = run_chromium(chromium, url, *args, "--dump-dom")
    # React mounted GraphiQL: its editors and our default query are in the document.
    assert "graphiql-container" in dom
    assert "graphiql-execute-button" in dom
    assert "Loading GraphiQL" not in dom
    assert "Put your API key in the Authorization header below" in dom
    # Its first query reached the router, which asked for a key: the fetcher works too.
    assert "SE-0001" in dom
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "graphiql-offline.png"
    path.unlink(missing_ok=True)
    run_chromium(chromium, url, *args, f"--screenshot={path}")
    image = Image.open(path)
    # GraphiQL's layout is drawn: the page is not one blank colour.
    assert len(set(image.convert("L").resize((64, 40)).tobytes())) > 8
