"""Where watermark sensors and event triggers keep their feed positions.

One row per (DAG, task, organisation, feed) in ``xero_change_watermarks``, in the same
database as the OAuth tokens (the connection's ``token_store``, resolved exactly as the
token store resolves it), so every worker and the triggerer see one position.

A row holds the *committed* position (everything before it was delivered to a run that
succeeded) and at most one *pending* delivery: the run that received the range from the
committed position to the pending one. The pending range becomes committed only once that
run is known to have succeeded (see :mod:`xero_provider.sensors.changes`); a failed run's
pending range is dropped, so the next run receives the same changes again.

Event triggers (:mod:`xero_provider.triggers.events`) use the same row shape: the pending
range is the batch being emitted (:meth:`WatermarkStore.propose_batch`), committed once
Airflow stored its event (:meth:`WatermarkStore.commit_batch`); until then every reader
emits exactly that range again, so a replayed batch keeps its ``batch_key``.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xero_provider.state.feed import Position
from xero_provider.state.token_store import TokenStore

metadata = sa.MetaData()
watermarks_table = sa.Table(
    "xero_change_watermarks",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("committed", sa.Text, nullable=True),  # Position JSON
    sa.Column("pending_run_id", sa.String(250), nullable=True),
    sa.Column("pending_lower", sa.Text, nullable=True),
    sa.Column("pending_upper", sa.Text, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
EVENT_BATCH = "<event-batch>"  # pending_run_id of an event trigger's batch in flight


def watermark_key(dag_id: str, task_id: str, tenant_id: str, feed_key: str) -> str:
    """The row key; every part is named so two sensors never share a position by accident."""
    for label, value in (("dag_id", dag_id), ("task_id", task_id), ("tenant_id", tenant_id)):
        if not value or not isinstance(value, str):
            raise ValueError(f"watermark key: {label} is empty")
    return f"{dag_id}/{task_id}/{tenant_id}/{feed_key}"


@dataclass(frozen=True)
class Pending:
    """A delivered range whose run has not been seen to succeed yet."""

    run_id: str
    lower: Position
    upper: Position


@dataclass(frozen=True)
class WatermarkState:
    committed: Position | None
    pending: Pending | None


def _dump(position: Position | None) -> str | None:
    return json.dumps(position.to_json()) if position is not None else None


def _load(text: str | None) -> Position | None:
    return Position.from_json(json.loads(text)) if text else None


class WatermarkStore:
    """Positions of watermark feeds, transactional on SQLite and PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._store = TokenStore(url)  # the token store's engine for the same URL
        self._store.ensure_tables(metadata)

    @classmethod
    def for_config(cls, config: Any) -> WatermarkStore:
        """The store of a ``xero`` connection: the database its token store uses."""
        return cls(TokenStore.for_config(config).url)

    def _transaction(self) -> AbstractContextManager[Connection]:
        return self._store.transaction(write=True)

    def _row(self, conn: Connection, key: str, lock: bool = False) -> Any:
        query = sa.select(watermarks_table).where(watermarks_table.c.key == key)
        if lock:
            query = query.with_for_update()
        return conn.execute(query).first()

    def _upsert(self, conn: Connection, key: str, **values: Any) -> None:
        values["updated_at"] = datetime.now(UTC)
        if self._row(conn, key, lock=True) is None:
            conn.execute(sa.insert(watermarks_table).values(key=key, **values))
        else:
            conn.execute(
                sa.update(watermarks_table).where(watermarks_table.c.key == key).values(**values)
            )

    def get(self, key: str) -> WatermarkState:
        with self._transaction() as conn:
            row = self._row(conn, key)
        if row is None:
            return WatermarkState(None, None)
        pending = None
        if row.pending_run_id:
            pending = Pending(
                row.pending_run_id, _load(row.pending_lower), _load(row.pending_upper)
            )
        return WatermarkState(_load(row.committed), pending)

    def set_pending(self, key: str, run_id: str, lower: Position, upper: Position) -> None:
        """Record that ``run_id`` received ``(lower, upper]`` (replaces its own earlier one)."""
        with self._transaction() as conn:
            row = self._row(conn, key, lock=True)
            if row is not None and row.pending_run_id and row.pending_run_id != run_id:
                raise RuntimeError(
                    f"watermark {key}: run {row.pending_run_id} still holds an undecided "
                    f"delivery; {run_id} may not take another"
                )
            self._upsert(
                conn,
                key,
                pending_run_id=run_id,
                pending_lower=_dump(lower),
                pending_upper=_dump(upper),
            )

    def take_claim(self, key: str, run_id: str, lower: Position, upper: Position) -> bool:
        """Turn ``run_id``'s claim at ``lower`` into its delivery of ``(lower, upper]``.

        Compare and set, for a trigger that ends its task itself: ``True`` only for the
        one caller that found the claim the task left when it deferred (pending
        ``(run_id, lower, lower)``); ``False`` when the row holds anything else (a
        delivery already recorded by an earlier or duplicate copy of the trigger, another
        run's, or none), and then the caller must let the worker deliver instead.
        """
        with self._transaction() as conn:
            row = self._row(conn, key, lock=True)
            if (
                row is None
                or row.pending_run_id != run_id
                or _load(row.pending_lower) != lower
                or _load(row.pending_upper) != lower
            ):
                return False
            self._upsert(conn, key, pending_upper=_dump(upper))
            return True

    def resolve_pending(self, key: str, run_id: str, succeeded: bool) -> Position | None:
        """Commit (the run succeeded) or drop (it failed) ``run_id``'s delivery.

        Returns the committed position afterwards. A pending row of another run is left
        alone, so two processes deciding at once cannot both move the position. A feed's
        first run has no committed position (it began at ``start_from``): when it fails,
        where it began becomes the position, so the next run receives the same changes
        (without it, the next run began at its own "now" and they were lost; issue 24).
        """
        with self._transaction() as conn:
            row = self._row(conn, key, lock=True)
            if row is None or row.pending_run_id != run_id:
                return _load(row.committed) if row is not None else None
            committed = row.pending_upper if succeeded else row.committed or row.pending_lower
            self._upsert(
                conn,
                key,
                committed=committed,
                pending_run_id=None,
                pending_lower=None,
                pending_upper=None,
            )
            return _load(committed)

    def commit(self, key: str, position: Position, expected: Position | None = None) -> bool:
        """Set the committed position directly (event triggers; empty ranges).

        With ``expected``, only when the stored position still equals it (compare and set).
        """
        with self._transaction() as conn:
            row = self._row(conn, key, lock=True)
            current = _load(row.committed) if row is not None else None
            if expected is not None and current != expected:
                return False
            self._upsert(conn, key, committed=_dump(position))
            return True

    def propose_batch(self, key: str, lower: Position, upper: Position) -> Position | None:
        """Record ``(lower, upper]`` as the batch about to be emitted from ``lower``.

        Returns the end of the batch to emit: ``upper``, or the end already recorded from
        ``lower`` (by an earlier run, or another triggerer), so everyone emits one range;
        ``None`` when the committed position is no longer ``lower`` (read again).
        """
        with self._transaction() as conn:
            row = self._row(conn, key, lock=True)
            if row is None or _load(row.committed) != lower:
                return None
            if row.pending_run_id == EVENT_BATCH and _load(row.pending_lower) == lower:
                return _load(row.pending_upper)
            self._upsert(
                conn,
                key,
                pending_run_id=EVENT_BATCH,
                pending_lower=_dump(lower),
                pending_upper=_dump(upper),
            )
            return upper

    def batch_in_flight(self, key: str) -> Pending | None:
        """The recorded batch from the committed position, if one was emitted and not committed."""
        state = self.get(key)
        pending = state.pending
        if pending and pending.run_id == EVENT_BATCH and pending.lower == state.committed:
            return pending
        return None

    def commit_batch(self, key: str, lower: Position, upper: Position) -> bool:
        """Move the position from ``lower`` to ``upper`` and forget the batch in flight.

        Compare and set: ``False`` (nothing written) when the position is no longer
        ``lower``, e.g. another triggerer committed the batch first.
        """
        with self._transaction() as conn:
            row = self._row(conn, key, lock=True)
            if row is None or _load(row.committed) != lower:
                return False
            self._upsert(
                conn,
                key,
                committed=_dump(upper),
                pending_run_id=None,
                pending_lower=None,
                pending_upper=None,
            )
            return True

    def delete(self, key: str) -> None:
        """Forget a feed's position (the next run starts from its ``start_from``)."""
        with self._transaction() as conn:
            conn.execute(sa.delete(watermarks_table).where(watermarks_table.c.key == key))
