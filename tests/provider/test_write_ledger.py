"""The write ledger: intent before sending, outcome after, first outcome kept, retention."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore
from xero_provider.state.write_ledger import WriteLedger, ledger_table


def _cleanup(store_url: str, *keys: str) -> None:
    with sa.create_engine(store_url).begin() as conn:  # PostgreSQL is shared: clean up
        conn.execute(ledger_table.delete().where(ledger_table.c.key.in_(keys)))


def test_intent_then_outcome_and_the_first_outcome_stays(store_url: str) -> None:
    ledger = WriteLedger(TokenStore(store_url))
    key = f"ledger-{uuid.uuid4().hex}"
    try:
        assert ledger.get(key) is None
        ledger.intend(key, "hash-1")
        entry = ledger.get(key)
        assert (entry.state, entry.done, entry.results, entry.attempt) == ("sent", False, None, 1)
        ledger.intend(key, "hash-1", attempt=2)
        assert ledger.get(key).attempt == 2
        ledger.record(key, "hash-1", [{"record_id": "a"}])
        ledger.record(key, "hash-1", [{"record_id": "b"}])
        entry = ledger.get(key)
        assert entry.done and entry.results == [{"record_id": "a"}]
        assert entry.created_at.tzinfo is not None
        assert datetime.now(UTC) - entry.created_at < timedelta(minutes=1)
    finally:
        _cleanup(store_url, key)


def test_retention_deletes_only_old_rows(store_url: str) -> None:
    ledger = WriteLedger(TokenStore(store_url), retention_days=30)
    old, new = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    try:
        ledger.record(old, "h", [])
        ledger.record(new, "h", [])
        with ledger.store.transaction(write=True) as conn:
            conn.execute(
                ledger_table.update()
                .where(ledger_table.c.key == old)
                .values(updated_at=datetime.now(UTC) - timedelta(days=31))
            )
        assert ledger.prune() >= 1
        assert ledger.get(old) is None
        assert ledger.get(new) is not None
    finally:
        _cleanup(store_url, old, new)
