"""Claim each asset event's batch once, so a replayed batch is not worked twice.

:class:`~xero_provider.triggers.events.XeroChangesEventTrigger` commits its position only
after Airflow stored the asset event, so it never skips a batch; a triggerer killed in the
second between storing the event and committing emits that batch again after restart,
with the same ``batch_key``. A consumer that claims every ``batch_key`` before working on
it turns that replay into a no-op: the claim is an insert-if-absent into
``xero_batch_claims`` (primary key: consumer, batch key) on the connection's token-store
database, the same one that holds the trigger's position.

A claim belongs to the DAG run that made it: a retry of that run (a task retried, or the
run cleared) claims the same key again and redoes its work; another run does not. Rows
are kept; each is about 200 bytes per batch (delete old ones with SQL if that matters).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore

log = logging.getLogger(__name__)

NAME_CHARS = 250  # consumer and run_id (Airflow's run_id is at most 250)
KEY_CHARS = 1000  # batch_key
metadata = sa.MetaData()
claims_table = sa.Table(
    "xero_batch_claims",
    metadata,
    sa.Column("consumer", sa.String(NAME_CHARS), primary_key=True),
    sa.Column("batch_key", sa.String(KEY_CHARS), primary_key=True),
    sa.Column("run_id", sa.String(NAME_CHARS), nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
)


class BatchClaims:
    """Who claimed which batch: one row per (consumer, batch_key)."""

    def __init__(self, url: str) -> None:
        self._store = TokenStore(url)  # the token store's engine for the same URL
        self._store.ensure_tables(metadata)

    @classmethod
    def for_connection(cls, xero_conn_id: str) -> BatchClaims:
        """The claims on a ``xero`` connection's token-store database."""
        from airflow.sdk import BaseHook

        from xero_provider.config import XeroConnectionConfig

        config = XeroConnectionConfig.from_connection(BaseHook.get_connection(xero_conn_id))
        return cls(TokenStore.for_config(config).url)

    def claim(self, consumer: str, batch_key: str, run_id: str) -> bool:
        """Claim ``batch_key`` for ``run_id``; ``False`` when another run already has it."""
        row = {
            "consumer": consumer,
            "batch_key": batch_key,
            "run_id": run_id,
            "claimed_at": datetime.now(UTC),
        }
        try:
            with self._store.transaction(write=True) as conn:
                conn.execute(sa.insert(claims_table).values(**row))
            return True
        except sa.exc.IntegrityError:
            pass
        with self._store.transaction(write=False) as conn:
            holder = conn.execute(
                sa.select(claims_table.c.run_id).where(
                    claims_table.c.consumer == consumer, claims_table.c.batch_key == batch_key
                )
            ).scalar()
        return holder == run_id


def _check_text(field: str, value: Any, most: int) -> None:
    """A clear error, before any write, for what the claims table cannot hold."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"claim_batches: {field} must be a non-empty string, got {value!r}")
    if len(value) > most:
        raise ValueError(f"claim_batches: {field} is {len(value)} characters; at most {most}")


def claim_batches(
    triggering_asset_events: Mapping[Any, Iterable[Any]] | None,
    *,
    xero_conn_id: str,
    consumer: str,
    run_id: str,
) -> list[dict[str, Any]]:
    """The payloads of a run's asset events whose batches this run claimed, each once.

    Events without a ``batch_key`` (not from the Xero event trigger) are passed through;
    a batch another run claimed is left out and logged.
    """
    _check_text("consumer", consumer, NAME_CHARS)
    _check_text("run_id", run_id, NAME_CHARS)
    payloads = [
        (getattr(event, "extra", None) or {}).get("payload") or {}
        for events in (triggering_asset_events or {}).values()
        for event in events
    ]
    for payload in payloads:  # every key checked before the first claim is written
        if payload.get("batch_key") is not None:
            _check_text("batch_key", payload["batch_key"], KEY_CHARS)
    claims: BatchClaims | None = None
    fresh: list[dict[str, Any]] = []
    seen: set[str] = set()
    for payload in payloads:
        key = payload.get("batch_key")
        if key is None:
            fresh.append(payload)
            continue
        if key in seen:
            log.info("Batch %s appears twice in this run's events; working on it once", key)
            continue
        seen.add(key)
        claims = claims or BatchClaims.for_connection(xero_conn_id)
        if claims.claim(consumer, key, run_id):
            fresh.append(payload)
        else:
            log.info(
                "Skipping batch %s: already claimed by another run of %s (a replay)",
                key,
                consumer,
            )
    return fresh
