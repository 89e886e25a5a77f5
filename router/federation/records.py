"""The federation's tables: institutions' public keys, delegations and their history.

Nothing here holds a secret: keys are public JWKs, and a delegation keeps the signed messages as
they were received (their secrets are JWEs only the parties can open).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from router.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from router.models import Organisation


class InstitutionKey(Base):
    """An institution's public signing or encryption key (a JWK), active until revoked.

    ``revoked_at`` may lie in the future: a key replaced by a rotation stays valid until then.
    """

    __tablename__ = "institution_keys"
    __table_args__ = (UniqueConstraint("organisation_id", "kid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    kid: Mapped[str] = mapped_column(String(128))
    use: Mapped[str] = mapped_column(String(3))
    alg: Mapped[str] = mapped_column(String(16))
    jwk: Mapped[str] = mapped_column(Text)
    thumbprint: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(String(255))
    replaced_by: Mapped[str | None] = mapped_column(String(128))

    organisation: Mapped[Organisation] = relationship()

    def active_at(self, moment: dt.datetime) -> bool:
        """Whether the key may sign or receive at ``moment``."""
        return self.revoked_at is None or self.revoked_at > moment


class Delegation(Base):
    """A host's request to add an application to a card of another (home) institution.

    Keyed by the request's own id (its ``jti``), which is what makes a replay impossible. The
    request and the decision are kept exactly as received, so anyone holding them can check the
    signatures and the binding again.
    """

    __tablename__ = "delegations"
    __table_args__ = (
        Index("ix_delegations_home_id_state", "home_id", "state"),
        Index("ix_delegations_host_id_state", "host_id", "state"),
        Index("ix_delegations_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # One of the two is None when that party is an institution of another router (peer_router).
    host_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    home_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    # The PICs too (identifiers never change): every view of a delegation names both parties,
    # and reading them here spares loading two organisations each time.
    host_pic: Mapped[str] = mapped_column(String(64))
    home_pic: Mapped[str] = mapped_column(String(64))
    card_number: Mapped[str] = mapped_column(String(36), index=True)
    uid: Mapped[str] = mapped_column(String(20))
    aid: Mapped[str] = mapped_column(String(6))
    application: Mapped[str] = mapped_column(Text)
    request_jws: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(43))
    request_kid: Mapped[str] = mapped_column(String(128))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision: Mapped[str | None] = mapped_column(String(8))
    decision_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    decision_jws: Mapped[str | None] = mapped_column(Text)
    decision_kid: Mapped[str | None] = mapped_column(String(128))
    outcome_reason: Mapped[str | None] = mapped_column(String(500))
    # A forwarded delegation: the router of the other party (on the host's router, the home's;
    # on the home's router, the host's), which alone may read or move it from afar.
    peer_router: Mapped[str | None] = mapped_column(String(64))
    # On the home's router: the host's public keys (a JWKS) as its own router forwarded them.
    host_keys: Mapped[str | None] = mapped_column(Text)

    host: Mapped[Organisation] = relationship(foreign_keys=[host_id])
    home: Mapped[Organisation] = relationship(foreign_keys=[home_id])
    events: Mapped[list[DelegationEvent]] = relationship(
        back_populates="delegation",
        cascade="all, delete-orphan",
        order_by="DelegationEvent.id",
        lazy="selectin",
    )


class DelegationEvent(Base):
    """One change of a delegation's state: when, to what, by which party, and why.

    The party is ``host``, ``home`` or ``router`` (its clock expires requests): only the two
    institutions of a delegation ever move it.
    """

    __tablename__ = "delegation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delegation_id: Mapped[str] = mapped_column(
        ForeignKey("delegations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16))
    party: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(500))

    delegation: Mapped[Delegation] = relationship(back_populates="events")
