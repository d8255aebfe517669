"""XeroChangesEventTrigger: start a DAG run per batch of Xero changes (``AssetWatcher``).

.. code-block:: python

    bills = Asset(
        "xero://demo/bills",
        watchers=[
            AssetWatcher(
                name="new_bills",
                trigger=XeroChangesEventTrigger(resource="Bills", watermark="demo-bills"),
            )
        ],
    )

The trigger keeps its position in the watermark store (row
``asset-watcher/<watermark>/<organisation>/<feed>``, the database of the connection's
``token_store``) and commits a batch only after Airflow stored the asset event made from
it, using Airflow 3.3's shared-stream *ack mode* (:mod:`airflow.triggers.shared_stream`;
the reading and committing is :class:`~xero_provider.triggers.event_stream.BatchStream`).
A triggerer killed at any point therefore never skips a batch:

* killed before the event was stored: the batch was recorded (``propose_batch``) but not
  committed, so the next run emits the same range again: its only delivery;
* killed after the event was stored but before the commit (about one triggerer sync, a
  second or two): the next run emits that range again with the same ``batch_key``: a
  replay. Consumers make it harmless by claiming each ``batch_key`` once
  (:func:`xero_provider.state.batch_claims.claim_batches`), as the example DAG
  ``xero_contact_changes_asset`` does.

What a user must know:

* ``[triggerer] shared_stream_ack_timeout`` (default 300 s): an event not confirmed stored
  within it fails the stream; the trigger is started again and emits the batch again.
  Keep it well above a triggerer sync round (seconds).
* One stream per ``(xero_conn_id, tenant_id, watermark, feed)``: give each watcher its own
  ``watermark``. Watchers that share all four share one stream (read with the settings of
  the first to start) and one position; a batch is committed only when every one of them
  that was running when it was emitted stored its event. After a triggerer restart the
  first to start may emit before the others subscribe (they then miss that batch), which
  ``[triggerer] shared_stream_cohort_grace_period`` (a few seconds) makes unlikely.
* A batch is emitted again with the range it was first emitted with; a record changed
  again since then has left that range and comes in a later batch.
* Run without the triggerer's shared streams (``run()``: ``dags test``, or a triggerer
  that cannot route it), the position is committed when the triggerer resumes the
  trigger after queueing the event, before it is stored: the old at-most-once gap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent
from airflow.triggers.shared_stream import SharedStreamProducer

from xero_provider.state.feed import Feed, Position, settled_upper
from xero_provider.triggers.event_stream import Batch, BatchStream

PAYLOADS = ("ids", "records")


class XeroChangesEventTrigger(BaseEventTrigger):
    """Fire one event per batch of changes to a Xero resource, from a persisted position.

    :param resource: a resource table name (``Contacts``, ``Bills``, ...).
    :param watermark: a stable name for this watcher's position (e.g. the asset's name).
    :param xero_conn_id: the ``xero`` connection.
    :param tenant_id: organisation override.
    :param where: Xero ``where`` filter (resources that take one).
    :param statuses: keep records in these statuses.
    :param types: bank transaction, credit note or payment types to keep.
    :param contact_kind: contacts only: ``customer`` or ``supplier``.
    :param start_from: with no stored position: ``now`` or an ISO timestamp.
    :param settle_seconds: how far behind now the newest readable instant stays.
    :param poll_interval: seconds between polls.
    :param max_records: most changes in one event.
    :param payload: ``ids`` (default) or ``records`` (whole records in the asset event).
    """

    def __init__(
        self,
        *,
        resource: str,
        watermark: str,
        xero_conn_id: str = "xero_default",
        tenant_id: str | None = None,
        where: str | None = None,
        statuses: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        contact_kind: str | None = None,
        start_from: str = "now",
        settle_seconds: float = 30.0,
        poll_interval: float = 60.0,
        max_records: int = 500,
        payload: str = "ids",
    ) -> None:
        super().__init__()
        if not isinstance(watermark, str) or not watermark.strip() or len(watermark) > 200:
            raise ValueError("watermark: give a stable, non-empty name up to 200 characters")
        if payload not in PAYLOADS:
            raise ValueError(f"payload must be one of {PAYLOADS}, got {payload!r}")
        if not isinstance(max_records, int) or max_records < 1:
            raise ValueError(f"max_records must be a positive integer, got {max_records!r}")
        self.feed = Feed.build(
            resource, where=where, statuses=statuses, types=types, contact_kind=contact_kind
        )
        if start_from != "now":
            Position.at(start_from)  # a clear error now, not in the triggerer
        self.watermark = watermark.strip()
        self.xero_conn_id = xero_conn_id
        self.tenant_id = tenant_id
        self.start_from = start_from
        self.settle_seconds = float(settle_seconds)
        self.poll_interval = float(poll_interval)
        self.max_records = max_records
        self.payload = payload

    def serialize(self) -> tuple[str, dict[str, Any]]:
        feed = self.feed.to_json()
        return (
            "xero_provider.triggers.events.XeroChangesEventTrigger",
            {
                "resource": feed["resource"],
                "watermark": self.watermark,
                "xero_conn_id": self.xero_conn_id,
                "tenant_id": self.tenant_id,
                "where": feed["where"],
                "statuses": feed["statuses"],
                "types": feed["types"],
                "contact_kind": feed["contact_kind"],
                "start_from": self.start_from,
                "settle_seconds": self.settle_seconds,
                "poll_interval": self.poll_interval,
                "max_records": self.max_records,
                "payload": self.payload,
            },
        )

    # --- ack mode: one producer per stream, this trigger shapes its events --------------

    def shared_stream_key(self) -> tuple[str, ...]:
        """One stream per watermark row: connection, organisation, watermark and feed."""
        return (
            "xero_provider.XeroChangesEventTrigger",
            self.xero_conn_id,
            self.tenant_id or "",
            self.watermark,
            self.feed.key(),
        )

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> SharedStreamProducer:
        return BatchStream(cls(**kwargs))

    async def filter_shared_stream(
        self, shared_stream: AsyncIterator[dict[str, Any]]
    ) -> AsyncIterator[TriggerEvent]:
        # One event per raw batch, yielded before pulling the next: that binds the event
        # to its batch, so the batch is committed only once this event is stored.
        async for body in shared_stream:
            yield TriggerEvent(self._shape(body))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Standalone: one event, committed when the triggerer resumes us (see module doc)."""
        stream = BatchStream(self)
        batch = await stream.next_batch()
        yield TriggerEvent(self._shape(self.batch_payload(batch)))
        await stream.commit(batch)

    # --- payloads ------------------------------------------------------------------------

    def start_position(self) -> Position:
        """Where a watcher with no stored position starts."""
        if self.start_from == "now":
            return settled_upper(datetime.now(UTC), timedelta(seconds=self.settle_seconds))
        return Position.at(self.start_from)

    def batch_payload(self, batch: Batch) -> dict[str, Any]:
        """The raw event of a batch, records included (each trigger shapes its own)."""
        spec = self.feed.spec
        lower, upper, records = batch.lower, batch.upper, batch.records
        return {
            "resource": self.feed.resource,
            "batch_key": f"{self.feed.key()}:{lower.ts}:{upper.ts}:{len(upper.ids)}",
            "from": lower.to_json(),
            "to": upper.to_json(),
            "count": len(records),
            "ids": [r.get(spec.id_field) for r in records],
            "statuses": [r.get(spec.status_field) for r in records] if spec.status_field else [],
            "records": records,
        }

    def _shape(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.payload == "records":
            return dict(body)
        return {k: v for k, v in body.items() if k != "records"}
