"""The rate budget shared through the store: windows as Xero counts them, Xero's headers
as corrections, the day's remaining calls visible, and 20 processes without a minute 429."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook
from xero_provider.state.rate_budget import MARGIN, Limits, RateBudget
from xero_provider.state.rate_budget import SKEW_SECONDS as SKEW
from xero_provider.state.token_store import TokenStore

LIMITS = Limits(per_minute=5, per_day=8, app_per_minute=100, window_seconds=60)


@pytest.fixture
def budgets(store_url: str) -> tuple[RateBudget, RateBudget]:
    """Two budgets on one store, as two processes would hold them (a unique app id)."""
    client = f"app-{uuid.uuid4().hex}"
    return RateBudget(TokenStore(store_url), client, LIMITS), RateBudget(
        TokenStore(store_url), client, LIMITS
    )


def test_the_minute_is_shared_and_waits_for_the_window(budgets) -> None:
    first, second = budgets
    takes = [
        first.try_take("org", now=1000.0 + i) if i % 2 else second.try_take("org", now=1000.0 + i)
        for i in range(5)
    ]
    assert takes == [0.0] * 5
    wait = second.try_take("org", now=1010.0)
    assert wait == pytest.approx(1000 + 60 * (1 + MARGIN) - 1010)
    assert first.try_take("other-org", now=1010.0) == 0.0  # organisations apart
    assert first.try_take("org", now=1000 + 60 * (1 + MARGIN) + 0.01) == 0.0


def test_the_day_and_the_apps_minute_count_too(budgets) -> None:
    first, _ = budgets
    for day_minute in range(2):
        for i in range(4):
            assert first.try_take("org", now=10_000.0 + day_minute * 100 + i) == 0.0
    assert first.try_take("org", now=10_300.0) > 1000  # 8 a day: wait for tomorrow
    left = first.remaining("org", now=10_300.0)
    assert (left.day, left.minute) == (0, 5)


def test_xeros_headers_correct_the_count_upwards_only(budgets) -> None:
    first, second = budgets
    assert first.try_take("org", now=0.0) == 0.0
    # Xero counted 4 this minute (someone outside the store called too).
    first.observe("org", 200, {"X-MinLimit-Remaining": "1", "X-DayLimit-Remaining": "3"}, now=0.5)
    assert first.try_take("org", now=1.0) == 0.0
    assert second.try_take("org", now=1.5) > 0  # 5 used: the correction reached the store
    left = second.remaining("org", now=2.0)
    assert left.minute == 0 and left.day_reported_by_xero == 3
    # A higher figure than ours never lowers the count.
    first.observe("org", 200, {"X-MinLimit-Remaining": "5"}, now=2.0)
    assert first.try_take("org", now=2.5) > 0


def test_the_first_answer_of_xeros_window_gives_the_margin_back(budgets) -> None:
    first, second = budgets
    assert first.try_take("org", now=1000.0) == 0.0
    # Xero counted only this call: its window began by this answer, at 1000.4.
    first.observe("org", 200, {"X-MinLimit-Remaining": "4"}, now=1000.4)
    for i in range(4):
        assert first.try_take("org", now=1001.0 + i) == 0.0
    assert second.try_take("org", now=1010.0) == pytest.approx(1000.4 + 60 + SKEW - 1010)
    assert second.try_take("org", now=1060.7) == 0.0  # not 1000 + 60 * (1 + MARGIN)


def test_a_later_answer_keeps_the_margin(budgets) -> None:
    first, second = budgets
    assert first.try_take("org", now=1000.0) == 0.0
    first.observe("org", 200, {"X-MinLimit-Remaining": "3"}, now=1000.4)  # 2 counted
    for i in range(3):
        assert first.try_take("org", now=1001.0 + i) == 0.0
    assert second.try_take("org", now=1010.0) == pytest.approx(1000 + 60 * (1 + MARGIN) - 1010)


def test_a_minute_429_spends_the_window_until_retry_after(budgets) -> None:
    first, second = budgets
    assert first.try_take("org", now=0.0) == 0.0
    first.observe("org", 429, {"X-Rate-Limit-Problem": "minute", "Retry-After": "30"}, now=10.0)
    assert second.try_take("org", now=11.0) == pytest.approx(29.0)
    assert second.try_take("org", now=40.5) == 0.0


def test_the_hook_shows_the_days_remaining_calls(sandbox, monkeypatch, tmp_path) -> None:
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")
    hook, other = XeroHook(conn_id), XeroHook(conn_id)
    for _ in range(3):
        hook.call("GET", "Organisation")
    other.call("GET", "Organisation")
    other.call("GET", "Organisation")  # its first call's headers are written with this one
    left = hook.remaining_calls()
    assert left.day == 5000 - 5
    assert left.day_reported_by_xero in (5000 - 4, 5000 - 5)
    assert left.minute == 60 - 5


def test_cli_status_prints_the_days_calls(sandbox, monkeypatch, tmp_path) -> None:
    import io

    from xero_provider.connect import cli

    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")
    XeroHook(conn_id).call("GET", "Organisation")
    out = io.StringIO()
    cli.status(conn_id, out)
    assert f"calls left:      4999 of 5000 today for {sandbox.demo.tenant_id}" in out.getvalue()


@pytest.mark.slow
def test_twenty_processes_share_one_minute_without_a_minute_429(
    sandbox, monkeypatch, tmp_path, race_pool
) -> None:
    from tests.provider.conftest import race_calls

    scale = 10  # a Xero minute lasts 6 s
    sandbox.control("PUT", "/limits", json={"time_scale": scale})
    conn_id = xero_connection(
        sandbox, monkeypatch, tmp_path / "tokens.db", rate_window_seconds=60 / scale
    )
    env = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}
    errors = race_pool.run(race_calls, env, conn_id, 6)  # 120 calls: two Xero minutes
    assert errors == [None] * len(errors)
    refused = sandbox.control("GET", "/limits").json()["refused"]
    assert refused.get("minute", 0) == 0, refused
    calls = [c for c in sandbox.requests() if c["path"].startswith("/api.xro/")]
    assert sum(c["status"] == 200 for c in calls) == 120


def test_with_plenty_left_units_are_leased_and_given_back(store_url: str) -> None:
    client = f"app-{uuid.uuid4().hex}"
    roomy = Limits(per_minute=100_000, per_day=10**6, app_per_minute=10**6, window_seconds=60)
    first = RateBudget(TokenStore(store_url), client, roomy)
    second = RateBudget(TokenStore(store_url), client, roomy)
    for i in range(25):
        assert first.try_take("org", now=100.0 + i / 100) == 0.0
    assert second.remaining("org", now=101.0).minute == 100_000 - 40  # two leases of 20
    first.release("org", now=101.0)
    assert second.remaining("org", now=101.0).minute == 100_000 - 25


def test_at_xeros_limits_no_unit_is_leased(budgets) -> None:
    first, second = budgets
    assert first.try_take("org", now=0.0) == 0.0
    assert second.remaining("org", now=0.1).minute == LIMITS.per_minute - 1


def test_a_new_organisations_first_takes_from_many_threads_at_once(store_url: str) -> None:
    """A triggerer takes units from many threads at once (asyncio.to_thread). The first
    thread's row insert is not committed while the others lock: on PostgreSQL they found
    no row (KeyError 'minute:...', a failed trigger) before they inserted-if-absent too."""
    import threading

    from xero_provider.state.call_slots import CallSlots

    roomy = Limits(per_minute=10_000, per_day=10**6, app_per_minute=10**6, window_seconds=60)
    budget = RateBudget(TokenStore(store_url), f"app-{uuid.uuid4().hex}", roomy)
    slots = CallSlots(TokenStore(store_url), f"app-{uuid.uuid4().hex}", limit=5)
    tenant = str(uuid.uuid4())
    start = threading.Barrier(12)
    errors: list[BaseException] = []
    taken: list[str | None] = []

    def take() -> None:
        try:
            start.wait()
            assert budget.try_take(tenant) == 0.0
            taken.append(slots.try_acquire(tenant)[0])
        except BaseException as error:  # collected: the assertion below names it
            errors.append(error)

    threads = [threading.Thread(target=take) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [], errors
    assert sum(holder is not None for holder in taken) == 5  # every slot, none twice
