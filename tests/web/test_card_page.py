"""The public page /cards/<ESCN>: verdicts, languages, no personal data, JSON by content type."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from router.domain.escn import default_generator
from tests.conftest import Register, Tenant

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def page(client: FlaskClient, escn: str, language: str = "en", **headers: str) -> TestResponse:
    return client.get(f"/cards/{escn}", headers={**BROWSER, "Accept-Language": language, **headers})


def test_valid_card_page_in_english(client: FlaskClient, registered: Register) -> None:
    card = registered()
    response = page(client, card["escn"], "en-GB,en;q=0.9")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Valid European Student Card" in html
    assert 'data-valid="true"' in html
    assert "Demo University (FR)" in html
    assert "Valid until" in html
    assert "31 August 2030" in html
    assert card["escn"] in html
    assert "Checked at" in html
    assert " UTC</time>" in html


def test_valid_card_page_in_french(client: FlaskClient, registered: Register) -> None:
    card = registered()
    html = page(client, card["escn"], "fr-FR,fr;q=0.9,en;q=0.5").get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Carte d'étudiant européenne valide" in html or "Carte d&#39;étudiant" in html
    assert "Valable jusqu&#39;au" in html or "Valable jusqu'au" in html
    assert "31 août 2030" in html
    assert "Vérifiée le" in html


def test_unsupported_language_falls_back_to_english(
    client: FlaskClient, registered: Register
) -> None:
    html = page(client, registered()["escn"], "de-DE").get_data(as_text=True)
    assert '<html lang="en">' in html


def test_anonymous_page_shows_nothing_personal(
    client: FlaskClient, registered: Register, uni: Tenant
) -> None:
    card = registered()
    html = page(client, card["escn"]).get_data(as_text=True)
    for personal in ("Card of Ada", "Ada Lovelace", "s@example.org", card["esi"], "MASTER"):
        assert personal not in html


@pytest.mark.parametrize(
    ("action", "reason", "english", "french"),
    [
        ("REPORT_LOST", "LOST", "reported lost", "déclarée perdue"),
        ("REPORT_STOLEN", "STOLEN", "reported stolen", "déclarée volée"),
        ("SUSPEND", "SUSPENDED", "is suspended", "est suspendue"),
        ("DEACTIVATE", "INACTIVE", "deactivated", "désactivée"),
        ("RENEW", "RENEWED", "replaced by a new card", "remplacée"),
        ("DESTROY", "DESTROYED", "destroyed", "détruite"),
    ],
)
def test_not_valid_page_gives_the_reason(
    client: FlaskClient,
    registered: Register,
    uni: Tenant,
    action: str,
    reason: str,
    english: str,
    french: str,
) -> None:
    card = registered()
    client.post(
        f"/api/x/cards/{card['escn']}/lifecycle", json={"action": action}, headers=uni.headers
    )
    html = page(client, card["escn"]).get_data(as_text=True)
    assert "Not a valid European Student Card" in html
    assert f'data-reason="{reason}"' in html
    assert english in html
    # No date under "not valid": "Valid until 31 August 2030" would contradict the verdict.
    for shown in ("Valid until", "Expired on", "31 August 2030", 'id="expires"'):
        assert shown not in html
    french_html = page(client, card["escn"], "fr").get_data(as_text=True)
    assert french in french_html
    assert "Valable jusqu" not in french_html and "31 août 2030" not in french_html


def test_expired_card_page_says_when_it_expired(client: FlaskClient, registered: Register) -> None:
    card = registered(issuedAt="2020-09-01", expiresAt="2021-08-31")
    html = page(client, card["escn"]).get_data(as_text=True)
    assert 'data-reason="EXPIRED"' in html
    assert "Expired on" in html
    assert "31 August 2021" in html


def test_unknown_card_page_is_404_and_not_valid(client: FlaskClient, uni: Tenant) -> None:
    number = default_generator.generate(uni.pic, "001")
    response = page(client, number)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Not a valid European Student Card" in html
    assert 'data-reason="UNKNOWN"' in html


@pytest.mark.parametrize("escn", ["garbage", str(uuid.uuid4()), "%3Cscript%3E"])
def test_bad_card_numbers_get_a_400_page(client: FlaskClient, escn: str) -> None:
    response = page(client, escn)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "does not contain a valid card number" in html
    assert "<script>" not in html


def test_page_needs_no_javascript_and_forbids_it(client: FlaskClient, registered: Register) -> None:
    response = page(client, registered()["escn"])
    html = response.get_data(as_text=True)
    assert "<script" not in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert 'name="viewport"' in html
    assert 'role="status"' in html


def test_json_accept_returns_the_v2_status_view(
    client: FlaskClient, registered: Register, uni: Tenant
) -> None:
    card = registered()
    response = client.get(f"/cards/{card['escn']}", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.json
    assert body == client.get(f"/api/v2/cards/{card['escn']}/status").json
    assert body["status"] == "ACTIVE"
    assert body["issuerIdentifier"] == uni.pic
    assert body["displayName"] is None


def test_json_accept_for_the_issuer_shows_the_display_name(
    client: FlaskClient, registered: Register, uni: Tenant
) -> None:
    card = registered()
    response = client.get(
        f"/cards/{card['escn']}", headers={"Accept": "application/json", **uni.headers}
    )
    assert response.json["displayName"] == "Card of Ada"


def test_json_errors_are_problems(client: FlaskClient, uni: Tenant) -> None:
    unknown = default_generator.generate(uni.pic, "001")
    response = client.get(f"/cards/{unknown}", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "ER-0001"
    bad = client.get("/cards/nope", headers={"Accept": "application/json"})
    assert bad.status_code == 400
    assert bad.json["code"] == "ER-0401"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("en-US,fr;q=0.9", "en"),
        ("fr-CA", "fr"),
        ("de-DE,fr;q=0.5,en;q=0.3", "fr"),
        ("FR", "fr"),
        ("*", "en"),
        ("fr;q=0,en;q=0.1", "en"),
        ("", "en"),
    ],
)
def test_language_follows_the_visitors_preference_order(
    client: FlaskClient, registered: Register, header: str, language: str
) -> None:
    html = page(client, registered()["escn"], header).get_data(as_text=True)
    assert f'<html lang="{language}">' in html


def test_every_message_is_translated_in_every_language() -> None:
    from router.domain.verification import VerdictReason
    from router.web.messages import CATALOGUES

    english = set(CATALOGUES["en"])
    assert {f"reason.{r.value}" for r in VerdictReason} <= english
    for language, catalogue in CATALOGUES.items():
        assert set(catalogue) == english, language


def test_the_pages_messages_are_the_catalogues_escaped_for_html() -> None:
    from markupsafe import escape

    from router.web.messages import CATALOGUES, Messages

    for language in CATALOGUES:
        text = Messages(language)
        assert text.html == {key: escape(text(key)) for key in CATALOGUES["en"]}
    # An apostrophe (French) is escaped as Jinja escapes any other value of the page.
    assert "&#39;" in Messages("fr").html["page_title"]


@pytest.mark.parametrize(
    ("accept", "accept_language"),
    [
        ("application/json", "fr-CH, fr;q=0.9"),
        ("text/html,application/json;q=0.9", "de, en;q=0.5"),
        ("application/json;q=0.5,text/html;q=0.4", None),
        (None, "fr;q=0,en;q=0.1"),
    ],
)
def test_accept_headers_are_read_as_werkzeug_reads_them(
    app: Flask, accept: str | None, accept_language: str | None
) -> None:
    from router.web import card_page
    from router.web.messages import Messages, negotiate

    headers = {"Accept": accept, "Accept-Language": accept_language}
    sent = {name: value for name, value in headers.items() if value is not None}
    for _ in range(2):  # the second time from the per-process cache
        with app.test_request_context("/cards/x", headers=sent):
            from flask import request

            best = request.accept_mimetypes.best_match(["text/html", "application/json"])
            prefers_json = best == "application/json" and (
                request.accept_mimetypes["application/json"] > request.accept_mimetypes["text/html"]
            )
            assert card_page.wants_json() is prefers_json
            expected = Messages(negotiate(request.accept_languages)).language
            assert card_page.messages().language == expected
