"""XeroHook against the sandbox over real HTTP: reads, writes, retries, limits, errors."""

from __future__ import annotations

import logging
import math
import uuid

import httpx
import pandas as pd
import pytest

from tests.provider.connections import xero_connection
from xero_provider.exceptions import (
    XeroDailyLimitError,
    XeroNotFoundError,
    XeroValidationError,
)
from xero_provider.hooks import XeroHook


@pytest.fixture
def hook(sandbox, monkeypatch, tmp_path) -> XeroHook:
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")
    hook = XeroHook(conn_id)
    yield hook
    hook.close()


def _calls(sandbox, path: str, method: str = "GET") -> list[dict]:
    return sandbox.requests(path=path, method=method)


def _generate(sandbox, count: int, resource: str = "Contacts") -> None:
    body = {"tenant_id": sandbox.demo.tenant_id, "resource": resource, "count": count}
    sandbox.control("POST", "/generate", json=body)


# --- reads ---------------------------------------------------------------------------------


def test_iter_records_pages_at_the_largest_page(sandbox, hook: XeroHook) -> None:
    _generate(sandbox, 2500)
    stored = sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/Contacts").json()
    total = sum(c["ContactStatus"] != "ARCHIVED" for c in stored["Contacts"])  # lists hide those
    sandbox.control("DELETE", "/requests")
    ids = [c["ContactID"] for c in hook.iter_records("Contacts")]
    assert len(ids) == len(set(ids)) == total
    pages = _calls(sandbox, "/api.xro/2.0/Contacts")
    assert len(pages) == math.ceil(total / 1000)
    assert all("pageSize=1000" in p["query"] for p in pages)


def test_iter_records_is_lazy(sandbox, hook: XeroHook) -> None:
    _generate(sandbox, 2500)
    sandbox.control("DELETE", "/requests")
    first = next(iter(hook.iter_records("Contacts")))
    assert first["ContactID"]
    assert len(_calls(sandbox, "/api.xro/2.0/Contacts")) == 1


def test_quotes_page_without_page_size_and_refuse_where(sandbox, hook: XeroHook) -> None:
    quotes = list(hook.iter_records("Quotes"))
    assert quotes
    assert all("pageSize" not in c["query"] for c in _calls(sandbox, "/api.xro/2.0/Quotes"))
    with pytest.raises(ValueError, match="where"):
        list(hook.iter_records("Quotes", where='Status=="DRAFT"'))


def test_typed_views_filter_server_side(sandbox, hook: XeroHook) -> None:
    bills = list(hook.iter_records("Bills"))
    invoices = list(hook.iter_records("SalesInvoices", statuses=["AUTHORISED", "PAID"]))
    assert bills and all(b["Type"] == "ACCPAY" for b in bills)
    assert invoices and all(i["Type"] == "ACCREC" for i in invoices)
    assert {i["Status"] for i in invoices} <= {"AUTHORISED", "PAID"}
    query = _calls(sandbox, "/api.xro/2.0/Invoices")[-1]["query"]
    assert "Statuses=AUTHORISED%2CPAID" in query and "ACCREC" in query


def test_modified_since_sends_if_modified_since(sandbox, hook: XeroHook) -> None:
    from datetime import UTC, datetime, timedelta

    future = datetime.now(UTC) + timedelta(days=1)
    assert list(hook.iter_records("Contacts", modified_since=future)) == []
    assert len(list(hook.iter_records("Contacts", modified_since=datetime(2000, 1, 1)))) > 3


def test_get_dataframe_parses_dates_to_utc(hook: XeroHook) -> None:
    frame = hook.get_dataframe("Invoices")
    assert isinstance(frame, pd.DataFrame) and len(frame) > 3
    assert str(frame["UpdatedDateUTC"].dt.tz) == "UTC"
    assert str(frame["Date"].dt.tz) == "UTC"


def test_get_by_id_and_number(hook: XeroHook) -> None:
    invoice = next(iter(hook.iter_records("SalesInvoices")))
    assert hook.get("Invoices", invoice["InvoiceID"])["InvoiceID"] == invoice["InvoiceID"]
    assert hook.get("Invoices", invoice["InvoiceNumber"])["InvoiceID"] == invoice["InvoiceID"]


