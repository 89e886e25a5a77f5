"""Throw-away PostgreSQL databases for the benchmarks, and a population loaded with ``COPY``.

A population is ``cards`` persons with one card each, spread evenly over ``institutions``
institutions (PIC 9000000NN), in the router's own schema (migrated to head): organisations,
persons, their links, cards and one history entry per card, as the router would write them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator

import psycopg
from sqlalchemy.engine import make_url

from router import migrate

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CHUNK = 20_000

# Varied names: common European first names, and family names built from syllables (4,800 of
# them), so that a name search matches as few or as many rows as it would in a real registry.
FIRST_NAMES = [
    "Marie",
    "Jean",
    "Anna",
    "Pierre",
    "Sophie",
    "Lucas",
    "Emma",
    "Louis",
    "Léa",
    "Hugo",
    "Chloé",
    "Paul",
    "Laura",
    "Thomas",
    "Julia",
    "Max",
    "Elena",
    "Marco",
    "Sara",
    "Luca",
    "Giulia",
    "Matteo",
    "Eva",
    "Jan",
    "Lena",
    "Jonas",
    "Mia",
    "Felix",
    "Nina",
    "Noah",
    "Clara",
    "Elias",
    "Ana",
    "Pablo",
    "Lucía",
    "Diego",
    "Inês",
    "João",
    "Maja",
    "Piotr",
    "Zofia",
    "Jakub",
    "Tereza",
    "Tomáš",
    "Eszter",
    "Bence",
    "Ioana",
    "Andrei",
    "Sofia",
    "Nikos",
    "Emilia",
    "Mikael",
    "Aino",
    "Lars",
    "Ingrid",
    "Sven",
    "Freya",
    "Oscar",
    "Alice",
    "Liam",
    "Saoirse",
    "Conor",
    "Daan",
    "Fleur",
]
_STEMS = [
    "Ber",
    "Mar",
    "Dub",
    "Lef",
    "Gar",
    "Mor",
    "Ros",
    "Fer",
    "Lam",
    "Hen",
    "Kow",
    "Sch",
    "Van",
    "Del",
    "Nov",
    "Pet",
    "Sil",
    "Cos",
    "Rom",
    "Bia",
    "Mül",
    "Wag",
    "Jan",
    "Nil",
    "Hal",
    "Bra",
    "Kel",
    "Ort",
    "Esp",
    "Vil",
]
_MIDDLES = ["", "a", "e", "i", "o", "ar", "el", "in", "on", "us"]
_ENDINGS = [
    "son",
    "ez",
    "ini",
    "ov",
    "ska",
    "mann",
    "ard",
    "et",
    "ier",
    "elli",
    "sen",
    "berg",
    "ová",
    "escu",
    "ides",
    "ant",
]
FAMILY_NAMES = [stem + middle + end for stem in _STEMS for middle in _MIDDLES for end in _ENDINGS]


def pic_of(institution: int) -> str:
    """The PIC of the benchmark's ``institution``-th institution."""
    return f"9{institution:08d}"


def esi_of(n: int) -> str:
    """The ESI of the benchmark's ``n``-th person."""
    return f"urn:schac:personalUniqueCode:int:esi:FR:{n:09d}"


def name_of(n: int, names: str = "student") -> str:
    """The ``n``-th person's name: ``Student <n>``, or a varied first and family name."""
    if names == "student":
        return f"Student {n}"
    # Knuth's multiplicative hash, its high bits: neighbouring ids do not share names.
    mixed = (n * 2654435761) % 2**32 >> 8
    first = FIRST_NAMES[mixed % len(FIRST_NAMES)]
    return f"{first} {FAMILY_NAMES[(mixed // len(FIRST_NAMES)) % len(FAMILY_NAMES)]}"


def escn_of(n: int, pic: str) -> str:
    """A well-formed ESCN (UUID v1, node = prefix 001 + PIC) for the ``n``-th card."""
    node = int("001" + pic, 16)
    return str(uuid.UUID(fields=(n & 0xFFFFFFFF, (n >> 32) & 0xFFFF, 0x1000, 0x80, 0x01, node)))


