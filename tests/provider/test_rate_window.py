"""Issue 20's rate-window bug: Xero's "0 remaining" for a call sent at the end of one
window, answered after the next window began here, was counted against the new window
and blocked calls for a whole window while Xero's had long reset."""

from __future__ import annotations

import contextvars
import threading
import time
import uuid

import pytest

from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook
from xero_provider.state.rate_budget import MARGIN, Limits, RateBudget
from xero_provider.state.token_store import TokenStore

SPAN = 60 * (1 + MARGIN)


def short_minute_connection(
    sandbox, monkeypatch, tmp_path, window: float, per_minute: int, **extra
) -> str:
    """A connection to a sandbox whose Xero minute lasts ``window`` seconds and allows
    ``per_minute`` calls, the connection saying the same (``extra``: more of its fields)."""
    sandbox.control("PUT", "/limits", json={"per_minute": per_minute, "time_scale": 60 / window})
    return xero_connection(
        sandbox,
        monkeypatch,
        tmp_path / "tokens.db",
        rate_window_seconds=window,
        rate_limit_per_minute=per_minute,
        **extra,
    )


def test_an_answer_is_filed_under_the_window_its_unit_came_from(store_url: str) -> None:
    budget = RateBudget(TokenStore(store_url), f"app-{uuid.uuid4().hex}", Limits(per_minute=10))
    late = contextvars.copy_context()  # the thread whose call is in flight at the boundary
    for i in range(9):
        assert budget.try_take("org", now=float(i)) == 0.0
    assert late.run(budget.try_take, "org", 55.0) == 0.0  # the 10th, late in the window
    assert budget.try_take("org", now=SPAN + 0.5) == 0.0  # next window (here and at Xero)
    # the late call's answer: Xero counted it in its old window, now full
    late.run(budget.observe, "org", 200, {"X-MinLimit-Remaining": "0"}, SPAN + 0.8)
    assert budget.try_take("org", now=SPAN + 1.0) == 0.0  # 2 used in this window, not 10
    assert budget.remaining("org", now=SPAN + 1.0).minute == 10 - 2
    # an answer about this very window still corrects it upwards
    budget.observe("org", 200, {"X-MinLimit-Remaining": "0"}, now=SPAN + 1.2)
    wait = budget.try_take("org", now=SPAN + 1.5)
    assert wait == pytest.approx(SPAN + 0.5 + SPAN - (SPAN + 1.5))


@pytest.mark.slow
def test_against_the_sandbox_no_wait_beyond_xeros_window(sandbox, monkeypatch, tmp_path) -> None:
    """Xero's window is 10 s here (time scale 6); a call in flight at its end is answered
    "0 remaining" after both windows rolled: the next calls must not wait for it."""
    window = 10.0
    conn_id = short_minute_connection(sandbox, monkeypatch, tmp_path, window, per_minute=10)
    hook = XeroHook(conn_id)
    started = time.monotonic()
    for _ in range(9):
        hook.call("GET", "Organisation")
    time.sleep(max(0.0, started + window - 1.2 - time.monotonic()))
    sandbox.control("PUT", "/limits", json={"latency_ms": 2500})
    late = threading.Thread(target=hook.call, args=("GET", "Organisation"))
    late.start()  # the 10th call: counted at once, answered 2.5 s later with "0 remaining"
    time.sleep(0.5)
    sandbox.control("PUT", "/limits", json={"latency_ms": 0})
    time.sleep(max(0.0, started + window * (1 + MARGIN) + 0.3 - time.monotonic()))
    hook.call("GET", "Organisation")  # both windows rolled: the first of the new ones
    late.join()
    answered = time.monotonic()
    for _ in range(3):
        hook.call("GET", "Organisation")
    waited = time.monotonic() - answered
    log = sandbox.requests(path="/api.xro/2.0/Organisation", method="GET")
    assert not [r for r in log if r.get("status") == 429]
    # filed under the new window the "0 remaining" blocked the calls for about 8 s
    assert waited < window / 2, f"3 calls took {waited:.1f} s: the old window's answer blocked"


@pytest.mark.slow
def test_a_unit_that_aged_while_waiting_for_a_slot_is_taken_again(
    sandbox, monkeypatch, tmp_path
) -> None:
    """Real HTTP through the hook's "take a new unit" step: with one call slot, B takes the
    window's second unit of three, then waits for the slot while A's call (answered 6 s
    later) holds it. When the slot comes, B's unit is past its use-by (its window ended at
    5 s), so B takes one from the next window before sending: sent with the old unit, it
    would open Xero's next window uncounted here, and calls in flight beside it could be
    that window's 4th. Xero's window is 5 s here (time scale 12), 3 calls each."""
    from xero_provider.state.rate_budget import RateBudget

    window = 5.0
    conn_id = short_minute_connection(
        sandbox, monkeypatch, tmp_path, window, per_minute=3, concurrent_calls=1
    )
    takes: dict[str, int] = {}
    original = RateBudget.take

    def counting_take(self, *args, **kwargs):
        name = threading.current_thread().name
        takes[name] = takes.get(name, 0) + 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RateBudget, "take", counting_take)
    hook = XeroHook(conn_id)
    hook.call("GET", "Organisation")  # connection read, tables made, outside the test
    time.sleep(window * (1 + MARGIN) + 0.5)  # a new window for A and B
    sandbox.control("PUT", "/limits", json={"latency_ms": int(window * 1200)})
    slow = threading.Thread(target=hook.call, args=("GET", "Organisation"), name="A")
    slow.start()
    deadline = time.monotonic() + 30  # A holds the only slot, its call counted at Xero
    while sandbox.control("GET", "/limits").json()["in_flight"] == 0:
        assert time.monotonic() < deadline, "A's call never reached the sandbox"
        time.sleep(0.02)
    sandbox.control("PUT", "/limits", json={"latency_ms": 0})
    waiting = threading.Thread(target=hook.call, args=("GET", "Accounts"), name="B")
    waiting.start()
    waiting.join(60)
    slow.join(60)
    hook.close()
    assert takes == {"MainThread": 1, "A": 1, "B": 2}, takes  # B took a second unit
    log = sandbox.requests(path="/api.xro/2.0/", method="GET")
    assert not [r for r in log if r.get("status") == 429], log
    b_sent = next(r for r in log if r["path"].endswith("/Accounts"))
    assert b_sent["status"] == 200
