"""One Xero read per poll cycle for every trigger watching the same feed in a triggerer.

Triggers that watch the same connection, organisation, resource and filters join one
:class:`FeedGroup` in their event loop. Each trigger registers the oldest position it still
needs; when a trigger polls, it reuses the group's newest snapshot if that snapshot was
taken after the trigger's own previous poll and covers its range, and otherwise reads the
range from the oldest registered position for everyone. Polls fall on the wall clock's
multiples of ``poll_interval`` (:func:`next_tick`) and read up to a tick's instant (a
trigger's first poll, at once, up to the latest tick's), so triggers that started at
different moments still ask for the same ranges. With triggers polling every ``poll_interval``
seconds, a feed therefore costs about one read per interval however many sensors wait on
it. The group also owns one async hook (one HTTP client, one token
manager) for its members. Everything here runs on the triggerer's event loop; the only
blocking work (token refresh, a connection lookup, the store) happens in threads.

With the daily call plan (:mod:`xero_provider.state.call_plan`, on unless the connection
says ``call_plan: off``) the group also:

* reads the feed's *source*: bills and sales invoices share one ``Invoices`` read, each
  trigger selecting its own type from the snapshot;
* takes its poll interval from the organisation's plan (registering the feed there), so
  the day's polls fit the day's limit whatever the DAGs say;
* wakes its triggers when a webhook marked the source changed (one read of the store per
  :data:`WAKE_SECONDS` for the whole group, no Xero call);
* before calling Xero, asks the store whether another process already found the range
  empty, and after a read that found nothing, says so there (``reading.planned_read``,
  which poke-mode sensors use too).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from xero_provider.state.call_plan import FeedPlan, day_limit_of
from xero_provider.state.feed import Feed, Position
from xero_provider.triggers.reading import planned_read, source_feed

log = logging.getLogger(__name__)
WAKE_SECONDS = 2.0  # how often waiting triggers look for a webhook's mark (store only)
PLAN_REFRESH_SECONDS = 30.0  # how long a group keeps the plan's answer


def next_tick(interval: float, now: float | None = None) -> float:
    """The next multiple of ``interval`` seconds since the epoch: the feed's shared poll tick.

    Deferred tasks reach the triggerer at scattered moments; polling each ``interval``
    after its own previous poll would scatter a feed's polls over the whole interval, each
    asking for a later range than the last read covers, so each would read again. Polls
    at a tick read up to the tick's instant (less the settle lag), whenever they wake.
    """
    if not interval > 0:
        raise ValueError(f"poll interval must be more than 0 seconds, got {interval!r}")
    now = time.time() if now is None else now
    return (now // interval + 1) * interval


@dataclass
class Snapshot:
    """The exact records of ``(lower, upper]`` as read at ``taken_at`` (monotonic)."""

    lower: Position
    upper: Position
    records: list[dict[str, Any]]
    taken_at: float
    requests: int

    def covers(self, lower: Position, upper: Position) -> bool:
        starts_early = self.lower.ts < lower.ts or (
            self.lower.ts == lower.ts and self.lower.ids <= lower.ids
        )
        return starts_early and self.upper.ts >= upper.ts and not self.upper.ids


@dataclass
class FeedGroup:
    """The triggers of one event loop that watch one feed."""

    conn_id: str
    tenant_id: str | None
    feed: Feed
    members: dict[int, Position] = field(default_factory=dict)
    snapshot: Snapshot | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    hook: Any = None
    reads: int = 0  # ranges read from Xero (each one or more pages)
    requests: int = 0  # pages requested
    spared: int = 0  # reads another process had done (found empty)
    plan: Any = None  # the organisation's CallPlan (False: the connection turned it off)
    plan_answer: tuple[FeedPlan, float] | None = None  # (plan, monotonic time asked)
    mark: tuple[float | None, float] = (None, -1e9)  # (webhook mark, monotonic time looked)

    def oldest(self, fallback: Position) -> Position:
        positions = [*self.members.values(), fallback]
        return min(positions, key=lambda p: (p.ts, -len(p.ids)))

    async def read(
        self, member: int, lower: Position, upper: Position, last_poll: float
    ) -> Snapshot:
        """A snapshot covering ``(lower, upper]`` taken after ``last_poll``; reads if needed."""
        async with self.lock:
            snap = self.snapshot
            if snap is not None and snap.taken_at > last_poll and snap.covers(lower, upper):
                return snap
            start = self.oldest(lower)
            plan = await self._plan()
            result = await self._hook().drive(planned_read(plan, self.feed, start, upper))
            if result.spared:
                self.spared += 1
            else:
                self.reads += 1
                self.requests += result.requests
            self.snapshot = Snapshot(
                start, upper, result.records, time.monotonic(), result.requests
            )
            return self.snapshot

    # --- the daily call plan -------------------------------------------------------------

    async def _plan(self) -> Any:
        """The organisation's plan, or False when the connection turned it off."""
        if self.plan is None:
            from xero_provider.state.call_plan import plan_for

            hook = self._hook()
            config = await hook.aconfig()
            plan = await asyncio.to_thread(plan_for, config, hook.tenant_id)
            self.plan = plan if plan is not None else False
        return self.plan

    async def interval(self, hint: float) -> float:
        """Seconds between this feed's polls: the plan's, never shorter than ``hint``."""
        plan = await self._plan()
        if not plan:
            return hint
        answer = self.plan_answer
        fresh = PLAN_REFRESH_SECONDS * plan.settings.day_seconds / 86400.0
        if answer is None or time.monotonic() - answer[1] > min(fresh, answer[0].interval):
            left, resets, limit = await self._day_left(plan.settings.per_day)
            chosen = await asyncio.to_thread(
                plan.watch, self.feed.resource, left, resets, day_limit=limit
            )
            if answer is None or (chosen.stretched, chosen.driven_by) != (
                answer[0].stretched,
                answer[0].driven_by,
            ):
                log.info(
                    "Call plan for %s (%s): poll every %.0f s; %s",
                    self.feed.resource,
                    chosen.driven_by,
                    chosen.interval,
                    chosen.reason,
                )
            self.plan_answer = answer = (chosen, time.monotonic())
        return max(hint, answer[0].interval)

    async def _day_left(self, per_day: int) -> tuple[int | None, float | None, int | None]:
        """Calls left today, seconds to the day window's reset, as the budget knows, and
        Xero's own day limit when its ``X-DayLimit-Remaining`` shows one smaller than the
        connection's ``per_day`` (``call_plan.day_limit_of``; None otherwise)."""
        left = await self._hook().remaining_calls()
        day = day_limit_of(per_day, left)
        return day.calls_left, (left.day_resets_in_seconds or None), day.learned

    async def changed_since(self, since: float) -> float | None:
        """A webhook's mark on this feed's source after ``since`` (wall clock), if any."""
        plan = await self._plan()
        if not plan:
            return None
        mark, looked = self.mark
        wake = WAKE_SECONDS * min(1.0, plan.settings.day_seconds / 86400.0 * 24)
        if time.monotonic() - looked >= wake:
            mark = await asyncio.to_thread(plan.changed_since, self.feed.resource, 0.0)
            self.mark = (mark, time.monotonic())
        return mark if mark is not None and mark > since else None

    def _hook(self) -> Any:
        if self.hook is None:
            from xero_provider.hooks import XeroAsyncHook

            self.hook = XeroAsyncHook(self.conn_id, tenant_id=self.tenant_id)
        return self.hook


