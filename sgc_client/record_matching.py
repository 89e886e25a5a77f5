"""Whether what the router holds already says what a CSV row says (so the row is ``unchanged``)."""

from __future__ import annotations

from typing import Any

from sgc_client.csv_formats import canonical_esi, normalise_csn


def _code_key(value: Any) -> Any:
    return value.get("key") if isinstance(value, dict) else value


def person_matches(existing: dict[str, Any], body: dict[str, Any], pic: str) -> bool:
    """Whether the router's person already holds what ``body`` says for organisation ``pic``."""
    wanted = body["personOrganisationUpdateViews"][0]
    link = next(
        (
            o
            for o in existing.get("organisations") or []
            if (o.get("organisation") or {}).get("identifier") == pic
        ),
        None,
    )
    if link is None:
        return False
    contact = link.get("contactPoint") or {}
    full_name = link["fullName"] if "fullName" in link else existing.get("fullName")
    if (full_name or None) != wanted["fullName"]:
        return False
    if (contact.get("email") or None) != wanted["email"]:
        return False
    # The real router has no phone: compare it only where the router shows one.
    if "phone" in contact and (contact.get("phone") or None) != wanted["phone"]:
        return False
    return (_code_key(link.get("academicLevel")) or None) == wanted["academicLevel"]


def card_lite_matches(existing: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether the fields a card list shows already hold what ``body`` says."""
    person = existing.get("person") or {}
    return (
        str(existing.get("issuedAt")) == body["issuedAt"]
        and str(existing.get("expiresAt")) == body["expiresAt"]
        and (existing.get("displayName") or None) == body["displayName"]
        and canonical_esi(person.get("identifier") or "") == body["personIdentifier"]
    )


def card_matches(existing: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether a whole card (CardView) already holds what ``body`` says."""
    if not card_lite_matches(existing, body):
        return False
    if _code_key(existing.get("cardType")) != body["cardType"]:
        return False
    if _code_key(existing.get("cardStatusType")) != body["cardStatusType"]:
        return False
    if "csn" in body and "csn" in existing:
        return normalise_csn(existing.get("csn") or "") == body["csn"]
    return True
