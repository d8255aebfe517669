"""The connect app's own small tables: sign-ins in progress and webhook sequences seen.

They live in the token store's database (a SQLite file under ``AIRFLOW_HOME`` by default,
``[xero_connect] state_store`` or ``XERO_TOKEN_STORE`` to choose), never in Airflow's
metadata database, so that several api-server workers see the same sign-ins and a
webhook Xero delivers twice is recognised whichever worker receives it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xero_provider.exceptions import XeroConfigurationError
from xero_provider.state.token_store import default_url, normalise_url

PENDING_MINUTES = 15  # a sign-in must come back within this (Xero's codes live 5 minutes)

metadata = sa.MetaData()
pending_table = sa.Table(
    "xero_connect_pending",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("user_name", sa.String(255), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
seen_table = sa.Table(
    "xero_webhook_seen",
    metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("first_seq", sa.BigInteger, primary_key=True),
    sa.Column("last_seq", sa.BigInteger, primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def engine_for(url: str | None) -> Engine:
    """One engine per URL per process, tables created on first use."""
    url = normalise_url(url or default_url())
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = sa.create_engine(url, connect_args={"timeout": 30})
            else:
                engine = sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)
            metadata.create_all(engine, checkfirst=True)
            _engines[url] = engine
        return engine


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _fernet() -> Any:
    from airflow.sdk.crypto import get_fernet

    fernet = get_fernet()
    if not getattr(fernet, "is_encrypted", False):
        raise XeroConfigurationError(
            "Airflow has no Fernet key; set [core] fernet_key (AIRFLOW__CORE__FERNET_KEY)"
        )
    return fernet


def _insert(engine: Engine, table: sa.Table) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


class PendingSignIns:
    """Sign-ins sent to Xero and not back yet, keyed by a hash of their ``state``.

    The payload (PKCE verifier, client secret) is encrypted with Airflow's Fernet key; a
    sign-in is taken out exactly once, so a replayed callback finds nothing.
    """

    def __init__(self, url: str | None = None) -> None:
        self.engine = engine_for(url)

    def put(self, state: str, payload: dict[str, Any], user_name: str | None) -> None:
        now = datetime.now(UTC)
        ciphertext = _fernet().encrypt(json.dumps(payload).encode()).decode("ascii")
        with self.engine.begin() as conn:
            conn.execute(sa.delete(pending_table).where(pending_table.c.expires_at < now))
            conn.execute(
                sa.insert(pending_table).values(
                    state_hash=_hash(state),
                    ciphertext=ciphertext,
                    user_name=user_name,
                    expires_at=now + timedelta(minutes=PENDING_MINUTES),
                )
            )

    def take(self, state: str) -> tuple[dict[str, Any], str | None] | None:
        """The sign-in started with ``state`` and its user, removed; None if unknown or old."""
        where = pending_table.c.state_hash == _hash(state)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(pending_table).where(where)).first()
            if row is None or not conn.execute(sa.delete(pending_table).where(where)).rowcount:
                return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires < datetime.now(UTC):
            return None
        payload = json.loads(_fernet().decrypt(row.ciphertext.encode("ascii")))
        return payload, row.user_name


class SeenSequences:
    """Webhook sequence numbers already turned into asset events, per webhook key."""

    def __init__(self, url: str | None = None) -> None:
        self.engine = engine_for(url)

    def claim(self, key: str, ranges: list[tuple[int, int]]) -> set[tuple[int, int]]:
        """Record ``ranges``; return those not recorded before (atomic across processes)."""
        if not ranges:
            return set()
        key_id = _hash(key)[:16]
        now = datetime.now(UTC)
        rows = [
            {"key_id": key_id, "first_seq": a, "last_seq": b, "received_at": now}
            for a, b in dict.fromkeys(ranges)
        ]
        statement = (
            _insert(self.engine, seen_table)
            .on_conflict_do_nothing(index_elements=["key_id", "first_seq", "last_seq"])
            .returning(seen_table.c.first_seq, seen_table.c.last_seq)
        )
        with self.engine.begin() as conn:
            result = conn.execute(statement, rows)
            return {(r.first_seq, r.last_seq) for r in result}

    def release(self, key: str, ranges: set[tuple[int, int]]) -> None:
        """Forget ``ranges`` again (their asset events could not be written: Xero retries)."""
        key_id = _hash(key)[:16]
        with self.engine.begin() as conn:
            for first, last in ranges:
                conn.execute(
                    sa.delete(seen_table).where(
                        seen_table.c.key_id == key_id,
                        seen_table.c.first_seq == first,
                        seen_table.c.last_seq == last,
                    )
                )