def test_get_of_the_wrong_type_is_not_found(hook: XeroHook) -> None:
    invoice = next(iter(hook.iter_records("SalesInvoices")))
    with pytest.raises(XeroNotFoundError, match="not one of the Bills"):
        hook.get("Bills", invoice["InvoiceID"])


def test_unknown_record_is_not_found(hook: XeroHook) -> None:
    with pytest.raises(XeroNotFoundError) as caught:
        hook.get("Contacts", str(uuid.uuid4()))
    assert caught.value.status == 404


def test_unknown_resource_names_the_known_ones(hook: XeroHook) -> None:
    with pytest.raises(ValueError, match=r"known resources: .*Contacts"):
        hook.get("Widgets", "x")


# --- writes ---------------------------------------------------------------------------------


def _contacts(n: int, prefix: str = "Hook Contact") -> list[dict]:
    return [{"Name": f"{prefix} {uuid.uuid4().hex[:6]} {i}"} for i in range(n)]


def test_create_chunks_and_returns_one_result_per_record(sandbox, hook: XeroHook) -> None:
    records = _contacts(120)
    records[57]["Name"] = ""  # Xero refuses this one only
    results = hook.create("Contacts", records)
    assert [r.index for r in results] == list(range(120))
    assert [r.ok for r in results].count(False) == 1
    assert results[57].errors and not results[57].ok and results[57].record_id is None
    assert all(r.record_id for i, r in enumerate(results) if i != 57)
    puts = _calls(sandbox, "/api.xro/2.0/Contacts", "PUT")
    assert len(puts) == 3
    assert all("summarizeErrors=false" in p["query"] and p["idempotency_key"] for p in puts)


def test_create_accepts_a_dataframe(hook: XeroHook) -> None:
    frame = pd.DataFrame({"Name": ["Frame One", "Frame Two"], "EmailAddress": [None, "b@x.io"]})
    results = hook.create("Contacts", frame)
    assert [r.ok for r in results] == [True, True]


def test_rerun_with_the_same_key_writes_nothing_again(sandbox, hook: XeroHook) -> None:
    records = _contacts(3, "Ledger")
    first = hook.create("Contacts", records, idempotency_key="dag.task.run-1")
    sandbox.control("PUT", "/clock", json={"advance_seconds": 3 * 3600})  # Xero forgot the key
    sandbox.control("DELETE", "/requests")
    again = XeroHook(hook.xero_conn_id).create(
        "Contacts", records, idempotency_key="dag.task.run-1"
    )
    assert [r.record_id for r in again] == [r.record_id for r in first]
    assert _calls(sandbox, "/api.xro/2.0/Contacts", "PUT") == []


def test_same_key_with_other_records_is_refused(hook: XeroHook) -> None:
    hook.create("Contacts", _contacts(1), idempotency_key="reused-key")
    with pytest.raises(XeroValidationError, match="already used for different records"):
        hook.create("Contacts", _contacts(1), idempotency_key="reused-key")


def test_update_without_an_id_fails_before_any_write(sandbox, hook: XeroHook) -> None:
    with pytest.raises(ValueError, match=r"records\[1\]: an update needs ContactID"):
        hook.update("Contacts", [{"ContactID": str(uuid.uuid4()), "Name": "x"}, {"Name": "y"}])
    assert _calls(sandbox, "/api.xro/2.0/Contacts", "POST") == []


def test_update_changes_records(hook: XeroHook) -> None:
    created = hook.create("Contacts", _contacts(1))[0]
    result = hook.update("Contacts", {"ContactID": created.record_id, "EmailAddress": "u@x.io"})
    assert result[0].ok
    assert hook.get("Contacts", created.record_id)["EmailAddress"] == "u@x.io"


def test_bills_get_their_type_and_wrong_types_are_refused(hook: XeroHook) -> None:
    contact = hook.create("Contacts", _contacts(1))[0]
    bill = {
        "Contact": {"ContactID": contact.record_id},
        "LineItems": [{"Description": "Ink", "UnitAmount": 9, "AccountCode": "400"}],
    }
    created = hook.create("Bills", bill)[0]
    assert created.ok and hook.get("Bills", created.record_id)["Type"] == "ACCPAY"
    with pytest.raises(ValueError, match=r"records\[0\].Type"):
        hook.create("Bills", {**bill, "Type": "ACCREC"})


