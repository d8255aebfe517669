"""Injected faults: error statuses, delays, dropped connections and lost responses."""

from __future__ import annotations

import httpx
import pytest


def _fault(sandbox, **rule) -> None:
    sandbox.control("POST", "/faults", json=rule)


def test_next_n_requests_fail_then_recover(sandbox, xero_client: httpx.Client) -> None:
    _fault(sandbox, status=503, count=2, path="/Contacts")
    statuses = [xero_client.get("/Contacts").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_fault_only_matches_its_methods_and_path(sandbox, xero_client: httpx.Client) -> None:
    _fault(sandbox, status=500, count=5, methods=["PUT"], path="/invoices")
    assert xero_client.get("/Contacts").status_code == 200
    assert xero_client.put("/Contacts", json={"Name": "Unaffected"}).status_code == 200


def test_fraction_is_repeatable_with_a_seed(sandbox, xero_client: httpx.Client) -> None:
    def run() -> list[int]:
        sandbox.control("DELETE", "/faults")
        _fault(sandbox, status=500, fraction=0.3, seed=42)
        return [xero_client.get("/Organisation").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 4 <= first.count(500) <= 20


def test_injected_429_has_retry_after(sandbox, xero_client: httpx.Client) -> None:
    _fault(sandbox, status=429, count=1, retry_after=7)
    response = xero_client.get("/Contacts")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_delay_makes_a_client_time_out(sandbox, xero_client: httpx.Client) -> None:
    _fault(sandbox, delay_ms=1500, count=1)
    with pytest.raises(httpx.ReadTimeout):
        xero_client.get("/Contacts", timeout=0.3)


def test_dropped_connection_is_a_transport_error(sandbox, xero_client: httpx.Client) -> None:
    _fault(sandbox, drop=True, count=1)
    with pytest.raises(httpx.TransportError):
        xero_client.get("/Contacts")
    assert xero_client.get("/Contacts").status_code == 200


def test_lost_response_after_commit_still_wrote(sandbox, xero_client: httpx.Client) -> None:
    _fault(sandbox, drop=True, after_commit=True, count=1, methods=["PUT"])
    with pytest.raises(httpx.TransportError):
        xero_client.put("/Contacts", json={"Name": "Written But Unheard"})
    names = [c["Name"] for c in xero_client.get("/Contacts").json()["Contacts"]]
    assert names.count("Written But Unheard") == 1


def test_error_after_commit_with_idempotency_key_replays(
    sandbox, xero_client: httpx.Client
) -> None:
    _fault(sandbox, status=502, after_commit=True, count=1, methods=["PUT"])
    headers = {"Idempotency-Key": "retry-me-1"}
    body = {"Name": "Committed Then 502"}
    assert xero_client.put("/Contacts", json=body, headers=headers).status_code == 502
    retry = xero_client.put("/Contacts", json=body, headers=headers)
    assert retry.status_code == 200
    names = [c["Name"] for c in xero_client.get("/Contacts").json()["Contacts"]]
    assert names.count("Committed Then 502") == 1


def test_faults_appear_in_the_request_log(sandbox, xero_client: httpx.Client) -> None:
    _fault(sandbox, status=500, count=1)
    xero_client.get("/Contacts")
    entry = sandbox.requests(path="/api.xro/2.0/Contacts")[-1]
    assert entry["status"] == 500
    assert entry["fault"]["status"] == 500


@pytest.mark.parametrize(
    "rule",
    [{}, {"status": 200}, {"status": 500, "fraction": 2}, {"status": 500, "count": 0}],
    ids=["nothing", "not-an-error", "fraction-above-one", "zero-count"],
)
def test_bad_fault_rules_are_refused(sandbox, rule: dict) -> None:
    response = httpx.post(sandbox.url + "/__sandbox/faults", json=rule, timeout=10)
    assert response.status_code in (400, 422)
