"""The durable record of keyed writes: what each chunk was about to send, and what it got.

Xero forgets an Idempotency-Key after a few minutes (API_NOTES.md "Idempotency-Key"), so a
rerun after that would create the records again. Before a keyed chunk is sent, its
*intent* is written here; after Xero answers, its *outcome*. A rerun then finds either the
outcome (reuse it, send nothing), or an intent without an outcome: the process died
between sending and recording, and the hook reconciles by reading Xero back before
anything is sent again (:mod:`xero_provider.hooks.reconcile`).

The table lives on the token store's database (same engine, own table). Rows older than
the retention (``ledger_retention_days`` in the connection extra, 30 days by default) are
deleted at most once an hour per process, so the table does not grow for ever; a rerun
of a run older than that is treated as new.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore

DEFAULT_RETENTION_DAYS = 30.0
PRUNE_EVERY_SECONDS = 3600.0
SENT, DONE = "sent", "done"

metadata = sa.MetaData()
ledger_table = sa.Table(
    "xero_write_ledger",
    metadata,
    sa.Column("key", sa.String(1024), primary_key=True),
    sa.Column("payload_hash", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # sent | done
    sa.Column("attempt", sa.Integer, nullable=False, default=1),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

_last_prune: dict[str, float] = {}
_prune_lock = threading.Lock()


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LedgerEntry:
    """One keyed chunk: ``state`` is ``sent`` (intent, outcome unknown) or ``done``."""

    key: str
    payload_hash: str
    state: str
    attempt: int
    results: list[dict[str, Any]] | None
    created_at: datetime
    updated_at: datetime

    @property
    def done(self) -> bool:
        return self.state == DONE


class WriteLedger:
    """Intent and outcome of keyed write chunks, shared by every process using the store.

    :param store: the token store whose database holds the table.
    :param retention_days: rows untouched this long are deleted.
    """

    def __init__(self, store: TokenStore, retention_days: float = DEFAULT_RETENTION_DAYS) -> None:
        self.store = store
        self.retention = timedelta(days=retention_days)
        store.ensure_tables(metadata)

    def get(self, key: str) -> LedgerEntry | None:
        with self.store.transaction(write=False) as conn:
            row = conn.execute(sa.select(ledger_table).where(ledger_table.c.key == key)).first()
        if row is None:
            return None
        return LedgerEntry(
            key=row.key,
            payload_hash=row.payload_hash,
            state=row.state,
            attempt=row.attempt,
            results=json.loads(row.result) if row.result else None,
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
        )

    def intend(self, key: str, payload_hash: str, attempt: int = 1) -> None:
        """Record, before sending, that this chunk is about to be sent (``attempt`` counts
        sends after reconciliations). Committed before this returns."""
        now = datetime.now(UTC)
        values = {"payload_hash": payload_hash, "state": SENT, "attempt": attempt}
        statement = self.store.insert(ledger_table).values(
            key=key, created_at=now, updated_at=now, **values
        )
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={**values, "updated_at": now}
        )
        with self.store.transaction(write=True) as conn:
            conn.execute(statement)
        self._maybe_prune()

    def record(self, key: str, payload_hash: str, results: list[dict[str, Any]]) -> None:
        """Record what the chunk produced; the first outcome recorded for a key stays."""
        now = datetime.now(UTC)
        text = json.dumps(results, default=str)
        statement = self.store.insert(ledger_table).values(
            key=key,
            payload_hash=payload_hash,
            state=DONE,
            attempt=1,
            result=text,
            created_at=now,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={"state": DONE, "result": text, "updated_at": now},
            where=ledger_table.c.state != DONE,
        )
        with self.store.transaction(write=True) as conn:
            conn.execute(statement)

    def prune(self, now: datetime | None = None) -> int:
        """Delete rows untouched for longer than the retention; returns how many."""
        cutoff = (now or datetime.now(UTC)) - self.retention
        with self.store.transaction(write=True) as conn:
            result = conn.execute(sa.delete(ledger_table).where(ledger_table.c.updated_at < cutoff))
        return result.rowcount or 0

    def _maybe_prune(self) -> None:
        with _prune_lock:
            last = _last_prune.get(self.store.url, 0.0)
            if time.monotonic() - last < PRUNE_EVERY_SECONDS and last:
                return
            _last_prune[self.store.url] = time.monotonic()
        self.prune()
