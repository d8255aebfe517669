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

The triggerer runs an event trigger again after every event it fires and after every
restart, so the trigger keeps its position in the watermark store (row
``asset-watcher/<watermark>/<organisation>/<feed>``) and starts each run from there.

Order of work for one batch: read the changes after the stored position, write the new
position (compare-and-set against the one the batch was read from, so two triggerers
running the same watcher cannot both emit it), then yield the event. A restart at any
point before the write reads the same batch again; after the write it continues with
the next. The one gap is a triggerer killed in the instant between the write and the
triggerer storing the event: that batch is then not emitted (at most once). Every event
carries ``batch_key`` (its range), the same for the same batch wherever it is read, so a
consumer can tell a batch it has seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from xero_provider.triggers.changes import batch_of
from xero_provider.triggers.feed import Feed, Position, settled_upper
from xero_provider.triggers.shared_poll import Membership

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

    # --- the store, off the event loop ---------------------------------------------------

    async def _store(self, hook: Any) -> tuple[Any, str]:
        from xero_provider.watermarks import WatermarkStore, watermark_key

        config = await hook.aconfig()
        tenant = hook.tenant_id or f"app:{config.client_id}"
        store = await asyncio.to_thread(WatermarkStore.for_config, config)
        return store, watermark_key("asset-watcher", self.watermark, tenant, self.feed.key())

    def _start(self) -> Position:
        if self.start_from == "now":
            return settled_upper(datetime.now(UTC), timedelta(seconds=self.settle_seconds))
        return Position.at(self.start_from)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from xero_provider.hooks import XeroAsyncHook

        hook = XeroAsyncHook(self.xero_conn_id, tenant_id=self.tenant_id)
        try:
            store, key = await self._store(hook)
        finally:
            await hook.aclose()
        while True:
            state = await asyncio.to_thread(store.get, key)
            lower = state.committed
            if lower is None:
                lower = self._start()
                await asyncio.to_thread(store.commit, key, lower, None)
            batch, upper = await self._wait_for_changes(lower)
            moved = await asyncio.to_thread(store.commit, key, upper, lower)
            if not moved:  # another triggerer emitted this batch first: start again from it
                self.log.info("Position of %s moved elsewhere; re-reading", key)
                continue
            yield TriggerEvent(self._payload(lower, upper, batch))
            return

    async def _wait_for_changes(self, lower: Position) -> tuple[list[dict], Position]:
        scanned = lower
        last_poll = -1.0
        async with Membership(self.xero_conn_id, self.tenant_id, self.feed, lower) as member:
            while True:
                upper = settled_upper(datetime.now(UTC), timedelta(seconds=self.settle_seconds))
                if upper.ts > scanned.ts:
                    snap = await member.read(scanned, upper, last_poll)
                    last_poll = time.monotonic()
                    batch, after = batch_of(
                        self.feed, snap.records, scanned, upper, self.max_records
                    )
                    if batch:
                        return batch, after
                    scanned = upper
                    member.move(scanned)
                await asyncio.sleep(self.poll_interval)

    def _payload(
        self, lower: Position, upper: Position, batch: list[dict[str, Any]]
    ) -> dict[str, Any]:
        spec = self.feed.spec
        body: dict[str, Any] = {
            "resource": self.feed.resource,
            "batch_key": f"{self.feed.key()}:{lower.ts}:{upper.ts}:{len(upper.ids)}",
            "from": lower.to_json(),
            "to": upper.to_json(),
            "count": len(batch),
            "ids": [r.get(spec.id_field) for r in batch],
            "statuses": [r.get(spec.status_field) for r in batch] if spec.status_field else [],
        }
        if self.payload == "records":
            body["records"] = batch
        return body
