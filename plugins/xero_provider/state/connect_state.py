"""The connect app's own small tables: sign-ins in progress and webhook sequences seen.

They live in the token store's database (a SQLite file under ``AIRFLOW_HOME`` by default,
``[xero_connect] state_store`` or ``XERO_TOKEN_STORE`` to choose), never in Airflow's
metadata database, so that several api-server workers see the same sign-ins and a
webhook Xero delivers twice is recognised whichever worker receives it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore, fernet

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


def _store(url: str | None) -> TokenStore:
    """The token store's database (its engines, locks and transactions), these tables in it."""
    store = TokenStore(url)
    store.ensure_tables(metadata)
    return store


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class PendingSignIns:
    """Sign-ins sent to Xero and not back yet, keyed by a hash of their ``state``.

    The payload (PKCE verifier, client secret) is encrypted with Airflow's Fernet key; a
    sign-in is taken out exactly once, so a replayed callback finds nothing.
    """

    def __init__(self, url: str | None = None) -> None:
        self._store = _store(url)
        self.engine = self._store.engine

    def put(self, state: str, payload: dict[str, Any], user_name: str | None) -> None:
        now = datetime.now(UTC)
        ciphertext = fernet().encrypt(json.dumps(payload).encode()).decode("ascii")
        with self._store.transaction(write=True) as conn:
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
        with self._store.transaction(write=True) as conn:
            row = conn.execute(sa.select(pending_table).where(where)).first()
            if row is None or not conn.execute(sa.delete(pending_table).where(where)).rowcount:
                return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires < datetime.now(UTC):
            return None
        payload = json.loads(fernet().decrypt(row.ciphertext.encode("ascii")))
        return payload, row.user_name


class SeenSequences:
    """Webhook deliveries already turned into asset events.

    A delivery's events are identified by the webhook key, their sequence numbers and a
    fingerprint of what they say (:func:`xero_provider.connect.webhooks.fingerprint`):
    Xero's retry of a delivery repeats all three, so it is taken as a repeat; events that
    reuse sequence numbers already seen (a subscription saved again and numbering from 1)
    differ in content, so they are not dropped as repeats.
    """

    def __init__(self, url: str | None = None) -> None:
        self._store = _store(url)
        self.engine = self._store.engine

    @staticmethod
    def _key_id(key: str, fingerprint: str) -> str:
        return _hash(f"{key}|{fingerprint}")[:16]

    def claim(self, key: str, entries: list[tuple[int, int, str]]) -> set[tuple[int, int, str]]:
        """Record ``(first, last, fingerprint)`` entries; return those not recorded before
        (atomic across processes)."""
        if not entries:
            return set()
        now = datetime.now(UTC)
        by_row = {(self._key_id(key, f), a, b): (a, b, f) for a, b, f in dict.fromkeys(entries)}
        rows = [
            {"key_id": k, "first_seq": a, "last_seq": b, "received_at": now} for k, a, b in by_row
        ]
        statement = (
            self._store.insert(seen_table)
            .on_conflict_do_nothing(index_elements=["key_id", "first_seq", "last_seq"])
            .returning(seen_table.c.key_id, seen_table.c.first_seq, seen_table.c.last_seq)
        )
        with self._store.transaction(write=True) as conn:
            result = conn.execute(statement, rows)
            return {by_row[(r.key_id, r.first_seq, r.last_seq)] for r in result}

    def release(self, key: str, entries: set[tuple[int, int, str]]) -> None:
        """Forget ``entries`` again (their asset events could not be written: Xero retries)."""
        with self._store.transaction(write=True) as conn:
            for first, last, fingerprint in entries:
                conn.execute(
                    sa.delete(seen_table).where(
                        seen_table.c.key_id == self._key_id(key, fingerprint),
                        seen_table.c.first_seq == first,
                        seen_table.c.last_seq == last,
                    )
                )
