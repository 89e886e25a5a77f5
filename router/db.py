"""Database engine and sessions: one engine per application, one session per request."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event, exc, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from router.settings import Settings

log = logging.getLogger(__name__)

# Named constraints: alembic's batch mode on SQLite can only drop or alter what has a name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Refuse naive datetimes: a timestamp without a zone is a bug waiting to happen."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        """Attach UTC where the database returned a naive value."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# What the QR-scan path's services run their statements on: a request's plain Core connection
# (router.request_context.lookup_connection) or, elsewhere, an ORM session. Both execute Core
# statements and commit.
Executor = Session | Connection


def engine_of(executor: Executor) -> Engine:
    """The engine an executor's statements go to."""
    if isinstance(executor, Connection):
        return executor.engine
    bind = executor.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def connection_of(executor: Executor) -> Connection:
    """The Core connection an executor's statements run on (a session's joins its transaction)."""
    return executor if isinstance(executor, Connection) else executor.connection()


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def make_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
) -> Engine:
    """Create the engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout.

    The pool sizes apply to PostgreSQL: each process holds up to ``pool_size + max_overflow``
    connections, so a deployment needs (gunicorn processes x that) below ``max_connections``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            # WAL lets gunicorn workers read while one writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            # Deleted rows are overwritten, not left in free pages: an erasure erases.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )
    ping_idle_connections(engine)
    return engine


# A pooled connection idle for longer than this is checked (one ``SELECT 1``) before it is lent.
IDLE_BEFORE_PING = 1.0


def ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection before use only when it has been idle for a while.

    SQLAlchemy's ``pool_pre_ping`` checks every checkout: one more round trip per request, on
    a path whose whole work is one round trip. A connection used within the last second is
    alive (the database would have to restart within that second); one idle for longer is
    pinged, and replaced when dead, so a database restarted while the router was quiet costs
    no failed request. A restart under load fails the requests in flight and, at worst, one
    request per connection used in that second (503 ``ER-0102``, retried); SQLAlchemy then
    invalidates the whole pool, so the other stale connections are replaced on checkout. The
    QR-scan connection each serving thread keeps (:meth:`Database.pinned_lookup_connection`)
    is held to the same rule when its thread next uses it.
    """

    @event.listens_for(engine.pool, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
            return
        if not _answers(engine, dbapi_connection):
            # The pool then discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError("idle connection found dead")


def _answers(engine: Engine, dbapi_connection: Any) -> bool:
    """Whether the database answers a ping (``SELECT 1``) on ``dbapi_connection``."""
    try:
        engine.dialect.do_ping(dbapi_connection)
    except engine.dialect.loaded_dbapi.Error:
        return False
    return True


def flush_erased_pages(session: Session) -> None:
    """After an erasure on SQLite, move the WAL into the database file and empty it.

    Until a checkpoint the write-ahead log still holds the pages as they were before the erasure
    (the ESI, names, e-mail addresses); with ``secure_delete`` the checkpointed file keeps none.
    PostgreSQL's own WAL and dead tuples are its operator's business (VACUUM, WAL retention).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        session.commit()


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot serve now (down, unreachable, busy, restarting).

    These are the database's failures, not the request's: they answer 503 and are retried.
    """
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        exc.OperationalError | exc.InterfaceError | exc.DisconnectionError | exc.TimeoutError,
    )


ERASURE_KEY = "erasure_key"


@dataclass
class _Pinned:
    """A thread's kept QR-scan connection and since when it has been idle."""

    connection: Connection
    idle_since: float


