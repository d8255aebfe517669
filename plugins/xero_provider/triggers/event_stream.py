"""The batches an event trigger emits: read from the stored position, committed once stored.

:class:`BatchStream` is the producer behind
:class:`~xero_provider.triggers.events.XeroChangesEventTrigger` in Airflow 3.3's
shared-stream *ack mode* (:mod:`airflow.triggers.shared_stream`). The triggerer drives
:meth:`BatchStream.open_stream` and calls :meth:`BatchStream.advance` for a batch only
after the trigger moved past it and the triggerer's supervisor confirmed that the asset
event derived from it is stored in the metadata database. So, per batch:

1. read the changes after the committed position (or, if a batch from that position was
   already recorded and not committed, exactly that range again);
2. record the range as the batch in flight (``propose_batch``; compare-and-set against
   the committed position, so two triggerers on one watcher emit one and the same range);
3. yield it; the trigger turns it into a ``TriggerEvent``;
4. in ``advance``: commit the range (``commit_batch``, compare-and-set again), then read
   the next one. Nothing is read ahead: at most one batch is in flight.

A triggerer killed before step 4 leaves the batch recorded but not committed; the next
run emits that same range again, with the same ``batch_key``. If the event was not
stored yet, this is its only delivery; if it was (killed between storing and step 4), it
is a replay, which consumers absorb with :mod:`xero_provider.state.batch_claims`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.triggers.shared_stream import AdvanceItem, SharedStreamProducer

from xero_provider.formats import tenant_key
from xero_provider.state.feed import Position, settled_upper
from xero_provider.triggers.changes import batch_of
from xero_provider.triggers.shared_poll import Membership

if TYPE_CHECKING:
    from xero_provider.state.watermarks import WatermarkStore
    from xero_provider.triggers.events import XeroChangesEventTrigger

log = logging.getLogger(__name__)


class BatchNotDelivered(Exception):
    """A batch's event was not confirmed stored, or its position moved elsewhere.

    Raised from ``advance``: the triggerer then ends the stream and fails its triggers,
    and the next run emits the batch again from the stored position.
    """


@dataclass(frozen=True)
class Batch:
    """The changes of ``(lower, upper]`` for the watermark row ``key``."""

    key: str
    lower: Position
    upper: Position
    records: list[dict[str, Any]]
    replay: bool  # recorded earlier and not committed: emitted again


class BatchStream(SharedStreamProducer):
    """Read one batch at a time from the stored position; commit it in :meth:`advance`."""

    def __init__(self, trigger: XeroChangesEventTrigger) -> None:
        self.trigger = trigger
        self._store: WatermarkStore | None = None
        self._key = ""
        self._committed: asyncio.Queue[Batch] | None = None

    async def open_stream(self) -> AsyncIterator[tuple[dict[str, Any], Batch]]:
        self._committed = asyncio.Queue()
        while True:
            batch = await self.next_batch()
            yield self.trigger.batch_payload(batch), batch
            await self._committed.get()  # advance() committed it: read the next one

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        for item in batch:
            done: Batch = item.broker_payload
            outcome = item.outcome
            if not outcome.is_clean:
                raise BatchNotDelivered(
                    f"{done.key}: the event for {done.lower} .. {done.upper} was not "
                    f"confirmed stored (acked={outcome.acked}, failed={outcome.failed}, "
                    f"rejected={outcome.rejected}); it is emitted again"
                )
            await self.commit(done)
            if self._committed is not None:
                self._committed.put_nowait(done)

    # --- the steps, shared with the trigger's standalone run() ---------------------------

    async def open_store(self) -> tuple[WatermarkStore, str]:
        """The watermark store of the trigger's connection and this watcher's row key."""
        if self._store is None:
            from xero_provider.hooks import XeroAsyncHook
            from xero_provider.state.watermarks import WatermarkStore, watermark_key

            trigger = self.trigger
            hook = XeroAsyncHook(trigger.xero_conn_id, tenant_id=trigger.tenant_id)
            try:
                config = await hook.aconfig()
                tenant = tenant_key(hook.tenant_id, config.client_id)
            finally:
                await hook.aclose()
            self._store = await asyncio.to_thread(WatermarkStore.for_config, config)
            self._key = watermark_key(
                "asset-watcher", trigger.watermark, tenant, trigger.feed.key()
            )
        return self._store, self._key

    async def next_batch(self) -> Batch:
        """The batch to emit next: the one in flight, or the next changes (waits for them)."""
        store, key = await self.open_store()
        while True:
            state = await asyncio.to_thread(store.get, key)
            lower = state.committed
            if lower is None:
                lower = self.trigger.start_position()
                await asyncio.to_thread(store.commit, key, lower, None)
            flight = await asyncio.to_thread(store.batch_in_flight, key)
            if flight is not None:
                records = await self._reread(flight.lower, flight.upper)
                if records:
                    log.info(
                        "%s: emitting the uncommitted batch %s .. %s again",
                        key,
                        lower,
                        flight.upper,
                    )
                    return Batch(key, flight.lower, flight.upper, records, replay=True)
                # Every change in it was changed again since: later batches carry them.
                await asyncio.to_thread(store.commit_batch, key, flight.lower, flight.upper)
                continue
            records, upper = await self._wait_for_changes(lower)
            chosen = await asyncio.to_thread(store.propose_batch, key, lower, upper)
            if chosen is None:
                log.info("%s: the position moved elsewhere; reading again", key)
                continue
            if chosen != upper:  # another triggerer recorded this batch first: emit that one
                records = await self._reread(lower, chosen)
            return Batch(key, lower, chosen, records, replay=False)

    async def commit(self, batch: Batch) -> None:
        """Commit a batch whose event is stored; refuse if its position moved elsewhere."""
        store, _ = await self.open_store()
        moved = await asyncio.to_thread(store.commit_batch, batch.key, batch.lower, batch.upper)
        if not moved:
            raise BatchNotDelivered(
                f"{batch.key}: the position moved from {batch.lower} elsewhere before this "
                "batch was committed (another triggerer?)"
            )

    # --- reading -------------------------------------------------------------------------

    def _membership(self, lower: Position) -> Membership:
        trigger = self.trigger
        return Membership(trigger.xero_conn_id, trigger.tenant_id, trigger.feed, lower)

    async def _reread(self, lower: Position, upper: Position) -> list[dict[str, Any]]:
        """The current records of a recorded range (a record changed since has left it)."""
        feed = self.trigger.feed
        async with self._membership(lower) as member:
            snap = await member.read(lower, Position(upper.ts), -1.0)
        return feed.select(snap.records, lower, upper)[: self.trigger.max_records]

    async def _wait_for_changes(self, lower: Position) -> tuple[list[dict[str, Any]], Position]:
        trigger = self.trigger
        settle = timedelta(seconds=trigger.settle_seconds)
        scanned = lower
        last_poll = -1.0
        now = datetime.now(UTC)
        async with self._membership(lower) as member:
            while True:
                upper = settled_upper(now, settle)
                if upper.ts > scanned.ts:
                    snap = await member.read(scanned, upper, last_poll)
                    last_poll = time.monotonic()
                    batch, after = batch_of(
                        trigger.feed, snap.records, scanned, upper, trigger.max_records
                    )
                    if batch:
                        return batch, after
                    scanned = upper
                    member.move(scanned)
                # the plan's interval, or sooner when a webhook marked the feed changed
                at = await member.next_poll(trigger.poll_interval, trigger.settle_seconds)
                now = datetime.fromtimestamp(at, UTC)
