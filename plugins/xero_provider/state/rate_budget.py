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
small margin (3% of their length) because Xero starts its window when the first call
*arrives*, a little after the process took its unit. The margin is given back as soon as
Xero tells: an answer saying only one call was counted (``X-MinLimit-Remaining`` one below
the limit) was the first of Xero's window, which therefore began before that answer came
and ends at most a window's length after it (plus a quarter second for clocks that differ
between machines); waiting the whole margin at every minute's end cost a 50,000-record
sync about 3% of its time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore

MARGIN = 0.03  # of a window's length, for the delay between taking a unit and arriving
# What is kept of the margin once Xero said when its window began: for clocks that differ
# between the machines sharing the store (NTP keeps them within milliseconds).
SKEW_SECONDS = 0.25
# Where every window has far more left than a minute's traffic (the app's 10,000, or limits
# switched off), a process takes up to LEASE_MAX units per transaction and spends them
# locally; under Xero's 60 a minute per organisation it always takes one at a time.
LEASE_MAX = 20
LEASE_DIVISOR = 60
MAX_WAIT_SECONDS = 24 * 3600.0

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


@dataclass(frozen=True)
class Remaining:
    """What is left of each window, as the shared budget knows it."""

    minute: int
    day: int
    app_minute: int
    day_reported_by_xero: int | None
    day_resets_in_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "minute": self.minute,
            "day": self.day,
            "app_minute": self.app_minute,
            "day_reported_by_xero": self.day_reported_by_xero,
            "day_resets_in_seconds": round(self.day_resets_in_seconds, 1),
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
        self._pending: dict[str, tuple[int, float]] = {}  # header corrections to write
        self._opened: dict[str, float] = {}  # answers that were the first of Xero's window
        self._rows_made: set[str] = set()
        # tenant -> (window end, units left, window starts): units taken, not yet spent
        self._leases: dict[str, tuple[float, int, dict[str, float]]] = {}
        self._lock = threading.Lock()
        store.ensure_tables(metadata)

    def _windows(self, tenant: str) -> list[_Window]:
        limits = self.limits
        return [
            _Window(
                f"minute:{self.client_id}:{tenant}",
                limits.window_seconds,
                limits.per_minute,
                "X-MinLimit-Remaining",
            ),
            _Window(
                f"day:{self.client_id}:{tenant}",
                limits.day_seconds,
                limits.per_day,
                "X-DayLimit-Remaining",
            ),
            _Window(
                f"app:{self.client_id}",
                limits.window_seconds,
                limits.app_per_minute,
                "X-AppMinLimit-Remaining",
            ),
        ]

    # --- taking units ------------------------------------------------------------------

    def try_take(self, tenant: str, now: float | None = None) -> float:
        """Take one unit of every window, or none: 0.0 when taken, else seconds to wait."""
        now = time.time() if now is None else now
        with self._lock:
            lease = self._leases.get(tenant)
            if lease is not None and lease[1] > 0 and now < lease[0]:
                self._leases[tenant] = (lease[0], lease[1] - 1, lease[2])
                return 0.0
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
                span = window.length * (1 + MARGIN)
                first_answer = opened.get(window.key)
                if first_answer is not None and start <= first_answer < start + span:
                    # Xero's window began by this answer: it ends a length after, at most
                    skew = min(SKEW_SECONDS, window.length * MARGIN)
                    start = min(start, first_answer + window.length + skew - span)
                if now >= start + span:
                    start, used = now, 0
                report = pending.get(window.key)
                if report is not None and report[1] >= start:  # about this very window
                    used = max(used, report[0])
                states[window.key] = (start, used)
                if used >= window.limit:
                    wait = max(wait, start + span - now)
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
        if units > 1:
            ends = min(states[w.key][0] + w.length * (1 + MARGIN) for w in windows)
            starts = {w.key: states[w.key][0] for w in windows}
            with self._lock:
                self._leases[tenant] = (ends, units - 1, starts)
        return min(wait, MAX_WAIT_SECONDS)

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
            wait = await asyncio.to_thread(self.try_take, tenant)
            if wait <= 0:
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
            with self._lock:
                known = self._pending.get(window.key)
                if known is None or used > known[0]:
                    self._pending[window.key] = (used, now)
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
        return window, now + retry_after, now

    def _spend_until(self, window: _Window, until: float, now: float) -> None:
        """Mark ``window`` spent until ``until``: Xero's Retry-After is the truth about
        when its window ends, whatever the mirror thought."""
        start = until - window.length * (1 + MARGIN)
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
        left = []
        day_reported, day_resets = None, 0.0
        for window in windows:
            row = rows.get(window.key)
            span = window.length * (1 + MARGIN)
            live = row is not None and now < row.window_start + span
            left.append(window.limit - (row.used if live else 0))
            if window.key.startswith("day:") and live:
                day_resets = row.window_start + span - now
                day_reported = row.reported_remaining
        return Remaining(left[0], left[1], left[2], day_reported, day_resets)


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
