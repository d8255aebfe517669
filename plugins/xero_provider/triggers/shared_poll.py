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
blocking work (token refresh, a connection lookup) happens in the hook's own threads.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from xero_provider.state.feed import Feed, Position
from xero_provider.triggers.reading import read_range_async


def next_tick(interval: float, now: float | None = None) -> float:
    """The next multiple of ``interval`` seconds since the epoch: the feed's shared poll tick.

    Deferred tasks reach the triggerer at scattered moments; polling each ``interval``
    after its own previous poll would scatter a feed's polls over the whole interval, each
    asking for a later range than the last read covers, so each would read again. Polls
    at a tick read up to the tick's instant (less the settle lag), whenever they wake.
    """
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
            result = await read_range_async(self._hook(), self.feed, start, upper)
            self.reads += 1
            self.requests += result.requests
            self.snapshot = Snapshot(
                start, upper, result.records, time.monotonic(), result.requests
            )
            return self.snapshot

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
        self.key = (conn_id, tenant_id, feed.key())
        self.conn_id, self.tenant_id, self.feed, self.lower = conn_id, tenant_id, feed, lower
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

    async def __aexit__(self, *exc: object) -> None:
        group, self.group = self.group, None
        group.members.pop(self.member, None)
        if not group.members:
            groups().pop(self.key, None)
            if group.hook is not None:
                await group.hook.aclose()
