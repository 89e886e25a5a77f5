"""Serialising read-modify-writes: optimistic locking on row versions, and a re-run on conflict.

Persons, cards and API keys carry a version column (:func:`router.models.version_column`). A
service that reads such a row and writes it back is decorated with :func:`serialised`: when
another transaction changed the row in between, the write matches no row, the transaction is
rolled back and the whole operation runs again on fresh data. Of N concurrent transitions from
one state, exactly one therefore wins, and the others get the answer a sequential caller would
(a 422 for a transition the new state refuses, a 404 for a key revoked meanwhile...).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from router.db import utcnow
from router.domain.errors import ConcurrentChange

P = ParamSpec("P")
R = TypeVar("R")

# Each re-run follows a committed change of the same row; past this, the row is too contended.
ATTEMPTS = 10


def serialised(
    operation: Callable[Concatenate[Session, P], R],
) -> Callable[Concatenate[Session, P], R]:
    """Re-run ``operation(session, ...)`` from the start when a row it wrote changed meanwhile."""

    @functools.wraps(operation)
    def run(session: Session, *args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(ATTEMPTS):
            try:
                return operation(session, *args, **kwargs)
            except StaleDataError:
                session.rollback()
        raise ConcurrentChange(
            "The record was changed by other requests at the same time, again and again; "
            "read it again and retry."
        )

    return run


def touch(row: object) -> None:
    """Mark a versioned row as written, so that its version is checked and bumped at commit.

    Used on the person when only its links or pictures change: the person's version then
    serialises every change of what organisations hold of that person.
    """
    row.updated_at = utcnow()  # type: ignore[attr-defined]
