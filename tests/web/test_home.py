"""``/``: the router's name, version and links, and a card lookup that leads to the card's page."""

from __future__ import annotations

from importlib.metadata import version

from flask.testing import FlaskClient

from tests.conftest import Register


def test_home_page_names_the_router_and_links_its_faces(client: FlaskClient) -> None:
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<h1>escrouter</h1>" in html
    assert f'<span id="version">{version("escrouter")}</span>' in html
    for link in ('href="/docs"', 'href="/graphql"', 'href="/openapi.json"', 'action="/cards"'):
        assert link in html
    assert "script" not in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_home_answers_json_to_programs(client: FlaskClient) -> None:
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.json["name"] == "escrouter"
    assert response.json["version"] == version("escrouter")
    assert response.json["links"]["cardStatus"] == "/api/v2/cards/{escn}/status"


def test_the_lookup_form_leads_to_the_cards_page(client: FlaskClient, registered: Register) -> None:
    escn = registered()["escn"]
    response = client.get(f"/cards?number=%20{escn.upper()}%20")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/cards/{escn}"
    assert client.get(response.headers["Location"]).status_code == 200
    assert client.get("/cards?number=").headers["Location"] == "/"


def test_graphiql_page_loads_only_the_routers_own_scripts(client: FlaskClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "unpkg.com" not in html and "https://" not in html
    for asset in ("graphiql/graphiql.min.js", "graphiql/react.production.min.js",
                  "graphiql/graphiql.min.css", "graphiql-boot.js"):
        assert f"/static/{asset}" in html
        assert client.get(f"/static/{asset}").status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
