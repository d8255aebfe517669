"""Where OAuth tokens live: one SQLAlchemy database, shared by every worker and the
triggerer (every other store in :mod:`xero_provider.state` keeps its tables in it, through
the public :func:`engine_for`, :meth:`TokenStore.ensure_tables` and
:meth:`TokenStore.transaction`).

Airflow 3 tasks cannot write Connections, and Xero rotates the refresh token on every use,
so the newest token set must live somewhere all processes see and can lock: a SQLite file
under ``AIRFLOW_HOME`` by default (``BEGIN IMMEDIATE`` locks the file), PostgreSQL in
production (``SELECT ... FOR UPDATE`` locks the row). Token sets are encrypted with
Airflow's Fernet key; a raw row holds only ciphertext and timestamps.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url

from xero_provider.exceptions import XeroConfigurationError

if TYPE_CHECKING:
    from xero_provider.config import XeroConnectionConfig

LOCK_WAIT_SECONDS = 300  # longer than a refresh with all its retries can take
_TABLE_LOCK_ID = 0x58_45_52_4F_54_4B  # "XEROTK": serialises CREATE TABLE on PostgreSQL

metadata = sa.MetaData()
tokens_table = sa.Table(
    "xero_oauth_tokens",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("ciphertext", sa.Text, nullable=True),  # NULL: a placeholder row to lock
    sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("refresh_issued_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=0),
)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _parse_time(value: str | None) -> datetime | None:
    return _utc(datetime.fromisoformat(value)) if value else None


@dataclass(frozen=True)
class TokenSet:
    """One token response as stored; ``repr`` shows expiry and scope, never a token."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)  # None for client_credentials
    expires_at: datetime
    scope: str = ""
    token_type: str = "Bearer"
    id_token: str | None = field(default=None, repr=False)
    issued_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Set when Xero refused the refresh token for good (invalid_grant): every worker then
    # fails at once with ``dead_reason`` instead of each spending a token call on it.
    # ``dead_token`` is a digest of the refused token, so a new token clears the mark.
    dead_reason: str | None = None
    dead_token: str | None = field(default=None, repr=False)

    def marked_dead(self, reason: str, token_digest: str) -> TokenSet:
        """This set, recorded as refused for good (the access token is kept until it expires)."""
        return replace(self, dead_reason=reason, dead_token=token_digest)

    def expires_within(self, seconds: float) -> bool:
        """True when the access token is expired or will be within ``seconds``."""
        return datetime.now(UTC) + timedelta(seconds=seconds) >= self.expires_at

    def secrets(self) -> list[str]:
        """The values the secrets masker must hide."""
        return [s for s in (self.access_token, self.refresh_token, self.id_token) if s]

    @classmethod
    def from_response(
        cls, body: dict[str, Any], now: datetime, previous: TokenSet | None = None
    ) -> TokenSet:
        """Build from a token endpoint answer received at ``now``.

        A response without a refresh token keeps the previous one (RFC 6749 6 lets the
        server skip rotation); client_credentials never has one.
        """
        refresh = body.get("refresh_token") or (previous.refresh_token if previous else None)
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=refresh,
            expires_at=now + timedelta(seconds=float(body.get("expires_in") or 1800)),
            scope=str(body.get("scope") or ""),
            token_type=str(body.get("token_type") or "Bearer"),
            id_token=body.get("id_token"),
            issued_at=now,
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at.isoformat(),
                "scope": self.scope,
                "token_type": self.token_type,
                "id_token": self.id_token,
                "issued_at": self.issued_at.isoformat(),
                "dead_reason": self.dead_reason,
                "dead_token": self.dead_token,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        data = json.loads(text)
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            expires_at=_parse_time(data["expires_at"]),
            scope=data.get("scope") or "",
            token_type=data.get("token_type") or "Bearer",
            id_token=data.get("id_token"),
            issued_at=_parse_time(data.get("issued_at")) or datetime.now(UTC),
            dead_reason=data.get("dead_reason"),
            dead_token=data.get("dead_token"),
        )


@dataclass
class TokenSlot:
    """The locked row inside :meth:`TokenStore.locked`: read ``current``, then ``save``."""

    key: str
    current: TokenSet | None
    _pending: TokenSet | None = field(default=None, repr=False)
    _delete: bool = False

    def save(self, token_set: TokenSet) -> None:
        """Write ``token_set``; it is committed when the ``locked`` block ends."""
        self._pending, self._delete = token_set, False
        self.current = token_set

    def delete(self) -> None:
        """Remove the row when the block ends (after a revocation)."""
        self._pending, self._delete = None, True
        self.current = None


