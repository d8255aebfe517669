"""Careless and hostile input to XeroHook: nothing half-written, nothing injected, clear
errors naming the record and field, before any request reaches the sandbox."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.provider.connections import xero_connection
from xero_provider.exceptions import (
    XeroForeignHostError,
    XeroInputError,
    XeroNetworkError,
    XeroValidationError,
)
from xero_provider.hooks import XeroHook
from xero_provider.hooks.planning import MAX_QUERY_CHARS


@pytest.fixture
def hook(sandbox, monkeypatch, tmp_path) -> XeroHook:
    hook = XeroHook(xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db"))
    yield hook
    hook.close()


def _api_calls(sandbox, method: str | None = None) -> list[dict]:
    calls = [c for c in sandbox.requests() if c["path"].startswith("/api.xro/")]
    return [c for c in calls if method is None or c["method"] == method]


def _invoice(contact_id: str, amount, **extra) -> dict:
    return {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "Date": date(2026, 11, 2),
        "LineItems": [
            {"Description": "Hours", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200"}
        ],
        **extra,
    }


@pytest.fixture
def contact_id(hook: XeroHook) -> str:
    return next(iter(hook.iter_records("Contacts")))["ContactID"]


# --- serialisation ---------------------------------------------------------------------


def test_decimals_numpy_and_dates_are_written_as_xero_expects(sandbox, hook, contact_id) -> None:
    records = [_invoice(contact_id, Decimal("10.25")) for _ in range(120)]
    records[110]["LineItems"][0]["Quantity"] = np.int64(3)
    records[111]["LineItems"][0]["UnitAmount"] = np.float64(7.5)
    records[112]["DueDate"] = pd.Timestamp("2026-12-01")
    records[113]["DueDate"] = pd.NaT
    records[114]["Reference"] = None
    sandbox.control("DELETE", "/requests")
    results = hook.create("SalesInvoices", records)
    assert all(r.ok for r in results), [r.errors for r in results if not r.ok][:3]
    sent = [e for c in _api_calls(sandbox, "PUT") for e in c["json"]["Invoices"]]
    assert len(sent) == 120
    assert sent[0]["LineItems"][0]["UnitAmount"] == 10.25
    assert sent[0]["Date"] == "2026-11-02"
    assert sent[110]["LineItems"][0]["Quantity"] == 3
    assert sent[112]["DueDate"] == "2026-12-01"
    assert "DueDate" not in sent[113] and "Reference" not in sent[114]
    assert results[110].record["LineItems"][0]["LineAmount"] == pytest.approx(30.75)


def test_an_unwritable_value_fails_before_any_call_naming_record_and_field(
    sandbox, hook, contact_id
) -> None:
    records = [_invoice(contact_id, Decimal("10.25")) for _ in range(120)]
    records[110]["LineItems"][0]["UnitAmount"] = {1, 2}
    hook.call("GET", "Organisation")  # token ready; the next calls would be writes
    sandbox.control("DELETE", "/requests")
    with pytest.raises(XeroInputError) as caught:
        hook.create("SalesInvoices", records)
    error = caught.value
    assert error.record_index == 110
    assert error.field == "LineItems[0].UnitAmount"
    assert "records[110].LineItems[0].UnitAmount" in str(error) and "SalesInvoices" in str(error)
    assert _api_calls(sandbox) == []


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (Decimal("0.1234567890123456789"), "significant digits"),
        (float("inf"), "not a number"),
        (Decimal("NaN"), "not a number"),
        (b"raw", "bytes"),
        (object(), "object"),
    ],
    ids=["long-decimal", "infinity", "decimal-nan", "bytes", "object"],
)
def test_each_unwritable_kind_is_named(sandbox, hook, contact_id, value, words) -> None:
    records = [_invoice(contact_id, 1), _invoice(contact_id, value)]
    with pytest.raises(XeroInputError, match=words) as caught:
        hook.create("SalesInvoices", records)
    assert caught.value.record_index == 1
    assert _api_calls(sandbox, "PUT") == []


def test_a_dataframe_with_empty_dates_and_numpy_values_writes(sandbox, hook) -> None:
    frame = pd.DataFrame(
        {
            "Name": [f"Frame {uuid.uuid4().hex[:6]}", f"Frame {uuid.uuid4().hex[:6]}"],
            "EmailAddress": ["a@x.io", np.nan],
            "Seen": pd.to_datetime(["2026-01-02 10:30", None]),
        }
    ).drop(columns=["Seen"])
    frame["When"] = pd.to_datetime(["2026-01-02", None])  # NaT in the second row
    results = hook.create("Contacts", frame.drop(columns=["When"]))
    assert [r.ok for r in results] == [True, True]
    from xero_provider.hooks.serialise import normalise_records

    rows = normalise_records(frame)
    assert rows[0]["When"] == "2026-01-02" and "When" not in rows[1]
    assert "EmailAddress" not in rows[1]


def test_aware_timestamps_are_sent_in_utc() -> None:
    from datetime import timedelta, timezone

    from xero_provider.hooks.serialise import normalise_records

    nz = timezone(timedelta(hours=13))
    rows = normalise_records([{"At": datetime(2026, 1, 2, 9, 30, tzinfo=nz)}])
    assert rows == [{"At": "2026-01-01T20:30:00"}]
    assert normalise_records([{"At": datetime(2026, 1, 2, tzinfo=UTC)}]) == [{"At": "2026-01-02"}]


# --- IDs, filters and URLs ---------------------------------------------------------------


def test_ids_cannot_inject_into_the_filter(sandbox, hook) -> None:
    guid = str(uuid.uuid4())
    hostile = f'{guid}") OR CreditNoteID!=Guid("{guid}'
    sandbox.control("DELETE", "/requests")
    with pytest.raises(XeroInputError, match=r"ids\[0\]"):
        list(hook.iter_records("CreditNotes", ids=[hostile]))
    with pytest.raises(XeroInputError, match="ids"):
        list(hook.iter_records("CreditNotes", ids=guid))  # a lone string, not a list
    assert _api_calls(sandbox) == []


def test_a_where_cannot_escape_the_typed_view(sandbox, hook) -> None:
    with pytest.raises(XeroInputError, match="closes a parenthesis"):
        list(hook.iter_records("Bills", where='Status=="PAID") OR (Type=="ACCREC"'))
    with pytest.raises(XeroInputError, match="never closed"):
        list(hook.iter_records("Bills", where='Reference=="x'))
    # Balanced: the hook's Type clause still holds whatever the caller ORs inside.
    bills = list(hook.iter_records("Bills", where='Type=="ACCREC" OR Type=="ACCPAY"'))
    assert bills and {b["Type"] for b in bills} == {"ACCPAY"}
    # A parenthesis inside a string is text, not structure.
    assert list(hook.iter_records("Bills", where='Reference=="(none"')) == []


def test_statuses_and_order_are_plain_words(hook) -> None:
    with pytest.raises(XeroInputError, match=r"statuses\[0\]"):
        list(hook.iter_records("Payments", statuses=['AUTHORISED" OR Status!="X']))
    with pytest.raises(XeroInputError, match="order"):
        list(hook.iter_records("Contacts", order="Name; DROP"))


@pytest.mark.parametrize("bad", ["", "   ", None, "a/b", "../Invoices", "x?where=1", 1.5, True])
def test_get_refuses_what_is_not_an_id(sandbox, hook, bad) -> None:
    sandbox.control("DELETE", "/requests")
    with pytest.raises(XeroInputError, match="record_id"):
        hook.get("Contacts", bad)
    assert _api_calls(sandbox) == []


def test_get_by_number_is_percent_encoded(sandbox, hook) -> None:
    number = next(iter(hook.iter_records("SalesInvoices")))["InvoiceNumber"]
    assert hook.get("SalesInvoices", number)["InvoiceNumber"] == number
    with pytest.raises(XeroInputError):
        hook.get("Payments", "INV-0001")  # payments have no number: a GUID only


def test_thousands_of_ids_are_split_into_calls_xero_accepts(sandbox, monkeypatch, tmp_path) -> None:
    sandbox.control("PUT", "/limits", json={"enabled": False})  # about 100 calls
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "t.db", rate_limit_per_minute=1000)
    hook = XeroHook(conn_id)
    known = [c["ContactID"] for c in hook.iter_records("Contacts")]
    ids = known + [str(uuid.uuid4()) for _ in range(5000 - len(known))]
    sandbox.control("DELETE", "/requests")
    found = [c["ContactID"] for c in hook.iter_records("Contacts", ids=ids)]
    assert sorted(found) == sorted(known)
    calls = _api_calls(sandbox, "GET")
    assert len(calls) >= 5000 // 60
    assert all(len(c["query"]) <= MAX_QUERY_CHARS for c in calls)
    where_ids = [str(uuid.uuid4()) for _ in range(300)]  # Payments: Guid() clauses in where
    assert list(hook.iter_records("Payments", ids=where_ids)) == []


# --- failures ------------------------------------------------------------------------------


def test_an_unreachable_api_raises_the_hooks_error_naming_url_and_attempts(
    sandbox, monkeypatch, tmp_path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn_id = xero_connection(
        sandbox,
        monkeypatch,
        tmp_path / "t.db",
        api_base_url=f"http://127.0.0.1:{port}",
        max_retries=3,
        timeout=5,
    )
    hook = XeroHook(conn_id)
    hook._ready().tokens.access_token()  # the identity server is the sandbox
    with pytest.raises(XeroNetworkError) as caught:
        hook.call("GET", "Organisation")
    error = caught.value
    assert error.attempts == 3
    assert f"127.0.0.1:{port}/api.xro/2.0/Organisation" in str(error)
    assert isinstance(error.__cause__, httpx.ConnectError)


def test_a_default_mode_batch_error_names_the_element_index(hook) -> None:
    good = [{"Name": f"Batch {uuid.uuid4().hex[:8]} {i}"} for i in range(3)]
    bad = {"Name": "", "EmailAddress": "nobody@example.com"}
    with pytest.raises(XeroValidationError) as caught:
        hook.call("PUT", "Contacts", json={"Contacts": [*good[:2], bad, good[2]]})
    assert caught.value.record_index == 2
    assert "[2]" in str(caught.value)


def test_create_names_the_callers_index_of_a_batch_refusal(sandbox, hook, contact_id) -> None:
    records = [_invoice(contact_id, 5) for _ in range(60)]
    results = hook.create("SalesInvoices", records)
    assert [r.index for r in results] == list(range(60))


# --- credentials stay with Xero -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://some-other-host/api.xro/2.0/Contacts",
        "//some-other-host/api.xro/2.0/Contacts",
        "https://127.0.0.1.evil.example/api.xro/2.0/Contacts",
    ],
)
def test_call_refuses_other_hosts(sandbox, hook, url) -> None:
    sandbox.control("DELETE", "/requests")
    with pytest.raises(XeroForeignHostError, match="credentials"):
        hook.call("GET", url)
    assert sandbox.requests() == []


def test_call_accepts_absolute_urls_under_the_api_base(sandbox, hook) -> None:
    body = hook.call("GET", f"{sandbox.url}/api.xro/2.0/Organisation")
    assert body["Organisations"]


def test_the_auth_refuses_to_attach_a_token_off_the_api_base(hook) -> None:
    from xero_provider.auth.tokens import XeroAuth

    auth = XeroAuth(hook._ready().tokens, hook.tenant_id)
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200))
    with (
        httpx.Client(auth=auth, transport=transport) as client,
        pytest.raises(XeroForeignHostError),
    ):
        client.get("http://elsewhere.example/steal")
    assert seen == []