# --- retries, limits, faults ------------------------------------------------------------------


def test_5xx_is_retried_until_it_succeeds(sandbox, hook: XeroHook) -> None:
    sandbox.control("POST", "/faults", json={"status": 503, "count": 2, "path": "/Organisation"})
    assert hook.call("GET", "Organisation")["Organisations"]
    assert len(_calls(sandbox, "/api.xro/2.0/Organisation")) == 3


def test_minute_limit_waits_retry_after(sandbox, hook: XeroHook) -> None:
    sandbox.control(
        "POST", "/faults", json={"status": 429, "count": 1, "retry_after": 1, "path": "/api.xro"}
    )
    assert hook.call("GET", "Organisation")["Organisations"]


def test_daily_limit_fails_fast_saying_when_it_resets(sandbox, hook: XeroHook) -> None:
    hook.call("GET", "Organisation")
    sandbox.control("PUT", "/limits", json={"per_day": 1})
    sandbox.control("DELETE", "/requests")
    with pytest.raises(XeroDailyLimitError, match="resets at"):
        hook.call("GET", "Organisation")
    assert len(_calls(sandbox, "/api.xro/2.0/Organisation")) == 1


def test_a_write_without_a_key_is_not_retried_on_5xx(sandbox, hook: XeroHook) -> None:
    sandbox.control("POST", "/faults", json={"status": 503, "count": 1, "methods": ["PUT"]})
    with pytest.raises(Exception, match="503"):
        hook.call("PUT", "Contacts", json={"Name": "No Key"})
    assert len(_calls(sandbox, "/api.xro/2.0/Contacts", "PUT")) == 1


def test_lost_response_on_create_leaves_one_record(sandbox, hook: XeroHook) -> None:
    sandbox.control(
        "POST", "/faults", json={"drop": True, "after_commit": True, "count": 1, "methods": ["PUT"]}
    )
    name = f"Lost Response {uuid.uuid4().hex[:6]}"
    result = hook.create("Contacts", {"Name": name})
    assert result[0].ok
    names = [c["Name"] for c in hook.iter_records("Contacts", where=f'Name=="{name}"')]
    assert names == [name]


@pytest.mark.slow
def test_thousand_records_under_20_percent_faults_land_exactly_once(
    sandbox, monkeypatch, tmp_path
) -> None:
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "t.db", timeout=1.5, max_retries=12)
    hook = XeroHook(conn_id)
    sandbox.control("PUT", "/limits", json={"enabled": False})
    for rule in (
        {"status": 503, "fraction": 0.08, "methods": ["PUT"], "seed": 7},
        {"drop": True, "after_commit": True, "fraction": 0.06, "methods": ["PUT"]},
        {"status": 500, "after_commit": True, "fraction": 0.03, "methods": ["PUT"]},
        {"delay_ms": 2500, "fraction": 0.03, "methods": ["PUT"]},
    ):
        sandbox.control("POST", "/faults", json=rule)
    prefix = f"Batch {uuid.uuid4().hex[:6]}"
    records = [{"Name": f"{prefix} {i:04d}"} for i in range(1000)]
    results = hook.create("Contacts", records, idempotency_key=prefix)
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    sandbox.control("DELETE", "/faults")
    stored = [
        c["Name"] for c in hook.iter_records("Contacts", where=f'Name.StartsWith("{prefix}")')
    ]
    assert len(stored) == 1000 and len(set(stored)) == 1000
    faults = [e for e in sandbox.requests(method="PUT") if e["fault"]]
    assert len(faults) >= 3  # faults really fired


# --- errors and secrets ----------------------------------------------------------------------


def test_validation_error_says_everything_in_one_line(hook: XeroHook) -> None:
    with pytest.raises(XeroValidationError) as caught:
        hook.call(
            "PUT",
            "Invoices",
            json={"Invoices": [{"Type": "ACCREC", "Status": "AUTHORISED"}]},
            resource=None,
        )
    error = caught.value
    text = str(error)
    assert "\n" not in text and "HTTP 400" in text and "ValidationException" in text
    assert error.status == 400 and error.problems