_engines: dict[str, Engine] = {}
_created: dict[str, set[int]] = {}  # per URL: which modules' tables exist
_engines_pid = os.getpid()
_engines_lock = threading.Lock()


def default_url() -> str:
    """``sqlite:///$AIRFLOW_HOME/xero_tokens.db`` (``~/airflow`` when AIRFLOW_HOME is unset)."""
    home = os.path.expanduser(os.environ.get("AIRFLOW_HOME") or "~/airflow")
    return f"sqlite:///{os.path.join(os.path.abspath(home), 'xero_tokens.db')}"


def normalise_url(url: str) -> str:
    """Airflow's postgres URIs name no driver; SQLAlchemy needs one."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"timeout": LOCK_WAIT_SECONDS, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so the "begin" hook decides the BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers go on while one process holds the write lock for a refresh; it
        # is an optimisation, so a busy file that refuses the switch is no error.
        with contextlib.suppress(sqlite3.OperationalError):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the file's write lock up front: no deadlock-prone lock upgrades.
        immediate = conn.get_execution_options().get("xero_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def engine_for(url: str) -> Engine:
    """One engine per URL per process; a forked child never reuses its parent's sockets."""
    global _engines_pid
    with _engines_lock:
        if _engines_pid != os.getpid():
            for inherited in _engines.values():
                inherited.dispose(close=False)
            _engines.clear()
            _created.clear()
            _engines_pid = os.getpid()
        engine = _engines.get(url)
        if engine is not None:
            return engine
        try:
            backend = make_url(url).get_backend_name()
        except sa.exc.ArgumentError:
            raise XeroConfigurationError(
                "the connection's 'token_store' is neither a SQLAlchemy URL nor an Airflow "
                "connection id"
            ) from None
        if backend == "sqlite":
            engine = _sqlite_engine(url)
        elif backend == "postgresql":
            engine = sa.create_engine(
                url, pool_pre_ping=True, pool_recycle=1800, pool_size=2, max_overflow=4
            )
        else:
            raise XeroConfigurationError(
                f"token store {make_url(url).render_as_string(hide_password=True)}: only "
                "SQLite and PostgreSQL are supported (they can lock a token row)"
            )
        try:
            create_tables(engine)
        except Exception:
            engine.dispose()
            raise
        _engines[url] = engine
        return engine


def create_tables(engine: Engine, tables: sa.MetaData = metadata) -> None:
    """CREATE TABLE under a lock, so 20 processes starting together do not collide."""
    with engine.connect() as conn:
        conn.execution_options(xero_write=True)
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_TABLE_LOCK_ID)))
            tables.create_all(conn, checkfirst=True)


