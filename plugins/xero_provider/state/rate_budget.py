"""One rate budget per organisation and per app, shared by every process using the store.

Xero counts calls per (app, organisation) in fixed minute and day windows, and per app
across organisations in minutes (API_NOTES.md "Rate limits"; the sandbox's ``limits.py``
does the same: a window starts at the first call after the previous one ended). Pacing
from response headers alone lets ten processes each believe they have the minute to
themselves; so before each call a process takes one unit from a shared counter that
mirrors Xero's windows, and waits when the window is spent.

Where the counter lives: the token store's database, in its own table. Every process and
machine that shares a connection already shares that database (refresh-token rotation
needs it), it has the row locks this needs, and it adds nothing to deploy; a Redis
counter would answer in a tenth of the time, but at Xero's 60 calls a minute per
organisation one short transaction per call (about a millisecond) is not what limits
anyone, and a second store would be one more thing that must be shared correctly.

The counter is a correction-fed mirror, not a guess: each response's
``X-MinLimit-Remaining``, ``X-DayLimit-Remaining`` and ``X-AppMinLimit-Remaining`` say how
many calls Xero has counted (calls from other apps or machines outside the store
included), and when Xero counted more than the mirror did, the mirror takes Xero's
figure; a minute 429 marks the window spent until its ``Retry-After``. Windows get a
small margin (3% of a minute, the day's too) because Xero starts its window when the
first call *arrives*, a little after the process took its unit. The margin is given back as soon as
Xero tells: an answer saying only one call was counted (``X-MinLimit-Remaining`` one below
the limit) was the first of Xero's window, which therefore began before that answer came
and ends at most a window's length after it (plus a quarter second for clocks that differ
between machines); waiting the whole margin at every minute's end cost a 50,000-record
sync about 3% of its time.

A correction belongs to the window its call's unit was taken in, not to the window
current when the answer arrives: a call sent in the last moments of a window is counted
by Xero in that window, and with a few calls in flight its answer ("0 remaining") often
arrives after the next window began here. Counted against the new window it blocked a
sync for a whole minute after 22 calls while Xero's window had long reset (issue 20).
So :meth:`RateBudget.take` notes, in the caller's context, the window each unit came
from, and :meth:`RateBudget.observe` files Xero's figure under that window only.

Xero's day limit can be smaller than the connection says (a Starter app or organisation:
1,000, API_NOTES.md "Rate limits"). The header gives only what is left, and the mirror
reads it against the connection's limit: 999 left of "5,000" is taken as 4,001 counted, so
the mirror stops at Xero's real end of the day, but the calls counted no longer say what
Xero's limit is. So when Xero's first figure of a day window raises the count, the calls
counted *before* it plus what Xero says is left are Xero's limit; the smallest such figure
of the window is kept (``xero_rate_day_limit``) and :meth:`RateBudget.remaining` reports
it, for the daily call plan (``call_plan.day_limit_of``). That sum is off by the calls
one side counted and the other did not (a unit taken for ``GET /connections``, which Xero
does not count against the organisation; calls from a machine outside the store), so a
figure within 2% of one of Xero's published day limits is taken as that limit.

A unit is only good for a call that reaches Xero inside the window it was counted in
(issue 24: the hour soak's one un-injected 429). A call that arrives after Xero's window
ended is counted by Xero in its *next* window, which the mirror then counts from zero: one
call taken in the last moments of a window and late by 0.2 s, followed by a busy minute,
was Xero's 61st. So no unit is handed out in a window's last ``GUARD`` (6 s of a minute:
those calls wait for the next window; not while every window has plenty left, where a
late call cannot fill Xero's next one), and :meth:`RateBudget.fresh` tells a caller whose
unit aged into that guard while it waited (for a call slot, or stalled on a loaded
machine) to take a new one before sending. And only Xero's own limiter moves the
mirror's window: a minute 429 re-anchors the window at its ``Retry-After`` only when the
answer carries Xero's count of that window (Xero sends the ``X-*Limit-Remaining`` headers
on every response: API_NOTES.md "Rate limits", limits page); a 429 without it (a gateway,
the soak's injected faults) says nothing about Xero's window: re-anchoring on it opened a
fresh window here while Xero's was still counting, and the calls that followed got real
429s (reproduced against the sandbox: 2 un-injected 429s in 55 calls, none after).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore

# Of the *minute's* length (1.8 s at Xero's 60 s), for the delay between taking a unit and
# the call arriving at Xero. The delay does not grow with the window: the day window gets
# the same seconds, not 3% of a day (that was 43 minutes, and the ``plan`` CLI showed the
# day "resetting in 88949 s" on a fresh organisation, issue 20).
MARGIN = 0.03
# Of the minute's length (6 s at Xero's 60 s): the end of a window in which no unit is
# handed out, so a call still reaches Xero inside the window that counted it when it is
# sent up to this late, less the margin (module docstring; issue 24).
GUARD = 0.1
# What is kept of the margin once Xero said when its window began: for clocks that differ
# between the machines sharing the store (NTP keeps them within milliseconds).
SKEW_SECONDS = 0.25
# Where every window has far more left than a minute's traffic (the app's 10,000, or limits
# switched off), a process takes up to LEASE_MAX units per transaction and spends them
# locally; under Xero's 60 a minute per organisation it always takes one at a time.
LEASE_MAX = 20
LEASE_DIVISOR = 60
MAX_WAIT_SECONDS = 24 * 3600.0
# Xero's published day limits per organisation (API_NOTES.md "Rate limits": Starter and
# higher tiers); a learned limit this close to one is that one (module docstring).
XERO_DAY_LIMITS = (1000, 5000)
DAY_LIMIT_SNAP = 0.02
# The key, among a unit's window starts, of the time until which the unit is good for a
# call (:meth:`RateBudget.fresh`): its windows' guard, or never ending with plenty left.
USE_BY = "use-by"
# The window starts (per window key) of the unit the current thread or task took last:
# the answer to the call it paid for is filed under those windows (module docstring).
_taken: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "xero_budget_unit", default=None
)

metadata = sa.MetaData()
budget_table = sa.Table(
    "xero_rate_budget",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("used", sa.Integer, nullable=False),
    sa.Column("reported_remaining", sa.Integer, nullable=True),  # Xero's last word
    sa.Column("reported_at", sa.Float, nullable=True),
)

# Xero's own day limit, learned in a day window (module docstring): one row per day key.
day_limit_table = sa.Table(
    "xero_rate_day_limit",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("window_start", sa.Float, nullable=False),  # the day window it was learned in
    sa.Column("day_limit", sa.Integer, nullable=False),
)


# One statement for all of a call's windows (executemany); a reported figure only
# replaces the stored one when there is a new one.
_UPDATE = (
    sa.update(budget_table)
    .where(budget_table.c.key == sa.bindparam("k"))
    .values(
        window_start=sa.bindparam("s"),
        used=sa.bindparam("u"),
        reported_remaining=sa.func.coalesce(
            sa.bindparam("r", type_=sa.Integer), budget_table.c.reported_remaining
        ),
        reported_at=sa.func.coalesce(sa.bindparam("t", type_=sa.Float), budget_table.c.reported_at),
    )
)


@dataclass(frozen=True)
class Limits:
    """Xero's limits for one app; ``window_seconds`` is its "minute" (60 unless time-scaled)."""

    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10000
    window_seconds: float = 60.0

    @property
    def day_seconds(self) -> float:
        return self.window_seconds * 24 * 60

    @classmethod
    def from_config(cls, config: Any) -> Limits:
        """The limits a parsed ``xero`` connection names (Xero's by default)."""
        return cls(
            per_minute=config.rate_limit_per_minute,
            per_day=config.rate_limit_per_day,
            app_per_minute=config.app_rate_limit_per_minute,
            window_seconds=config.rate_window_seconds,
        )


