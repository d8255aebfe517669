"""RateGovernor: pacing from Xero's remaining-calls headers (pure, with a fake clock)."""

from __future__ import annotations

import asyncio
import threading
import time

from xero_provider.hooks.pacing import RateGovernor


def test_no_delay_while_plenty_remain() -> None:
    governor = RateGovernor(window_seconds=60)
    governor.observe("t", {"X-MinLimit-Remaining": "50"}, now=0)
    assert governor.delay("t", now=1) == 0


def test_spreads_the_last_calls_over_the_rest_of_the_window() -> None:
    governor = RateGovernor(window_seconds=60, reserve=5)
    governor.observe("t", {"X-MinLimit-Remaining": "59"}, now=0)
    governor.observe("t", {"X-MinLimit-Remaining": "3"}, now=20)
    assert governor.delay("t", now=20) == (60 - 20) / 4


def test_waits_for_the_window_when_none_remain() -> None:
    governor = RateGovernor(window_seconds=60)
    governor.observe("t", {"X-MinLimit-Remaining": "59"}, now=0)
    governor.observe("t", {"X-MinLimit-Remaining": "0"}, now=45)
    assert governor.delay("t", now=45) == 15


def test_a_new_window_clears_the_delay() -> None:
    governor = RateGovernor(window_seconds=60)
    governor.observe("t", {"X-MinLimit-Remaining": "0"}, now=0)
    assert governor.delay("t", now=61) == 0
    governor.observe("t", {"X-MinLimit-Remaining": "59"}, now=62)
    assert governor.delay("t", now=62) == 0


def test_app_wide_minute_counts_for_every_tenant() -> None:
    governor = RateGovernor(window_seconds=60)
    governor.observe("a", {"X-MinLimit-Remaining": "50", "X-AppMinLimit-Remaining": "0"}, now=0)
    assert governor.delay("b", now=10) == 50


def test_tenants_are_paced_apart() -> None:
    governor = RateGovernor(window_seconds=60)
    governor.observe("a", {"X-MinLimit-Remaining": "0"}, now=0)
    assert governor.delay("a", now=1) > 0
    assert governor.delay("b", now=1) == 0


def test_thread_slots_cap_in_flight_calls() -> None:
    governor = RateGovernor(concurrency=2)
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal in_flight, peak
        with governor.slot("t"):
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.05)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2


def test_async_slots_cap_in_flight_calls() -> None:
    governor = RateGovernor(concurrency=3)
    state = {"now": 0, "peak": 0}

    async def work() -> None:
        async with governor.aslot("t"):
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            await asyncio.sleep(0.02)
            state["now"] -= 1

    async def main() -> None:
        await asyncio.gather(*(work() for _ in range(10)))

    asyncio.run(main())
    assert state["peak"] == 3
