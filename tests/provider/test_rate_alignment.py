"""Issue 24: the hour soak's un-injected 429. The shared budget (a real store) against the
sandbox's own rate limiter (``xero_sandbox.limits``, Xero's fixed windows counted at each
call's arrival) on a frozen clock, so each call's take, arrival and answer happen at the
instants a script gives: a call the budget lets through must never be Xero's 61st.

Two ways the mirror and Xero's window came apart (both fail before the fix):

* a 429 that is not Xero limiter's (the soak's injected faults: no ``X-*Limit-Remaining``
  headers) re-anchored the mirror's window at its ``Retry-After``: a fresh window here,
  while Xero's kept counting;
* a unit taken in a window's last moments whose call arrived after Xero's window ended
  (0.2 s late) was counted by Xero in its next window, which the mirror counted from zero.
"""

from __future__ import annotations

import contextvars
import heapq
import uuid
from datetime import UTC, datetime

import pytest

from xero_provider.state.rate_budget import GUARD, Limits, RateBudget
from xero_provider.state.token_store import TokenStore
from xero_sandbox.clock import Clock
from xero_sandbox.errors import RateLimited
from xero_sandbox.limits import RateLimiter

T0 = 1_800_000_000.0  # any instant: the budget and the sandbox's clock both use it
LIMIT = 10
TENANT = "org"


class Xero:
    """The sandbox's limiter on a frozen clock, and the budget of the app calling it."""

    def __init__(self, store_url: str) -> None:
        self.clock = Clock()
        self.clock.freeze(True)
        self.limiter = RateLimiter(self.clock)
        self.limiter.settings.update({"per_minute": LIMIT})
        self.client = f"app-{uuid.uuid4().hex}"
        self.budget = RateBudget(
            TokenStore(store_url), self.client, Limits(per_minute=LIMIT, window_seconds=60)
        )
        self.refused: list[float] = []

    def take(self, at: float) -> tuple[contextvars.Context, float]:
        """Take a unit at ``at`` or as soon after as the budget allows (as ``take`` does),
        in a context of its own (one caller); returns it and when the unit was taken."""
        caller = contextvars.copy_context()
        when = T0 + at
        while (wait := caller.run(self.budget.try_take, TENANT, when)) > 0:
            when += wait
        return caller, when - T0

    def arrive(self, caller: contextvars.Context, at: float) -> int:
        """The call reaches Xero at ``at`` (its limiter counts it there) and is answered;
        the budget observes the answer in the caller's context."""
        self.clock.set(datetime.fromtimestamp(T0 + at, UTC))
        try:
            ticket = self.limiter.acquire(self.client, TENANT, starter=False)
            status, headers = 200, {}
            self.limiter.release(ticket)
        except RateLimited as error:
            status, headers = 429, dict(error.headers)
            self.refused.append(at)
        headers.update(self.limiter.headers(self.client, TENANT, starter=False))
        caller.run(self.budget.observe, TENANT, status, headers, T0 + at + 0.02)
        return status

    def call(self, at: float, late_by: float = 0.01) -> float:
        """One call, taken at ``at`` (or when allowed) and arriving ``late_by`` after."""
        caller, taken = self.take(at)
        self.arrive(caller, taken + late_by)
        return taken

    def herd(self, at: float, size: int, late_by: float = 0.05) -> None:
        """``size`` callers that waited for the same moment: all try to take a unit at
        ``at``, before any answer; those told to wait try again then, in time order."""
        events = [(at, n, "take", None) for n in range(size)]
        heapq.heapify(events)
        while events:
            when, n, kind, caller = heapq.heappop(events)
            if kind == "arrive":
                self.arrive(caller, when)
                continue
            caller = contextvars.copy_context()
            wait = caller.run(self.budget.try_take, TENANT, T0 + when)
            if wait > 0:
                heapq.heappush(events, (when + wait, n, "take", None))
            else:
                heapq.heappush(events, (when + late_by, n, "arrive", caller))


def test_an_injected_429_does_not_open_a_fresh_window_while_xeros_counts_on(
    store_url: str,
) -> None:
    xero = Xero(store_url)
    for i in range(6):
        xero.call(float(i))
    # a 429 that Xero's limiter did not send (a fault: no remaining-calls headers)
    caller, taken = xero.take(10.0)
    headers = {"X-Rate-Limit-Problem": "minute", "Retry-After": "2"}
    caller.run(xero.budget.observe, TENANT, 429, headers, T0 + taken + 0.05)
    xero.herd(12.5, 8)  # the callers that waited out the Retry-After, at once
    assert xero.refused == [], "the budget let through calls Xero's window had no room for"


def test_a_429_from_xeros_limiter_still_ends_the_window_at_retry_after(
    store_url: str,
) -> None:
    xero = Xero(store_url)
    for i in range(6):
        xero.call(float(i))
    # calls the store never saw (another machine) spent Xero's window: its 429 says so,
    # with Xero's count of the window (0 remaining) and when the window ends
    xero.limiter.settings.update({"per_minute": 6})
    caller, taken = xero.take(20.0)
    assert xero.arrive(caller, taken + 0.01) == 429
    wait = xero.budget.try_take(TENANT, now=T0 + 21.0)
    assert wait == pytest.approx(0.01 + 60 - 21.0, abs=0.5)  # until Xero's Retry-After


def test_a_call_taken_at_a_windows_end_is_not_counted_by_xero_in_the_next(
    store_url: str,
) -> None:
    xero = Xero(store_url)
    for i in range(5):
        xero.call(float(i))  # the first answer dates Xero's window: the mirror ends near 60
    xero.call(60.1, late_by=0.2)  # taken in the mirror's last moments, arrives 0.2 s late
    xero.herd(60.5, LIMIT)  # a busy minute begins
    assert xero.refused == [], "a unit of one window reached Xero in the next"


def test_a_unit_is_fresh_until_its_windows_guard(store_url: str) -> None:
    xero = Xero(store_url)
    caller, _ = xero.take(0.0)
    guard = 60 * GUARD
    assert caller.run(xero.budget.fresh, TENANT, T0 + 30.0)
    # waited (a call slot, a stalled process) into the window's guard: take another unit
    assert not caller.run(xero.budget.fresh, TENANT, T0 + 60 * 1.03 - guard + 0.1)
    assert not contextvars.copy_context().run(xero.budget.fresh, TENANT, T0 + 1.0)  # none
    assert xero.budget.try_take(TENANT, now=T0 + 60 * 1.03 - guard + 0.1) > 0  # no unit


def test_with_plenty_left_everywhere_there_is_no_guard(store_url: str) -> None:
    """Limits switched off (the benchmarks' 10**9): a late call cannot fill Xero's next
    window, so the window's end is not held back."""
    unlimited = Limits(per_minute=10**9, per_day=10**9, app_per_minute=10**9)
    budget = RateBudget(TokenStore(store_url), f"app-{uuid.uuid4().hex}", unlimited)
    assert budget.try_take(TENANT, now=T0) == 0.0
    assert budget.try_take(TENANT, now=T0 + 60.0) == 0.0  # in what would be the guard