@contextlib.contextmanager
def throwaway_database(admin_url: str = ADMIN_URL) -> Iterator[str]:
    """A new, migrated database; its SQLAlchemy URL. Dropped on leaving."""
    name = f"escr_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    sa_url = url.render_as_string(hide_password=False)
    try:
        migrate.upgrade(sa_url)
        yield sa_url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def libpq_url(sa_url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL."""
    return make_url(sa_url).set(drivername="postgresql").render_as_string(hide_password=False)


def add_institutions(conn: psycopg.Connection, institutions: int) -> list[int]:
    """Create the institutions (with prefix 001); their ids in order."""
    ids = []
    for i in range(institutions):
        row = conn.execute(
            "INSERT INTO organisations (identifier, identifier_type, kind, name, country,"
            " created_at) VALUES (%s, 'PIC', 'institution', %s, 'FR', now()) RETURNING id",
            (pic_of(i), f"Bench University {i}"),
        ).fetchone()
        assert row is not None
        conn.execute(
            "INSERT INTO organisation_prefixes (organisation_id, prefix) VALUES (%s, '001')",
            (row[0],),
        )
        ids.append(row[0])
    return ids


def _copy(conn: psycopg.Connection, statement: str, lines: Iterator[str]) -> None:
    with conn.cursor() as cur, cur.copy(statement) as copy:
        buffer: list[str] = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= CHUNK:
                copy.write("".join(buffer))
                buffer.clear()
        copy.write("".join(buffer))


def copy_population(
    conn: psycopg.Connection,
    org_ids: list[int],
    cards: int,
    *,
    first: int = 0,
    names: str = "student",
) -> None:
    """COPY ``cards`` persons (ids from ``first`` + 1), their links, cards and history entries.

    ``names`` is ``student`` (``Student <n>``: every name shares the trigrams of ``Student``) or
    ``varied`` (see :func:`name_of`).
    """
    now = dt.datetime.now(dt.UTC).isoformat()
    pics = {org: pic_of(i) for i, org in enumerate(org_ids)}

    def org(n: int) -> int:
        return org_ids[n % len(org_ids)]

    numbers = range(first + 1, first + cards + 1)
    _copy(
        conn,
        "COPY persons (id, esi, created_at, updated_at, version) FROM STDIN",
        (f"{n}\t{esi_of(n)}\t{now}\t{now}\t1\n" for n in numbers),
    )
    _copy(
        conn,
        "COPY person_organisations (person_id, organisation_id, academic_level, full_name,"
        " email, phone, created_at, updated_at) FROM STDIN",
        (
            f"{n}\t{org(n)}\tMASTER\t{name_of(n, names)}\ts{n}@u.example\t\\N\t{now}\t{now}\n"
            for n in numbers
        ),
    )
    _copy(
        conn,
        "COPY cards (id, card_number, person_id, issuer_id, card_type, state, issued_at,"
        " expires_at, display_name, created_at, updated_at, version) FROM STDIN",
        (
            f"{n}\t{escn_of(n, pics[org(n)])}\t{n}\t{org(n)}\tSMART_NO_CDZ\tACTIVE\t2026-09-01"
            f"\t2030-08-31\t{name_of(n, names)}\t{now}\t{now}\t1\n"
            for n in numbers
        ),
    )
    _copy(
        conn,
        "COPY card_history (card_number, at, event, from_state, to_state,"
        " actor_organisation_id, actor_credential) FROM STDIN",
        (
            f"{escn_of(n, pics[org(n)])}\t{now}\tregistered\t\\N\tACTIVE\t{org(n)}\tbench\n"
            for n in numbers
        ),
    )
    for table in ("persons", "person_organisations", "cards", "card_history"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" (SELECT coalesce(max(id), 1) FROM {table}))"
        )
