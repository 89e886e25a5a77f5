"""SQLAlchemy models: the router's tables. Schema changes go through alembic migrations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    Date,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, Unmapped, mapped_column, relationship, unmapped_column

from router.db import Base, UTCDateTime, utcnow


def scoped_trigram_index(name: str, scope: str, column: str) -> Index:
    """A trigram index of ``column`` within each ``scope`` (pg_trgm and btree_gin); plain elsewhere.

    Serves ``scope = :x AND column ILIKE '%text%'`` from the scope's own entries.
    """
    return Index(
        name, scope, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}
    )


# Between the columns of a row's search text: a search holding it is matched column by column.
SEARCH_SEPARATOR = "\x1f"


def search_text_of(*columns: str) -> Computed:
    """The lower-cased ``columns`` joined by :data:`SEARCH_SEPARATOR`, computed by the database.

    A search too short for the trigram indexes (fewer than three letters) matches this one text
    with ``LIKE``, read from a B-tree within the organisation, instead of testing the columns
    one by one in every row (``router.services.pagination.search_condition``). The table has
    it, the ORM does not map it (``unmapped_column``): no insert brings it back (``RETURNING``)
    to an object nothing reads it from.
    """
    joined = f" || '{SEARCH_SEPARATOR}' || ".join(f"coalesce({column}, '')" for column in columns)
    # Stored on PostgreSQL; migration 0014 adds it computed on read on SQLite, which cannot add
    # a stored column to a table.
    return Computed(f"lower({joined})", persisted=True)


def version_column() -> Mapped[int]:
    """A row version for optimistic locking: every ORM update or delete checks and bumps it.

    Two transactions that read the same row and both write it cannot both succeed: the second's
    ``UPDATE ... WHERE version = <read>`` matches nothing and fails with ``StaleDataError``,
    which :func:`router.services.concurrency.serialised` turns into a re-run on fresh data.
    """
    return mapped_column(Integer, nullable=False, server_default="1")


class Organisation(Base):
    """An institution (identified by its PIC) or another organisation (by VAT or PIC)."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    identifier_type: Mapped[str] = mapped_column(String(16), default="PIC")
    kind: Mapped[str] = mapped_column(String(32), default="institution")
    name: Mapped[str] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    schac_home_organization: Mapped[str | None] = mapped_column(String(255))
    website: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped by every change of the organisation or its prefixes, which serialises them.
    version: Mapped[int] = version_column()

    prefixes: Mapped[list[OrganisationPrefix]] = relationship(
        back_populates="organisation",
        cascade="all, delete-orphan",
        order_by="OrganisationPrefix.prefix",
        lazy="selectin",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def prefix_codes(self) -> list[str]:
        """The organisation's ESCN server prefixes, in order."""
        return [p.prefix for p in self.prefixes]


class OrganisationPrefix(Base):
    """A 3-digit ESCN prefix an organisation issues card numbers under."""

    __tablename__ = "organisation_prefixes"
    __table_args__ = (UniqueConstraint("organisation_id", "prefix"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(3))

    organisation: Mapped[Organisation] = relationship(back_populates="prefixes")


class ApiKey(Base):
    """An organisation's API key; only a SHA-256 digest of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = version_column()

    organisation: Mapped[Organisation] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


class OAuthClient(Base):
    """An OAuth2 client (client credentials grant) acting for one organisation."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), default="")
    scopes: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class OAuthToken(Base):
    """A bearer token issued at ``/oauth/token``; only its SHA-256 digest is stored."""

    __tablename__ = "oauth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(512))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    client: Mapped[OAuthClient] = relationship(lazy="joined")


class Person(Base):
    """A person known by their ESI; what each organisation says of them is in the links."""

    __tablename__ = "persons"
    # No search reads the persons table: each organisation's searches read its links' and cards'
    # copies of the ESI (person_esi, holder_esi), with trigram indexes scoped to it.

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    esi: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Bumped by every change to the person's links or pictures, which serialises them.
    version: Mapped[int] = version_column()

    links: Mapped[list[PersonOrganisation]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}


class PersonOrganisation(Base):
    """A person's link to one organisation: academic level and contact details it holds."""

    __tablename__ = "person_organisations"
    __table_args__ = (
        UniqueConstraint("person_id", "organisation_id"),
        # An organisation's list of persons: sorted and paged on these alone (counted in
        # list_counts).
        Index("ix_person_organisations_org_person", "organisation_id", "person_id"),
        Index("ix_person_organisations_org_full_name", "organisation_id", "full_name", "person_id"),
        Index("ix_person_organisations_org_esi", "organisation_id", "person_esi", "person_id"),
        Index(
            "ix_person_organisations_org_created_at",
            "organisation_id",
            "person_created_at",
            "person_id",
        ),
        # Searches within the organisation's links.
        scoped_trigram_index(
            "ix_person_organisations_org_full_name_trgm", "organisation_id", "full_name"
        ),
        scoped_trigram_index("ix_person_organisations_org_email_trgm", "organisation_id", "email"),
        scoped_trigram_index(
            "ix_person_organisations_org_esi_trgm", "organisation_id", "person_esi"
        ),
        # Short searches: the matches' keys read from this index alone (migration 0014).
        Index(
            "ix_person_organisations_org_search_text",
            "organisation_id",
            "search_text",
            postgresql_include=["person_id"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    academic_level: Mapped[str | None] = mapped_column(String(16))
    full_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Copies of the person's ESI and creation time, so that the organisation's list sorted by
    # them reads one index of its own. Written by triggers only (migration 0012), on every
    # insert of a link and every change of the person.
    person_esi: Mapped[str | None] = mapped_column(String(255), server_default=FetchedValue())
    person_created_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, server_default=FetchedValue()
    )
    # The three searched columns in one text (migration 0014), for searches of one or two letters.
    search_text: Unmapped[str | None] = unmapped_column(
        Text, search_text_of("full_name", "email", "person_esi")
    )

    person: Mapped[Person] = relationship(back_populates="links")
    organisation: Mapped[Organisation] = relationship(lazy="joined")


class ListCount(Base):
    """A part of an organisation's number of cards or persons: the count is the sum of its parts.

    Kept by triggers (migration 0012) in the transaction of every write. On PostgreSQL each
    writing statement adds a part and folds in the parts no other transaction holds; on SQLite
    there is one part per organisation and list.
    """

    __tablename__ = "list_counts"
    __table_args__ = (Index("ix_list_counts_org_list", "organisation_id", "list", "n"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    list: Mapped[str] = mapped_column(String(16))
    n: Mapped[int] = mapped_column(BigInteger)


class ErasedPerson(Base):
    """The trace of an erasure: a digest of the ESI, so that reads answer 410 and nothing else."""

    __tablename__ = "erased_persons"

    esi_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Card(Base):
    """A student card, identified by its ESCN, issued by an organisation to a person."""

    __tablename__ = "cards"
    # An issuer's list of cards: one index per sort key, ending in the id (the tie-breaker), so
    # that every sort and the deepest page are scans of one index (the count is in list_counts).
    __table_args__ = (
        Index("ix_cards_issuer_id_id", "issuer_id", "id"),
        Index("ix_cards_issuer_card_number", "issuer_id", "card_number"),
        Index("ix_cards_issuer_issued_at", "issuer_id", "issued_at", "id"),
        Index("ix_cards_issuer_expires_at", "issuer_id", "expires_at", "id"),
        Index("ix_cards_issuer_display_name", "issuer_id", "display_name", "id"),
        Index("ix_cards_issuer_created_at", "issuer_id", "created_at", "id"),
        scoped_trigram_index("ix_cards_issuer_card_number_trgm", "issuer_id", "card_number"),
        scoped_trigram_index("ix_cards_issuer_display_name_trgm", "issuer_id", "display_name"),
        scoped_trigram_index("ix_cards_issuer_holder_esi_trgm", "issuer_id", "holder_esi"),
        # Short searches: the matches' ids read from this index alone (migration 0014).
        Index("ix_cards_issuer_search_text", "issuer_id", "search_text", postgresql_include=["id"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_number: Mapped[str] = mapped_column(String(36), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    processor_identifier: Mapped[str | None] = mapped_column(String(64))
    card_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[dt.date] = mapped_column(Date)
    expires_at: Mapped[dt.date] = mapped_column(Date)
    display_name: Mapped[str | None] = mapped_column(String(255))
    csn: Mapped[str | None] = mapped_column(String(20), unique=True)
    replaced_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()
    # A copy of the holder's ESI, so that a search of the issuer's cards reads one table with
    # indexes scoped to the issuer. Written by triggers only (migration 0013), on every insert
    # of a card, change of its holder and change of the person's ESI.
    holder_esi: Mapped[str | None] = mapped_column(String(255), server_default=FetchedValue())
    # The three searched columns in one text (migration 0014), for searches of one or two letters.
    search_text: Unmapped[str | None] = unmapped_column(
        Text, search_text_of("card_number", "display_name", "holder_esi")
    )

    person: Mapped[Person] = relationship(lazy="joined")
    issuer: Mapped[Organisation] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


class CardHistoryEntry(Base):
    """An append-only record of a card change: which card, when, what, by whom; no personal data.

    Keyed by the card number, not a foreign key, so that the record outlives the card's deletion.
    """

    __tablename__ = "card_history"
    __table_args__ = (Index("ix_card_history_card_number_at", "card_number", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_number: Mapped[str] = mapped_column(String(36))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    event: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    actor_credential: Mapped[str | None] = mapped_column(String(64))
    related_card_number: Mapped[str | None] = mapped_column(String(36))


class EscnReservation(Base):
    """A card number handed out by ``generate-escn``, kept so it is never handed out twice."""

    __tablename__ = "escn_reservations"

    card_number: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    reserved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PersonPicture(Base):
    """A person's 200x300 picture as one organisation holds it."""

    __tablename__ = "person_pictures"
    __table_args__ = (UniqueConstraint("person_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class VerificationRecord(Base):
    """One partner verification: who checked which card, when, and the verdict; nothing personal.

    Keyed by the card number (not a foreign key) so that the record outlives the card, with the
    issuer kept so that an institution can list the lookups of its own cards. Purged after the
    retention period.
    """

    __tablename__ = "verification_records"
    __table_args__ = (Index("ix_verification_records_issuer_id_at", "issuer_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    partner_credential: Mapped[str | None] = mapped_column(String(64))
    card_number: Mapped[str] = mapped_column(String(36), index=True)
    issuer_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    valid: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(16))
    # A partner of another router of the federation, as that router vouched for it (its id, and
    # the partner's identifier and name there); null for this router's own partners.
    partner_router: Mapped[str | None] = mapped_column(String(128))
    partner_identifier: Mapped[str | None] = mapped_column(String(64))
    partner_name: Mapped[str | None] = mapped_column(String(255))

    partner: Mapped[Organisation | None] = relationship(foreign_keys=[partner_id], lazy="joined")


class PeerRequestSeen(Base):
    """A signed request id of a peer router, kept while a replay of it could still be fresh.

    The primary key makes a replay fail on insert, whichever worker or host receives it.
    """

    __tablename__ = "federation_peer_requests"

    router_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class WebhookSubscription(Base):
    """An organisation's callback URL for card events.

    The signing secret is stored as is, not digested: the router needs it to sign every delivery.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[str] = mapped_column(String(255))
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def event_types(self) -> list[str]:
        """The event types this subscription receives."""
        return self.events.split()


class WebhookDelivery(Base):
    """The outbox: one event to deliver to one subscription, written with the change itself.

    The body is stored exactly as it is sent and signed, so retries send the same bytes.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    card_number: Mapped[str | None] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscription: Mapped[WebhookSubscription] = relationship(lazy="joined")


class CertificateChain(Base):
    """An institution's chip-data-zone certificate chain (its certificate, then its issuers).

    Published without authentication at ``/certs/files/{pic}/ca-chain.cert.pem``; verifiers pin
    their root and never trust a chain because the router served it. One chain per organisation.
    """

    __tablename__ = "certificate_chains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), unique=True
    )
    chain_pem: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(512))
    serial_number: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by: Mapped[str | None] = mapped_column(String(64))

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class RevocationList(Base):
    """A certificate revocation list (DER) of a certificate authority, keyed by its issuer name."""

    __tablename__ = "revocation_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_digest: Mapped[str] = mapped_column(String(64), unique=True)
    issuer: Mapped[str] = mapped_column(String(512))
    crl_der: Mapped[bytes] = mapped_column(LargeBinary)
    this_update: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# The federation slice keeps its tables beside its services; importing them here registers them
# on the same metadata, for the migrations and their test.
from router.federation import records as _federation_records  # noqa: E402, F401
