"""Xero's rate limits: per organisation 5 in flight, per minute and per day; per app per minute."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import authorised_client


def _limits(sandbox, **changes) -> None:
    sandbox.control("PUT", "/limits", json=changes)


def test_every_response_carries_remaining_headers(xero_client: httpx.Client) -> None:
    first = xero_client.get("/Contacts")
    second = xero_client.get("/Contacts")
    assert int(first.headers["X-MinLimit-Remaining"]) == 59
    assert int(second.headers["X-MinLimit-Remaining"]) == 58
    assert int(second.headers["X-DayLimit-Remaining"]) == 4998
    assert int(second.headers["X-AppMinLimit-Remaining"]) == 9998


def test_minute_limit_answers_429_with_retry_after(sandbox, xero_client: httpx.Client) -> None:
    _limits(sandbox, per_minute=3)
    statuses = [xero_client.get("/Contacts").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = xero_client.get("/Contacts")
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-MinLimit-Remaining"] == "0"


def test_minute_window_resets_on_the_sandbox_clock(sandbox, xero_spec) -> None:
    _limits(sandbox, per_minute=2)
    client = authorised_client(sandbox, xero_spec)
    assert [client.get("/Contacts").status_code for _ in range(3)] == [200, 200, 429]
    sandbox.control("PUT", "/clock", json={"advance_seconds": 61})
    assert client.get("/Contacts").status_code == 200


def test_time_scale_shortens_the_minute(sandbox, xero_client: httpx.Client) -> None:
    _limits(sandbox, per_minute=2, time_scale=600)  # a Xero minute lasts 0.1 s
    assert [xero_client.get("/Contacts").status_code for _ in range(3)][-1] == 429
    refused = xero_client.get("/Contacts")
    assert refused.headers.get("Retry-After") == "1"
    import time

    time.sleep(0.15)
    assert xero_client.get("/Contacts").status_code == 200


def test_day_limit_is_its_own_problem(sandbox, xero_client: httpx.Client) -> None:
    _limits(sandbox, per_day=2)
    xero_client.get("/Contacts")
    xero_client.get("/Contacts")
    refused = xero_client.get("/Contacts")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "day"
    assert int(refused.headers["Retry-After"]) > 60


def test_starter_tier_gets_the_smaller_daily_limit(sandbox, xero_spec) -> None:
    _limits(sandbox, per_day=100, per_day_starter=2)
    starter = authorised_client(sandbox, xero_spec, tenant_id=sandbox.demo.second_tenant_id)
    standard = authorised_client(sandbox, xero_spec)
    assert [starter.get("/Contacts").status_code for _ in range(3)] == [200, 200, 429]
    assert standard.get("/Contacts").status_code == 200
    assert standard.get("/Contacts").headers["X-DayLimit-Remaining"] == "98"


def test_limits_are_per_organisation(sandbox, xero_spec) -> None:
    _limits(sandbox, per_minute=1)
    first = authorised_client(sandbox, xero_spec)
    second = authorised_client(sandbox, xero_spec, tenant_id=sandbox.demo.second_tenant_id)
    assert first.get("/Contacts").status_code == 200
    assert first.get("/Contacts").status_code == 429
    assert second.get("/Contacts").status_code == 200


def test_app_minute_limit_spans_organisations(sandbox, xero_spec) -> None:
    _limits(sandbox, app_per_minute=3)
    first = authorised_client(sandbox, xero_spec)
    second = authorised_client(sandbox, xero_spec, tenant_id=sandbox.demo.second_tenant_id)
    statuses = [c.get("/Contacts").status_code for c in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]
    assert second.get("/Contacts").headers["X-Rate-Limit-Problem"] == "appminute"


def test_concurrency_limit_refuses_the_sixth_call_in_flight(
    sandbox, xero_client: httpx.Client
) -> None:
    _limits(sandbox, latency_ms=400)
    url = str(xero_client.base_url) + "/Contacts"
    headers = dict(xero_client.headers)
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: httpx.get(url, headers=headers, timeout=10), range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 5
    assert statuses.count(429) == 3
    problems = {r.headers.get("X-Rate-Limit-Problem") for r in responses if r.status_code == 429}
    assert problems == {"concurrent"}


def test_limits_can_be_switched_off(sandbox, xero_client: httpx.Client) -> None:
    _limits(sandbox, per_minute=1, enabled=False)
    responses = [xero_client.get("/Contacts") for _ in range(3)]
    assert {r.status_code for r in responses} == {200}
    # no limit, so no count of what remains (a client pacing by headers is not held back)
    assert not [h for r in responses for h in r.headers if h.lower().endswith("limit-remaining")]


@pytest.mark.parametrize(
    "body",
    [{"per_minute": -1}, {"bogus": 1}, {"time_scale": 0}],
    ids=["negative", "unknown", "zero-scale"],
)
def test_bad_limit_settings_are_refused(sandbox, body: dict) -> None:
    response = httpx.put(sandbox.url + "/__sandbox/limits", json=body, timeout=10)
    assert response.status_code == 400