class TokenStore:
    """Encrypted token sets in one SQLAlchemy database (other shared state, the write
    ledger and the rate budget, keep their own tables on the same engine)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = normalise_url(url or default_url())
        self._engine = engine_for(self.url)
        self._postgres = self._engine.dialect.name == "postgresql"

    @classmethod
    def for_config(cls, config: XeroConnectionConfig) -> TokenStore:
        """The store a connection names: a SQLAlchemy URL, or an Airflow connection id."""
        target = config.token_store
        if target and "://" not in target:
            from airflow.sdk import BaseHook

            target = BaseHook.get_connection(target).get_uri()
        return cls(target)

    def __repr__(self) -> str:
        return f"TokenStore({make_url(self.url).render_as_string(hide_password=True)!r})"

    # --------------------------------------------------------------- encryption

    @staticmethod
    def _fernet() -> Any:
        from airflow.sdk.crypto import get_fernet

        fernet = get_fernet()
        if not getattr(fernet, "is_encrypted", False):
            raise XeroConfigurationError(
                "Airflow has no Fernet key, so Xero tokens cannot be stored encrypted; set "
                "[core] fernet_key (AIRFLOW__CORE__FERNET_KEY) the same on every Airflow "
                "component"
            )
        return fernet

    def _encrypt(self, token_set: TokenSet) -> str:
        return self._fernet().encrypt(token_set.to_json().encode("utf-8")).decode("ascii")

    def _decrypt(self, key: str, ciphertext: str | None) -> TokenSet | None:
        if not ciphertext:
            return None
        from cryptography.fernet import InvalidToken

        try:
            plain = self._fernet().decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            raise XeroConfigurationError(
                f"the stored Xero tokens for '{key}' cannot be decrypted: Airflow's Fernet key "
                "changed; restore the old key (keep it in [core] fernet_key as "
                "'new,old') or authorise the connection again"
            ) from None
        return TokenSet.from_json(plain.decode("utf-8"))

    # --------------------------------------------------------------- transactions

    @property
    def engine(self) -> Engine:
        """The shared engine (other modules create their tables on it with ``ensure_tables``)."""
        return self._engine

    @property
    def is_postgres(self) -> bool:
        return self._postgres

    def ensure_tables(self, other: sa.MetaData) -> None:
        """Create another module's tables once per engine, under the same lock as ours."""
        with _engines_lock:
            done = _created.setdefault(self.url, set())
            if id(other) in done:
                return
        create_tables(self._engine, other)
        with _engines_lock:
            _created.setdefault(self.url, set()).add(id(other))

    def transaction(self, write: bool) -> contextlib.AbstractContextManager[Connection]:
        """A transaction; ``write`` takes the write lock up front (SQLite) and bounds lock
        waits (PostgreSQL)."""
        return self._transaction(write)

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT (with ``on_conflict_do_*``)."""
        return self._insert(table)

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(xero_write=write)
            with conn.begin():
                if write and self._postgres:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'")
                yield conn

    def _insert(self, table: sa.Table) -> Any:
        if self._postgres:
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _row_values(self, token_set: TokenSet) -> dict[str, Any]:
        return {
            "ciphertext": self._encrypt(token_set),
            "access_expires_at": token_set.expires_at,
            "refresh_issued_at": token_set.issued_at if token_set.refresh_token else None,
            "updated_at": datetime.now(UTC),
        }

    # --------------------------------------------------------------- tokens

    def load(self, key: str) -> TokenSet | None:
        """The stored token set, or None (no row, or only a lock placeholder)."""
        with self._transaction(write=False) as conn:
            row = conn.execute(
                sa.select(tokens_table.c.ciphertext).where(tokens_table.c.key == key)
            ).first()
        return self._decrypt(key, row.ciphertext) if row else None

    def save(self, key: str, token_set: TokenSet) -> None:
        """Insert or replace the token set (outside any lock: for tests and tooling)."""
        values = self._row_values(token_set)
        statement = self._insert(tokens_table).values(key=key, version=1, **values)
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={**values, "version": tokens_table.c.version + 1}
        )
        with self._transaction(write=True) as conn:
            conn.execute(statement)

    def delete(self, key: str) -> None:
        with self._transaction(write=True) as conn:
            conn.execute(sa.delete(tokens_table).where(tokens_table.c.key == key))

    def version(self, key: str) -> int | None:
        """How many times the row was written (None without a row): tests and status."""
        with self._transaction(write=False) as conn:
            return conn.execute(
                sa.select(tokens_table.c.version).where(tokens_table.c.key == key)
            ).scalar()

    @contextmanager
    def locked(self, key: str) -> Iterator[TokenSlot]:
        """Hold the key's lock for the whole block; commit what the slot saved at its end.

        PostgreSQL locks the row (a placeholder row is inserted first so there is one to
        lock); SQLite takes the database write lock with ``BEGIN IMMEDIATE``. An exception
        in the block rolls back, so a half-finished refresh never reaches the store.
        """
        placeholder = self._insert(tokens_table).values(
            key=key, ciphertext=None, version=0, updated_at=datetime.now(UTC)
        )
        with self._transaction(write=True) as conn:
            conn.execute(placeholder.on_conflict_do_nothing(index_elements=["key"]))
            ciphertext = conn.execute(
                sa.select(tokens_table.c.ciphertext)
                .where(tokens_table.c.key == key)
                .with_for_update()
            ).scalar_one()
            slot = TokenSlot(key=key, current=self._decrypt(key, ciphertext))
            yield slot
            where = tokens_table.c.key == key
            if slot._delete:
                conn.execute(sa.delete(tokens_table).where(where))
            elif slot._pending is not None:
                conn.execute(
                    sa.update(tokens_table)
                    .where(where)
                    .values(**self._row_values(slot._pending), version=tokens_table.c.version + 1)
                )
