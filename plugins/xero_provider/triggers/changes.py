"""XeroChangesTrigger: wait in the triggerer until a feed range can be read, then fire once.

``window`` mode sleeps until the window ``[start, end)`` has closed plus the settle lag,
reads it once and fires. ``watermark`` mode polls from the position it was given, at once
and then on every wall-clock multiple of its interval (the organisation's daily call plan's,
never shorter than ``poll_interval``; a webhook's mark on the feed brings a poll forward,
see :meth:`.shared_poll.Membership.next_poll`), each poll reading up
to a tick's instant (so same-feed triggers ask for the same range and share one read, see
:mod:`.shared_poll`), and fires when the first changes after it appear, naming the
range ``(lower, upper]`` they fill (``upper`` cut at ``max_records`` records, ties
included).

The event names the range and the first IDs, and hands over the records it read (inline
when small, else staged in the provider's store; :mod:`.handover`), so the sensor's task
delivers them without reading Xero again. With ``end_task`` (the sensor's
``end_from_trigger``), a small batch is delivered by the trigger itself and the task ends
in the triggerer, with no worker at all (:mod:`.task_end`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from xero_provider.state.feed import Feed, Position, advance, settled_upper
from xero_provider.triggers.handover import INLINE_MAX_BYTES, hand_over
from xero_provider.triggers.shared_poll import Membership, next_tick
from xero_provider.triggers.task_end import TaskEnd, end_task

MODES = ("window", "watermark")
EVENT_IDS = 1000  # IDs an event carries at most (for the log; the records are handed over)


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
    :param handover: hand the records read to the task (``False``: the event names the
        range only and the task reads it again, the behaviour before handover; kept for
        the benchmark's baseline).
    :param inline_max_bytes: records whose JSON is larger are staged, not put in the event.
    :param end_task: :meth:`.TaskEnd.to_json` of the task instance this trigger may end
        itself (no worker after the event); ``None``: always resume the task.
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
        handover: bool = True,
        inline_max_bytes: int = INLINE_MAX_BYTES,
        end_task: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "window" and upper is None:
            raise ValueError("mode 'window' needs the window's upper position")
        if not isinstance(poll_interval, int | float) or not poll_interval > 0:
            raise ValueError(f"poll_interval must be more than 0 seconds, got {poll_interval!r}")
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
        if not isinstance(inline_max_bytes, int) or inline_max_bytes < 0:
            raise ValueError(f"inline_max_bytes must be 0 or more, got {inline_max_bytes!r}")
        self.handover = bool(handover)
        self.inline_max_bytes = inline_max_bytes
        self.end_task = TaskEnd.from_json(end_task) if end_task is not None else None

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
                "handover": self.handover,
                "inline_max_bytes": self.inline_max_bytes,
                "end_task": self.end_task.to_json() if self.end_task else None,
            },
        )

    async def _event(
        self, membership: Membership, upper: Position, batch: list[dict[str, Any]]
    ) -> TriggerEvent:
        if self.end_task is not None and self.handover:
            ended = await end_task(
                self.end_task,
                self.task_instance,
                self.feed,
                self.lower,
                upper,
                batch,
                lambda: self._watermarks(membership),
            )
            if ended is not None:
                return ended
        ids = [self.feed.version(r)[1] for r in batch[:EVENT_IDS]]
        payload = {
            "status": "success",
            "mode": self.mode,
            "lower": self.lower.to_json(),
            "upper": upper.to_json(),
            "count": len(batch),
            "ids": ids,
        }
        if self.handover:
            hook = membership.group._hook()
            part = await hand_over(hook, self.feed, self.lower, upper, batch, self.inline_max_bytes)
            payload.update(part)
        return TriggerEvent(payload)

    async def _watermarks(self, membership: Membership) -> Any:
        from xero_provider.state.watermarks import WatermarkStore

        config = await membership.group._hook().aconfig()
        return await asyncio.to_thread(WatermarkStore.for_config, config)

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
        return await self._event(membership, self.upper, batch)

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
                    return await self._event(membership, after, batch)
                scanned = upper
                membership.move(scanned)
            # the tick's instant (or a webhook mark's), not the wake-up's: on a busy loop
            # wake-ups straggle past a second boundary, and a later upper would not be
            # covered by the shared read. The interval comes from the daily call plan.
            tick = await membership.next_poll(self.poll_interval, self.settle_seconds)
            at = datetime.fromtimestamp(tick, UTC)

    async def _read(self, membership: Membership, lower: Position, upper: Position, last_poll):
        if self.share:
            return await membership.read(lower, upper, last_poll)
        from xero_provider.triggers.reading import read_range_async
        from xero_provider.triggers.shared_poll import Snapshot

        hook = membership.group._hook()
        result = await read_range_async(hook, self.feed, lower, upper)
        return Snapshot(lower, upper, result.records, time.monotonic(), result.requests)