@dataclass(frozen=True)
class _Window:
    key: str
    length: float
    limit: int
    header: str  # the response header that reports what is left of it
    margin: float  # seconds added to its length (MARGIN of the minute, see above)
    guard: float  # its last seconds, in which no unit is handed out (GUARD, see above)

    @property
    def span(self) -> float:
        """How long the mirror keeps the window: its length plus the arrival margin."""
        return self.length + self.margin

    def use_by(self, start: float) -> float:
        """When a unit of the window starting at ``start`` stops being good for a call."""
        return start + self.span - self.guard


@dataclass(frozen=True)
class Remaining:
    """What is left of each window, as the shared budget knows it."""

    minute: int
    day: int
    app_minute: int
    day_reported_by_xero: int | None
    day_resets_in_seconds: float
    day_limit_learned: int | None = None  # Xero's, when smaller than the connection's

    def as_dict(self) -> dict[str, Any]:
        return {
            "minute": self.minute,
            "day": self.day,
            "app_minute": self.app_minute,
            "day_reported_by_xero": self.day_reported_by_xero,
            "day_resets_in_seconds": round(self.day_resets_in_seconds, 1),
            "day_limit_learned": self.day_limit_learned,
        }


class RateBudget:
    """Take a unit before each call; feed each response back with :meth:`observe`.

    :param store: the token store whose database holds the counters.
    :param client_id: the app (its per-app minute is shared by all its organisations).
    :param limits: Xero's limits (time-scaled in benchmarks).
    """

    def __init__(self, store: TokenStore, client_id: str, limits: Limits | None = None) -> None:
        self.store = store
        self.client_id = client_id
        self.limits = limits or Limits()
        # header corrections to write: (used, answered at, start of the unit's window)
        self._pending: dict[str, tuple[int, float, float | None]] = {}
        self._opened: dict[str, float] = {}  # answers that were the first of Xero's window
        self._rows_made: set[str] = set()
        # tenant -> (window end, units left, window starts): units taken, not yet spent
        self._leases: dict[str, tuple[float, int, dict[str, float]]] = {}
        self._lock = threading.Lock()
        store.ensure_tables(metadata)

    def _windows(self, tenant: str) -> list[_Window]:
        limits = self.limits
        margin = limits.window_seconds * MARGIN
        guard = limits.window_seconds * GUARD
        return [
            _Window(
                f"minute:{self.client_id}:{tenant}",
                limits.window_seconds,
                limits.per_minute,
                "X-MinLimit-Remaining",
                margin,
                guard,
            ),
            _Window(
                f"day:{self.client_id}:{tenant}",
                limits.day_seconds,
                limits.per_day,
                "X-DayLimit-Remaining",
                margin,
                guard,
            ),
            _Window(
                f"app:{self.client_id}",
                limits.window_seconds,
                limits.app_per_minute,
                "X-AppMinLimit-Remaining",
                margin,
                guard,
            ),
        ]

    # --- taking units ------------------------------------------------------------------

    def try_take(self, tenant: str, now: float | None = None) -> float:
        """Take one unit of every window, or none: 0.0 when taken, else seconds to wait."""
        wait, starts = self._take_unit(tenant, now)
        if starts is not None:
            _taken.set(starts)
        return wait

    def _take_unit(self, tenant: str, now: float | None) -> tuple[float, dict[str, float] | None]:
        """:meth:`try_take`, also returning the windows (key: start) the unit came from."""
        now = time.time() if now is None else now
        with self._lock:
            lease = self._leases.get(tenant)  # (use by, units left, window starts)
            if lease is not None and lease[1] > 0 and now < lease[0]:
                self._leases[tenant] = (lease[0], lease[1] - 1, lease[2])
                return 0.0, dict(lease[2])
        windows = self._windows(tenant)
        with self._lock:
            pending, self._pending = self._pending, {}
            opened, self._opened = self._opened, {}
        with self.store.transaction(write=True) as conn:
            rows = self._lock_rows(conn, [w.key for w in windows], now)
            wait = 0.0
            states = {}
            for window in windows:
                start, used = rows[window.key]
                span = window.span
                first_answer = opened.get(window.key)
                if first_answer is not None and start <= first_answer < start + span:
                    # Xero's window began by this answer: it ends a length after, at most
                    skew = min(SKEW_SECONDS, window.margin)
                    start = min(start, first_answer + window.length + skew - span)
                row_start = rows[window.key][0]
                rolled = now >= start + span
                if rolled:
                    start, used = now, 0
                report = pending.get(window.key)
                if report is not None and _about(report, row_start, rolled, start):
                    if window.key.startswith("day:") and report[0] > used:
                        # counted before Xero's figure + what it says is left
                        self._learn_day_limit(conn, window, start, used + window.limit - report[0])
                    used = max(used, report[0])
                states[window.key] = (start, used)
            # With plenty left everywhere (limits switched off, as in the benchmarks) a
            # late call cannot fill Xero's next window: no guard, as for the leases below.
            plenty = all((w.limit - states[w.key][1]) // LEASE_DIVISOR > 1 for w in windows)
            for window in windows:
                start, used = states[window.key]
                if used >= window.limit or (not plenty and now >= window.use_by(start)):
                    wait = max(wait, start + window.span - now)  # spent, or in its guard
            if wait == 0:
                wait = self._fair_share_wait(conn, tenant, states, now)
            units = 0
            if wait == 0:
                units = max(
                    1,
                    min(
                        LEASE_MAX,
                        *((w.limit - states[w.key][1]) // LEASE_DIVISOR for w in windows),
                    ),
                )
            updates = []
            for window in windows:
                start, used = states[window.key]
                row = {"k": window.key, "s": start, "u": used + units, "r": None, "t": None}
                if window.key in pending:
                    row["r"] = window.limit - pending[window.key][0]
                    row["t"] = pending[window.key][1]
                updates.append(row)
            conn.execute(_UPDATE, updates)
        starts = {w.key: states[w.key][0] for w in windows}
        starts[USE_BY] = min(
            states[w.key][0] + w.span if plenty else w.use_by(states[w.key][0]) for w in windows
        )
        if units > 1:
            ends = starts[USE_BY]
            with self._lock:
                self._leases[tenant] = (ends, units - 1, starts)
        if wait > 0:
            return min(wait, MAX_WAIT_SECONDS), None
        return 0.0, starts

    def _learn_day_limit(self, conn: Any, window: _Window, start: float, limit: int) -> None:
        """Keep ``limit`` as Xero's day limit in the window starting at ``start`` when it is
        smaller than the connection's and than one learned before in that window."""
        limit = next((k for k in XERO_DAY_LIMITS if abs(limit - k) <= k * DAY_LIMIT_SNAP), limit)
        if not 0 < limit < window.limit:
            return
        table = day_limit_table
        known = conn.execute(
            sa.select(table.c.window_start, table.c.day_limit).where(table.c.key == window.key)
        ).first()
        if known is None:
            conn.execute(
                self.store.insert(table).on_conflict_do_nothing(index_elements=["key"]),
                [{"key": window.key, "window_start": start, "day_limit": limit}],
            )
        elif known.window_start < start or limit < known.day_limit:
            conn.execute(
                sa.update(table)
                .where(table.c.key == window.key)
                .values(window_start=start, day_limit=limit)
            )

    def _fair_share_wait(
        self, conn: Any, tenant: str, states: dict[str, tuple[float, int]], now: float
    ) -> float:
        """Seconds this organisation waits so that the others get their share of the app's
        minute; 0.0 while there is plenty left.

        Xero's app limit (10,000 a minute, API_NOTES.md "Rate limits") is one window for
        every organisation: first come, first served, an organisation with many processes
        calling (a full sync) would take it from one calling now and then. So once half of
        the app's minute is spent, an organisation that has already made its share this
        minute (the app's limit over the organisations that called within the last
        window) waits for the sooner of its own next minute and the app's next minute.
        """
        limits = self.limits
        span = limits.window_seconds * (1 + MARGIN)
        app_start, app_used = states[f"app:{self.client_id}"]
        if app_used * 2 < limits.app_per_minute:
            return 0.0
        start, used = states[f"minute:{self.client_id}:{tenant}"]
        active = conn.execute(
            sa.select(sa.func.count())
            .select_from(budget_table)
            .where(
                budget_table.c.key.startswith(f"minute:{self.client_id}:", autoescape=True),
                budget_table.c.window_start > now - span,
            )
        ).scalar()
        share = -(-limits.app_per_minute // max(int(active or 1), 1))
        if used < share:
            return 0.0
        return max(min(start, app_start) + span - now, 0.0)

    def _lock_rows(self, conn: Any, keys: list[str], now: float) -> dict[str, tuple[float, int]]:
        """The windows' rows, locked in one order. A row this process believes made may be
        another thread's insert not yet committed (a triggerer takes from many threads at
        once): on PostgreSQL the lock then finds nothing, so insert-if-absent (which waits
        for that commit) and look again."""
        missing = [k for k in keys if k not in self._rows_made]
        if missing:  # once per key and process: rows are never deleted
            self._insert_rows(conn, missing)
        rows = self._select_for_update(conn, keys)
        absent = [k for k in keys if k not in rows]
        if absent:
            self._insert_rows(conn, absent)
            rows = self._select_for_update(conn, keys)
        self._rows_made.update(keys)
        return rows

    def _insert_rows(self, conn: Any, keys: list[str]) -> None:
        insert = self.store.insert(budget_table).on_conflict_do_nothing(index_elements=["key"])
        conn.execute(insert, [{"key": k, "window_start": 0.0, "used": 0} for k in keys])

    @staticmethod
    def _select_for_update(conn: Any, keys: list[str]) -> dict[str, tuple[float, int]]:
        query = (
            sa.select(budget_table.c.key, budget_table.c.window_start, budget_table.c.used)
            .where(budget_table.c.key.in_(keys))
            .order_by(budget_table.c.key)  # one lock order for everyone: no deadlocks
            .with_for_update()
        )
        return {row.key: (row.window_start, row.used) for row in conn.execute(query)}

    def release(self, tenant: str | None = None, now: float | None = None) -> None:
        """Give back units taken but not spent (a hook closing), while their window lasts."""
        now = time.time() if now is None else now
        with self._lock:
            tenants = [tenant] if tenant is not None else list(self._leases)
            leases = [(t, self._leases.pop(t)) for t in tenants if t in self._leases]
        for _, (ends, units, starts) in leases:
            if units <= 0 or now >= ends:
                continue
            with self.store.transaction(write=True) as conn:
                for key, start in starts.items():
                    conn.execute(
                        sa.update(budget_table)
                        .where(budget_table.c.key == key, budget_table.c.window_start == start)
                        .values(used=sa.func.max(budget_table.c.used - units, 0))
                        if not self.store.is_postgres
                        else sa.update(budget_table)
                        .where(budget_table.c.key == key, budget_table.c.window_start == start)
                        .values(used=sa.func.greatest(budget_table.c.used - units, 0))
                    )

    def fresh(self, tenant: str, now: float | None = None) -> bool:
        """Whether the unit this thread or task took last is still good for a call: its
        windows have not reached their guard. A caller that waited after taking it (for a
        call slot, or stalled) takes a new one when not, so its call cannot reach Xero
        after the window that counted it (module docstring)."""
        starts = _taken.get()
        now = time.time() if now is None else now
        return bool(starts) and now < starts.get(USE_BY, 0.0)

    def take(self, tenant: str, deadline_seconds: float = MAX_WAIT_SECONDS) -> float:
        """Block until a unit is taken; returns the seconds waited."""
        started = time.monotonic()
        while True:
            wait = self.try_take(tenant)
            if wait <= 0:
                return time.monotonic() - started
            if time.monotonic() - started + wait > deadline_seconds:
                raise TimeoutError(f"no Xero call allowed within {deadline_seconds:g} s")
            time.sleep(wait)

    async def atake(self, tenant: str, deadline_seconds: float = MAX_WAIT_SECONDS) -> float:
        """The same without blocking the event loop (the database work runs in a thread)."""
        started = time.monotonic()
        while True:
            # the worker thread's context is a copy: note the unit's windows in ours
            wait, starts = await asyncio.to_thread(self._take_unit, tenant, None)
            if wait <= 0:
                _taken.set(starts)
                return time.monotonic() - started
            if time.monotonic() - started + wait > deadline_seconds:
                raise TimeoutError(f"no Xero call allowed within {deadline_seconds:g} s")
            await asyncio.sleep(wait)

    # --- corrections from Xero ---------------------------------------------------------

    def observe(
        self, tenant: str, status: int, headers: Mapping[str, str], now: float | None = None
    ) -> None:
        """Remember what Xero said it counted; written with the next unit taken.

        A minute 429 is written at once: the window is spent until ``Retry-After``.
        """
        spend = self._note(tenant, status, headers, now)
        if spend is not None:
            self._spend_until(*spend)

    async def aobserve(
        self, tenant: str, status: int, headers: Mapping[str, str], now: float | None = None
    ) -> None:
        """The same without blocking the event loop: a minute 429's write (a transaction
        with ``SELECT ... FOR UPDATE``) runs in a thread; the rest is memory only."""
        spend = self._note(tenant, status, headers, now)
        if spend is not None:
            await asyncio.to_thread(self._spend_until, *spend)

    def _note(
        self, tenant: str, status: int, headers: Mapping[str, str], now: float | None
    ) -> tuple[_Window, float, float] | None:
        """Keep Xero's counts in memory; return the window a minute 429 spends (to write)."""
        now = time.time() if now is None else now
        for window in self._windows(tenant):
            value = headers.get(window.header)
            if value is None:
                continue
            try:
                used = window.limit - int(value)
            except ValueError:
                continue
            unit_start = (_taken.get() or {}).get(window.key)
            with self._lock:
                known = self._pending.get(window.key)
                newer = known is not None and (unit_start or 0) > (known[2] or 0)
                if known is None or newer or used > known[0]:
                    self._pending[window.key] = (used, now, unit_start)
                if used == 1:
                    self._opened[window.key] = now
        problem = (headers.get("X-Rate-Limit-Problem") or "").lower()
        if status != 429 or problem not in ("minute", "appminute"):
            return None
        try:
            retry_after = float(headers.get("Retry-After") or 1)
        except ValueError:
            retry_after = 1.0
        window = self._windows(tenant)[0 if problem == "minute" else 2]
        if headers.get(window.header) is None:
            # not Xero's limiter's word on its window (module docstring): the call waits
            # its Retry-After (the retry policy), the mirror keeps its window
            return None
        return window, now + retry_after, now

    def _spend_until(self, window: _Window, until: float, now: float) -> None:
        """Mark ``window`` spent until ``until``: Xero's Retry-After is the truth about
        when its window ends, whatever the mirror thought."""
        start = until - window.span
        with self.store.transaction(write=True) as conn:
            self._lock_rows(conn, [window.key], now)
            conn.execute(
                sa.update(budget_table)
                .where(budget_table.c.key == window.key)
                .values(window_start=start, used=window.limit)
            )

    # --- what is left ------------------------------------------------------------------

    def remaining(self, tenant: str, now: float | None = None) -> Remaining:
        """What is left of the minute, the day and the app's minute (no unit taken)."""
        now = time.time() if now is None else now
        windows = self._windows(tenant)
        with self.store.transaction(write=False) as conn:
            rows = {
                row.key: row
                for row in conn.execute(
                    sa.select(budget_table).where(budget_table.c.key.in_([w.key for w in windows]))
                )
            }
            day_key = windows[1].key
            learned = conn.execute(
                sa.select(day_limit_table.c.window_start, day_limit_table.c.day_limit).where(
                    day_limit_table.c.key == day_key
                )
            ).first()
        left = []
        day_reported, day_resets, day_limit = None, 0.0, None
        for window in windows:
            row = rows.get(window.key)
            span = window.span
            live = row is not None and now < row.window_start + span
            left.append(window.limit - (row.used if live else 0))
            if window.key.startswith("day:") and live:
                # never "more than a day": the margin is for calls in flight, not a wait
                day_resets = min(window.length, row.window_start + span - now)
                day_reported = row.reported_remaining
                # learned in this window (its start only moves earlier, or on at a roll)
                if learned is not None and learned.window_start >= row.window_start:
                    day_limit = learned.day_limit
        return Remaining(left[0], left[1], left[2], day_reported, day_resets, day_limit)


def _about(
    report: tuple[int, float, float | None], row_start: float, rolled: bool, start: float
) -> bool:
    """Whether Xero's figure ``report`` is about the window that starts at ``start``.

    Filed under the window its unit came from (``row_start`` is that window's start as
    stored, before this take rolled or re-anchored it; ``rolled``: this take began a new
    window): a window that ended since has nothing to do with it. Without a unit (an
    answer to a call that took none), the answer's time decides, as before.
    """
    unit_start = report[2]
    if unit_start is not None:
        return unit_start == row_start and not rolled
    return report[1] >= start


_budgets: dict[tuple[str, str, Limits], RateBudget] = {}
_budgets_lock = threading.Lock()


def budget_for(store: TokenStore, client_id: str, limits: Limits) -> RateBudget:
    """One budget object per store, app and limits in this process."""
    key = (store.url, client_id, limits)
    with _budgets_lock:
        budget = _budgets.get(key)
        if budget is None:
            budget = _budgets[key] = RateBudget(store, client_id, limits)
        return budget
