"""Unexpected failures are masked and logged; expected ones are not logged as failures."""

from __future__ import annotations

import logging
from typing import Never

import pytest

from router.services import persons
from tests.conftest import Tenant, esi
from tests.graphql.conftest import GraphQL, only_error


def test_an_unexpected_failure_is_er_0500_without_internals(
    gql: GraphQL, uni: Tenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> Never:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(persons, "get_person", broken)
    with caplog.at_level(logging.ERROR):
        error = only_error(gql(f'{{ person(esi: "{esi("E1")}") {{ identifier }} }}', tenant=uni))
    assert error["extensions"]["code"] == "ER-0500"
    assert error["extensions"]["status"] == 500
    assert "hunter2" not in error["message"]
    assert any("hunter2" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_domain_errors_are_not_logged_as_failures(
    gql: GraphQL, uni: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        error = only_error(gql(f'{{ person(esi: "{esi("E2")}") {{ identifier }} }}', tenant=uni))
    assert error["extensions"]["code"] == "ER-0018"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
