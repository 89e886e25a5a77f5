"""The public card page's message catalogue: English and French, chosen from Accept-Language.

A dictionary per language keeps the page free of a translation toolchain for a dozen sentences;
a key missing from a language falls back to English. Add a language by adding a catalogue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from markupsafe import Markup, escape

DEFAULT_LANGUAGE = "en"

CATALOGUES: dict[str, dict[str, str]] = {
    "en": {
        "page_title": "European Student Card status",
        "valid": "Valid European Student Card",
        "not_valid": "Not a valid European Student Card",
        "valid_detail": "This card is active: its holder is a student of the institution below.",
        "institution": "Issuing institution",
        "valid_until": "Valid until",
        "expired_on": "Expired on",
        "card_number": "Card number",
        "checked_at": "Checked at",
        "privacy": "This page shows no personal data about the card holder.",
        "reason.INACTIVE": "The card has been deactivated by its institution.",
        "reason.LOST": "The card has been reported lost.",
        "reason.STOLEN": "The card has been reported stolen.",
        "reason.SUSPENDED": "The card is suspended.",
        "reason.EXPIRED": "The card has expired.",
        "reason.RENEWED": "The card has been replaced by a new card.",
        "reason.DESTROYED": "The card has been destroyed.",
        "reason.UNKNOWN": "No card with this number is registered on this router.",
        "error.bad_number": "This address does not contain a valid card number.",
        "error.rate_limited": "Too many checks from your network. Please try again in {seconds} s.",
        "error.title": "Card cannot be checked",
        "answered_by": "Answered by the card's home router, {router}.",
        "reason.UNKNOWN_ELSEWHERE": "No card with this number is registered on its home router.",
    },
    "fr": {
        "page_title": "Statut de la carte d'étudiant européenne",
        "valid": "Carte d'étudiant européenne valide",
        "not_valid": "Carte d'étudiant européenne non valide",
        "valid_detail": "Cette carte est active : son titulaire est étudiant de l'établissement "
        "ci-dessous.",
        "institution": "Établissement émetteur",
        "valid_until": "Valable jusqu'au",
        "expired_on": "Expirée le",
        "card_number": "Numéro de carte",
        "checked_at": "Vérifiée le",
        "privacy": "Cette page n'affiche aucune donnée personnelle du titulaire de la carte.",
        "reason.INACTIVE": "La carte a été désactivée par son établissement.",
        "reason.LOST": "La carte a été déclarée perdue.",
        "reason.STOLEN": "La carte a été déclarée volée.",
        "reason.SUSPENDED": "La carte est suspendue.",
        "reason.EXPIRED": "La carte a expiré.",
        "reason.RENEWED": "La carte a été remplacée par une nouvelle carte.",
        "reason.DESTROYED": "La carte a été détruite.",
        "reason.UNKNOWN": "Aucune carte portant ce numéro n'est enregistrée sur ce routeur.",
        "error.bad_number": "Cette adresse ne contient pas de numéro de carte valide.",
        "error.rate_limited": "Trop de vérifications depuis votre réseau. Réessayez dans "
        "{seconds} s.",
        "error.title": "Impossible de vérifier la carte",
        "answered_by": "Réponse du routeur d'origine de la carte, {router}.",
        "reason.UNKNOWN_ELSEWHERE": "Aucune carte portant ce numéro n'est enregistrée sur son "
        "routeur d'origine.",
    },
}

_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
}

LANGUAGES = tuple(CATALOGUES)


def negotiate(preferences: Iterable[tuple[str, float]]) -> str:
    """The catalogue for Accept-Language ``(tag, quality)`` pairs, best first; English if none.

    Matches on the primary subtag, so ``en-US`` picks English before ``fr;q=0.9`` picks French
    (werkzeug's ``best_match`` prefers any exact match, whatever its quality).
    """
    ranked = sorted(preferences, key=lambda pair: pair[1], reverse=True)
    for tag, quality in ranked:
        primary = tag.split("-")[0].strip().lower()
        if quality > 0 and primary in CATALOGUES:
            return primary
    return DEFAULT_LANGUAGE


class Messages:
    """The messages of one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in CATALOGUES else DEFAULT_LANGUAGE
        own, default = CATALOGUES[self.language], CATALOGUES[DEFAULT_LANGUAGE]
        # Every message of the language (English where it lacks one), escaped for HTML once:
        # a page reads them by key without a call and without escaping them again.
        self.html: dict[str, Markup] = {
            key: escape(own.get(key) or default[key]) for key in {**default, **own}
        }

    def __call__(self, key: str, **values: object) -> str:
        """The message ``key``, formatted with ``values``; English when this language lacks it."""
        text = CATALOGUES[self.language].get(key) or CATALOGUES[DEFAULT_LANGUAGE][key]
        return text.format(**values) if values else text

    def date(self, day: dt.date) -> str:
        """A date written out as people of this language write it (31 August 2030)."""
        return f"{day.day} {_MONTHS[self.language][day.month - 1]} {day.year}"