class Database:
    """Holds the engine and the session factory of one application.

    ``erasure_key`` (derived from the server secret) rides on every session's ``info``: the
    services that keep or look up the digest of an erased ESI take it from there.
    """

    def __init__(
        self, url: str, *, echo: bool = False, erasure_key: bytes | None = None, **pool: Any
    ) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, **pool)
        info = {ERASURE_KEY: erasure_key} if erasure_key is not None else {}
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)
        # The QR-scan path's Core connections run in autocommit on PostgreSQL: their writes are
        # each one statement (a verification record, a key's last use), so a lookup is one round
        # trip, not BEGIN, SELECT and ROLLBACK. SQLite's driver opens no transaction for a read.
        self._lookup_options = (
            {} if self.engine.dialect.name == "sqlite" else {"isolation_level": "AUTOCOMMIT"}
        )

        # Each serving thread keeps its QR-scan connection from one request to the next.
        self._pinned = threading.local()
        self._all_pinned: set[Connection] = set()
        self._pinned_lock = threading.Lock()
        self._ping_idle = self.engine.dialect.name != "sqlite"
        event.listen(self.engine, "engine_disposed", self._drop_all_pinned)

    def lookup_connection(self) -> Connection:
        """A Core connection for the QR-scan path (autocommit on PostgreSQL); the caller closes it.

        The isolation level is set on the connection, not through an option engine: an option
        engine registers an engine-level listener, and any listener makes SQLAlchemy dispatch
        its execute, begin and rollback events on every statement.
        """
        connection = self.engine.connect()
        if self._lookup_options:
            connection.execution_options(**self._lookup_options)
        return connection

    def pinned_lookup_connection(self) -> Connection:
        """The calling thread's QR-scan connection, kept checked out from request to request.

        Checking a connection out of the pool and back in cost every lookup about 20 us of CPU
        on SQLite and 45 on PostgreSQL (the pool's events and reset, the autocommit switch set
        and reset), a tenth of the anonymous status. The thread keeps it instead, used by one
        request at a time, and :meth:`release_pinned` ends each request's use. It stays what a
        checkout lends: one idle for more than :data:`IDLE_BEFORE_PING` is pinged first on
        PostgreSQL, and one found dead, invalidated (a statement's connection error) or closed
        is replaced by a checkout. A thread that needs a pooled connection gives it back first
        (:meth:`unpin`): a thread holds one connection at a time, as before.
        """
        pinned: _Pinned | None = getattr(self._pinned, "value", None)
        if pinned is not None:
            connection = pinned.connection
            usable = not (connection.closed or connection.invalidated)
            if (
                usable
                and self._ping_idle
                and time.monotonic() - pinned.idle_since >= IDLE_BEFORE_PING
                and not _answers(self.engine, connection.connection.dbapi_connection)
            ):
                connection.invalidate()  # dead: not back into the pool
                usable = False
            if usable:
                return connection
            self.unpin()
        connection = self.lookup_connection()
        self._pinned.value = _Pinned(connection, time.monotonic())
        with self._pinned_lock:
            self._all_pinned.add(connection)
        return connection

    def release_pinned(self, connection: Connection) -> None:
        """End a request's use of the thread's QR-scan connection; what it left open is rolled back.

        A connection the request found broken, or whose rollback fails, is discarded, not lent
        to the next request; as the pool does with a failed reset, the failure is logged, not
        raised (the request has been answered).
        """
        pinned: _Pinned | None = getattr(self._pinned, "value", None)
        if pinned is None or pinned.connection is not connection:
            connection.close()
            return
        if not (connection.closed or connection.invalidated):
            try:
                if connection.in_transaction():
                    connection.rollback()
            except exc.DBAPIError as error:
                log.warning(
                    "kept lookup connection discarded: rollback failed (%s)", type(error).__name__
                )
                connection.invalidate()
            else:
                pinned.idle_since = time.monotonic()
                return
        self.unpin()

    def unpin(self) -> None:
        """Give the calling thread's QR-scan connection back to the pool, if it keeps one."""
        pinned: _Pinned | None = getattr(self._pinned, "value", None)
        if pinned is None:
            return
        self._pinned.value = None
        with self._pinned_lock:
            self._all_pinned.discard(pinned.connection)
        pinned.connection.close()

    def _drop_all_pinned(self, _engine: Engine) -> None:
        """On ``engine.dispose()``: close every thread's kept connection (none may be in use).

        Invalidated, not returned: the pool they came from is the one just disposed of.
        """
        with self._pinned_lock:
            connections, self._all_pinned = self._all_pinned, set()
        for connection in connections:
            if not connection.closed:
                connection.invalidate()
                connection.close()

    def session_on(self, connection: Connection) -> Session:
        """An ORM session on ``connection`` (the request's lookup connection), owning its work.

        The session commits and rolls back the connection's transaction as its own
        (``control_fully``), so a service's ``session.commit()`` commits whatever ran on it.
        """
        return self.sessions(bind=connection, join_transaction_mode="control_fully")

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database of ``settings``, with its pool sizes and the erasure key."""
        return cls(
            settings.database_url,
            echo=settings.sql_echo,
            erasure_key=settings.erasure_key,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session outside a request (CLI, jobs): rolled back unless the caller committed."""
        session = self.sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()
