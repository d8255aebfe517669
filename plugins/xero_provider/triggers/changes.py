"""XeroChangesTrigger: wait in the triggerer until a feed range can be read, then fire once.

``window`` mode sleeps until the window ``[start, end)`` has closed plus the settle lag,
reads it once and fires. ``watermark`` mode polls from the position it was given, at once
and then on every wall-clock multiple of ``poll_interval`` seconds, each poll reading up
to a tick's instant (so same-feed triggers ask for the same range and share one read, see
:mod:`.shared_poll`), and fires when the first changes after it appear, naming the
range ``(lower, upper]`` they fill (``upper`` cut at ``max_records`` records, ties
included).

The event names the range and the first IDs, not the records: the sensor reads the same
range again on the worker (a range is deterministic, see :mod:`.reading`), so the
metadata database never holds a batch of records as a trigger payload.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from xero_provider.state.feed import Feed, Position, advance, settled_upper
from xero_provider.triggers.shared_poll import Membership, next_tick

MODES = ("window", "watermark")
EVENT_IDS = 1000  # IDs an event carries at most (the rest are read on the worker)


def batch_of(
    feed: Feed, records: list[dict[str, Any]], lower: Position, upper: Position, limit: int
) -> tuple[list[dict[str, Any]], Position]:
    """The first ``limit`` changes of ``(lower, upper]`` and the position after them."""
    selected = feed.select(records, lower, upper)
    batch = selected[:limit]
    keys = [feed.version(r) for r in batch]
    return batch, advance(keys, lower, upper, truncated=len(selected) > limit)


class XeroChangesTrigger(BaseTrigger):
    """Fire once when a feed range is ready: a closed window, or the first new changes.

    :param xero_conn_id: the ``xero`` connection.
    :param feed: :meth:`Feed.to_json` of the watched feed.
    :param mode: ``window`` or ``watermark``.
    :param lower: position the range starts after (:meth:`Position.to_json`).
    :param upper: window mode: the window's end position.
    :param tenant_id: organisation override.
    :param settle_seconds: how far behind now the newest readable instant stays.
    :param poll_interval: seconds between polls (watermark mode).
    :param max_records: most changes one event may cover (watermark mode).
    :param share: share one read per cycle with same-feed triggers in this triggerer.
    """

    def __init__(
        self,
        *,
        xero_conn_id: str,
        feed: dict[str, Any],
        mode: str,
        lower: dict[str, Any],
        upper: dict[str, Any] | None = None,
        tenant_id: str | None = None,
        settle_seconds: float = 30.0,
        poll_interval: float = 60.0,
        max_records: int = 1000,
        share: bool = True,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "window" and upper is None:
            raise ValueError("mode 'window' needs the window's upper position")
        self.xero_conn_id = xero_conn_id
        self.feed = Feed.from_json(feed)
        self.mode = mode
        self.lower = Position.from_json(lower)
        self.upper = Position.from_json(upper) if upper is not None else None
        self.tenant_id = tenant_id
        self.settle_seconds = float(settle_seconds)
        self.poll_interval = float(poll_interval)
        self.max_records = int(max_records)
        self.share = bool(share)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "xero_provider.triggers.changes.XeroChangesTrigger",
            {
                "xero_conn_id": self.xero_conn_id,
                "feed": self.feed.to_json(),
                "mode": self.mode,
                "lower": self.lower.to_json(),
                "upper": self.upper.to_json() if self.upper else None,
                "tenant_id": self.tenant_id,
                "settle_seconds": self.settle_seconds,
                "poll_interval": self.poll_interval,
                "max_records": self.max_records,
                "share": self.share,
            },
        )

    def _event(self, upper: Position, batch: list[dict[str, Any]]) -> TriggerEvent:
        ids = [self.feed.version(r)[1] for r in batch[:EVENT_IDS]]
        return TriggerEvent(
            {
                "status": "success",
                "mode": self.mode,
                "lower": self.lower.to_json(),
                "upper": upper.to_json(),
                "count": len(batch),
                "ids": ids,
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            async with Membership(
                self.xero_conn_id, self.tenant_id, self.feed, self.lower
            ) as membership:
                if self.mode == "window":
                    event = await self._window(membership)
                else:
                    event = await self._watermark(membership)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # one error event, never a silent spin
            self.log.exception("Xero changes trigger failed")
            yield TriggerEvent(
                {"status": "error", "message": f"{type(error).__name__}: {error}"[:2000]}
            )
            return
        yield event

    async def _window(self, membership: Membership) -> TriggerEvent:
        ready_at = self.upper.ts / 1000 + self.settle_seconds
        wait = ready_at - datetime.now(UTC).timestamp()
        if wait > 0:
            self.log.info("Window closes and settles in %.0f s; sleeping", wait)
            await asyncio.sleep(wait)
        snap = await self._read(membership, self.lower, self.upper, last_poll=-1.0)
        batch = self.feed.select(snap.records, self.lower, self.upper)
        return self._event(self.upper, batch)

    async def _watermark(self, membership: Membership) -> TriggerEvent:
        scanned = self.lower  # nothing in (lower, scanned] matched: no need to read it again
        last_poll = -1.0
        # Every poll reads up to a tick's instant (less the settle lag); the first, at once,
        # up to the latest tick's, which same-feed triggers have most likely read already.
        at = datetime.fromtimestamp(next_tick(self.poll_interval) - self.poll_interval, UTC)
        while True:
            upper = settled_upper(at, timedelta(seconds=self.settle_seconds))
            if upper.ts > scanned.ts:
                snap = await self._read(membership, scanned, upper, last_poll)
                last_poll = time.monotonic()
                batch, after = batch_of(self.feed, snap.records, scanned, upper, self.max_records)
                if batch:
                    self.log.info("%d change(s) after %s", len(batch), self.lower)
                    return self._event(after, batch)
                scanned = upper
                membership.move(scanned)
            tick = next_tick(self.poll_interval)
            await asyncio.sleep(max(0.0, tick - time.time()))
            # the tick's instant, not the wake-up's: on a busy loop wake-ups straggle past a
            # second boundary, and a later upper would not be covered by the shared read
            at = datetime.fromtimestamp(tick, UTC)

    async def _read(self, membership: Membership, lower: Position, upper: Position, last_poll):
        if self.share:
            return await membership.read(lower, upper, last_poll)
        from xero_provider.triggers.reading import read_range_async
        from xero_provider.triggers.shared_poll import Snapshot

        hook = membership.group._hook()
        result = await read_range_async(hook, self.feed, lower, upper)
        return Snapshot(lower, upper, result.records, time.monotonic(), result.requests)
