"""The router's Flask class: the cookie session opened only when sent, coroutine checks kept."""

from __future__ import annotations

import flask
import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer


def _count_serializers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times Flask built the session's signing serializer (its per-request cost)."""
    built: list[int] = []
    original = SecureCookieSessionInterface.get_signing_serializer

    def counting(self: SecureCookieSessionInterface, app: Flask) -> URLSafeTimedSerializer | None:
        built.append(1)
        return original(self, app)

    monkeypatch.setattr(SecureCookieSessionInterface, "get_signing_serializer", counting)
    return built


def test_a_request_without_cookies_opens_no_cookie_session(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _count_serializers(monkeypatch)
    response = client.get("/api/v2/cards/f81d4fae-7dec-11d0-a765-001999999999/status")
    assert response.status_code == 404
    assert built == []
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")


def test_the_session_still_works_for_whoever_uses_it(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def remember() -> str:
        flask.session["seen"] = flask.session.get("seen", 0) + 1
        return str(flask.session["seen"])

    app.add_url_rule("/test-session", "test_session", remember)
    first = client.get("/test-session")
    assert first.get_data(as_text=True) == "1"
    assert "session=" in first.headers["Set-Cookie"]
    built = _count_serializers(monkeypatch)
    # The test client sends the cookie back: the session is read, signed and written again.
    assert client.get("/test-session").get_data(as_text=True) == "2"
    assert built


def test_coroutine_functions_are_still_handed_to_async_to_sync(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def later() -> str:
        return "done"

    def plain() -> str:
        return "done"

    monkeypatch.setattr(app, "async_to_sync", lambda func: ("wrapped", func))
    for _ in range(2):  # the second time from the remembered check
        assert app.ensure_sync(later) == ("wrapped", later)
        assert app.ensure_sync(plain) is plain