_groups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, FeedGroup]] = (
    weakref.WeakKeyDictionary()
)
_ids = itertools.count(1)


def groups() -> dict[tuple, FeedGroup]:
    """The feed groups of the running event loop (tests and the benchmark read counters)."""
    return _groups.setdefault(asyncio.get_running_loop(), {})


class Membership:
    """``async with Membership(...) as group``: join a feed group for a trigger's lifetime."""

    def __init__(self, conn_id: str, tenant_id: str | None, feed: Feed, lower: Position) -> None:
        source = source_feed(feed)
        self.key = (conn_id, tenant_id, source.key())
        self.conn_id, self.tenant_id, self.feed, self.lower = conn_id, tenant_id, source, lower
        self.seen_mark = lower.ts / 1000  # webhook marks after the start position count
        self.member = next(_ids)
        self.group: FeedGroup | None = None

    async def __aenter__(self) -> Membership:
        table = groups()
        group = table.get(self.key)
        if group is None:
            group = table[self.key] = FeedGroup(self.conn_id, self.tenant_id, self.feed)
        group.members[self.member] = self.lower
        self.group = group
        return self

    def move(self, lower: Position) -> None:
        """This trigger no longer needs anything before ``lower``."""
        self.group.members[self.member] = lower

    async def read(self, lower: Position, upper: Position, last_poll: float) -> Snapshot:
        return await self.group.read(self.member, lower, upper, last_poll)

    async def next_poll(self, hint: float, settle: float, use_plan: bool = True) -> float:
        """Sleep until this feed's next poll; return the instant it reads up to (+ settle).

        Polls fall on wall-clock multiples of the planned interval (shared by every
        trigger of the feed); a webhook's mark at ``M`` brings the poll forward to
        ``M + settle`` (the change, made before ``M``, has settled by then), reading up
        to ``M`` rounded up to a whole second: every trigger woken by the same mark asks
        for the same range.
        """
        group = self.group
        while True:
            interval = await group.interval(hint) if use_plan else hint
            tick = next_tick(interval)
            mark = await group.changed_since(self.seen_mark) if use_plan else None
            now = time.time()
            if mark is not None:
                self.seen_mark = mark
                # reads are in whole seconds: up to the second after the mark
                at = math.ceil(mark) + settle
                await asyncio.sleep(max(0.0, at - now))
                return at
            if not use_plan:
                await asyncio.sleep(max(0.0, tick - now))
                return tick
            step = (
                WAKE_SECONDS * min(1.0, group.plan.settings.day_seconds / 86400.0 * 24)
                if group.plan
                else interval
            )
            if tick - now <= step:
                await asyncio.sleep(max(0.0, tick - now))
                return tick
            await asyncio.sleep(step)

    async def __aexit__(self, *exc: object) -> None:
        group, self.group = self.group, None
        group.members.pop(self.member, None)
        if not group.members:
            groups().pop(self.key, None)
            if group.hook is not None:
                await group.hook.aclose()