def test_validation_error_names_resource_and_field(hook: XeroHook) -> None:
    from xero_provider.resources import get_resource

    with pytest.raises(XeroValidationError) as caught:
        hook._send(
            "PUT",
            "Contacts",
            resource=get_resource("Contacts"),
            json={"Contacts": [{"Name": "", "EmailAddress": "bad"}]},
        )
    error = caught.value
    assert error.resource == "Contacts"
    assert any(p.field == "EmailAddress" for p in error.problems)
    assert "Contacts" in str(error)


def test_secrets_never_reach_logs_reprs_or_errors(sandbox, hook: XeroHook, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.control("POST", "/faults", json={"status": 503, "count": 1})
    hook.call("GET", "Organisation")
    with pytest.raises(XeroNotFoundError) as caught:
        hook.get("Contacts", str(uuid.uuid4()))
    token = hook._ready().tokens.access_token().access_token
    secret = sandbox.demo.web_client_secret
    for text in (
        caplog.text,
        repr(hook.config),
        str(hook.config),
        str(caught.value),
        repr(caught.value),
    ):
        assert token not in text and secret not in text


def test_tenant_tokens_never_cross(sandbox, monkeypatch, tmp_path) -> None:
    store = tmp_path / "shared-store.db"
    first = XeroHook(xero_connection(sandbox, monkeypatch, store))
    second = XeroHook(
        xero_connection(sandbox, monkeypatch, store, tenant_id=sandbox.demo.second_tenant_id)
    )
    for _ in range(3):
        first.call("GET", "Organisation")
        second.call("GET", "Organisation")
    log = sandbox.requests(path="/api.xro/2.0/Organisation")
    by_tenant: dict[str, set] = {}
    for entry in log:
        assert entry["status"] == 200
        by_tenant.setdefault(entry["tenant_id"], set()).add(entry["token_id"])
    assert set(by_tenant) == {sandbox.demo.tenant_id, sandbox.demo.second_tenant_id}
    assert not by_tenant[sandbox.demo.tenant_id] & by_tenant[sandbox.demo.second_tenant_id]


# --- connection ------------------------------------------------------------------------------


def test_get_tenants_lists_connections(sandbox, hook: XeroHook) -> None:
    tenants = hook.get_tenants()
    assert [t["tenantId"] for t in tenants] == [sandbox.demo.tenant_id]


def test_test_connection_reports_the_organisation(hook: XeroHook) -> None:
    ok, message = hook.test_connection()
    assert ok and "Demo Company (NZ)" in message


def test_test_connection_never_raises(sandbox, monkeypatch, tmp_path) -> None:
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "t.db")
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        httpx.Response(200, json={"conn_type": "xero", "login": "", "extra": {}}).text,
    )
    ok, message = XeroHook(conn_id).test_connection()
    assert not ok and "Client ID" in message


def test_constructor_does_no_io() -> None:
    hook = XeroHook("no_such_connection")
    assert hook.xero_conn_id == "no_such_connection"


def test_concurrency_is_capped_per_organisation(sandbox, hook: XeroHook) -> None:
    from concurrent.futures import ThreadPoolExecutor

    hook.call("GET", "Organisation")
    sandbox.control("PUT", "/limits", json={"latency_ms": 150})
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda _: hook.call("GET", "Organisation"), range(12)))
    assert len(results) == 12
    refused = [e for e in sandbox.requests(path="/Organisation") if e["status"] == 429]
    assert refused == []


def test_429_bursts_are_absorbed_without_failures(sandbox, monkeypatch, tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # A Xero minute lasts 0.5 s here; the hook paces over the same window.
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "t.db", rate_window_seconds=0.5)
    hook = XeroHook(conn_id)
    hook.call("GET", "Organisation")
    sandbox.control("PUT", "/limits", json={"per_minute": 10, "time_scale": 120})
    sandbox.control(
        "POST",
        "/faults",
        json={"status": 429, "fraction": 0.2, "retry_after": 1, "path": "/api.xro", "seed": 3},
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: hook.call("GET", "Organisation"), range(40)))
    assert len(results) == 40 and all(r["Organisations"] for r in results)
    statuses = [e["status"] for e in sandbox.requests(path="/api.xro/2.0/Organisation")]
    assert statuses.count(200) == 41
    assert statuses.count(429) >= 5  # the bursts really happened
