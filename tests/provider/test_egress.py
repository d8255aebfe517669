"""The hook counts the bytes Xero sends, per call, organisation and resource; the figures
match what the sandbox counted, reach the shared egress log on close, and show in the
task log and the CLI's status."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook
from xero_provider.state.egress import EgressLog


def _sandbox_bytes(sandbox: Any) -> dict[str, int]:
    report = sandbox.control("GET", "/egress").json()[sandbox.demo.web_client_id]
    [month] = report["months"].values()
    return month["organisations"]


def test_the_hook_counts_what_xero_sent_and_logs_it_on_close(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, caplog: Any
) -> None:
    store = tmp_path / "t.db"
    conn_id = xero_connection(sandbox, monkeypatch, store)
    hook = XeroHook(conn_id)
    contacts = list(hook.iter_records("Contacts"))
    invoices = list(hook.iter_records("Invoices"))
    assert contacts and invoices
    tally = {name: c for name, c in hook.egress.by_resource.items()}
    assert set(tally) == {"Contacts", "Invoices"}
    assert all(c.bytes > 1000 and c.calls >= 1 for c in tally.values())
    counted = sum(c.bytes for c in tally.values())
    assert _sandbox_bytes(sandbox) == {sandbox.demo.tenant_id: counted}
    with caplog.at_level(logging.INFO, logger="xero_provider.hooks.xero"):
        hook.close()
    line = next(r.getMessage() for r in caplog.records if "Xero egress" in r.getMessage())
    assert f"{counted / 1e6:.2f} MB" in line and "this month" in line
    assert hook.egress.by_resource == {}  # flushed

    second = XeroHook(conn_id)
    list(second.iter_records("Contacts"))
    more = second.egress.total.bytes
    second.close()
    usage = EgressLog(second._ready().store).usage(
        sandbox.demo.web_client_id, sandbox.demo.tenant_id
    )
    assert usage.today.bytes == usage.month.bytes == counted + more
    assert usage.today.calls == sum(c.calls for c in tally.values()) + 1


def test_cli_status_shows_todays_and_this_months_egress(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from xero_provider.connect import cli

    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "t.db", app_tier="core")
    hook = XeroHook(conn_id)
    list(hook.iter_records("Contacts"))
    size = hook.egress.total.bytes
    hook.close()
    out = io.StringIO()
    cli.status(conn_id, out)
    line = next(li for li in out.getvalue().splitlines() if li.startswith("egress:"))
    assert f"today {size / 1e6:.2f} MB in 1 calls" in line
    assert "Core includes 10 GB a month" in line


def test_lean_reads_fewer_bytes_for_the_same_records(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """summaryOnly (spec: GET Contacts and Invoices) leaves line items and payments out."""
    from xero_examples.sync import sync_resource
    from xero_examples.warehouse import Warehouse
    from xero_provider.resources import get_resource

    invoices = get_resource("Invoices")
    hook = XeroHook(xero_connection(sandbox, monkeypatch, tmp_path / "t.db"))
    sizes, seen = {}, {}
    try:
        for lean in (False, True):
            warehouse = Warehouse(f"sqlite:///{tmp_path}/w{int(lean)}.db")
            warehouse.create_tables()
            before = hook.egress.total.bytes
            result = sync_resource(
                hook, warehouse, invoices, sandbox.demo.tenant_id, "r", lean=lean
            )
            sizes[lean], seen[lean] = hook.egress.total.bytes - before, result["seen"]
            warehouse.dispose()
        requests = sandbox.requests()
    finally:
        hook.close()
    assert seen[True] == seen[False] > 0
    assert sizes[True] < sizes[False] * 0.9
    lean_calls = [e for e in requests if "summaryOnly=true" in (e.get("query") or "")]
    assert lean_calls and all("/Invoices" in e["path"] for e in lean_calls)


def test_an_incremental_sync_reads_only_new_journals(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Xero's Journals ``offset``: "journals with a JournalNumber greater than the offset"."""
    from xero_examples.sync import last_number, since_for, sync_resource
    from xero_examples.warehouse import Warehouse
    from xero_provider.resources import get_resource

    journals = get_resource("Journals")
    tenant = sandbox.demo.tenant_id
    hook = XeroHook(xero_connection(sandbox, monkeypatch, tmp_path / "t.db"))
    warehouse = Warehouse(f"sqlite:///{tmp_path}/w.db")
    warehouse.create_tables()
    try:
        first = sync_resource(hook, warehouse, journals, tenant, "r1")
        newest = last_number(warehouse, journals, tenant)
        assert first["seen"] > 0 and newest > 0
        contact = next(iter(hook.iter_records("Contacts")))
        line = {"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}
        [made] = hook.create(
            "SalesInvoices",
            [
                {
                    "Contact": {"ContactID": contact["ContactID"]},
                    "LineItems": [line],
                    "Status": "AUTHORISED",
                    "Date": "2026-01-05",
                    "DueDate": "2026-02-05",
                }
            ],
        )
        assert made.ok, made.errors
        sandbox.control("DELETE", "/requests")
        since = since_for(warehouse, journals, tenant, None)
        second = sync_resource(hook, warehouse, journals, tenant, "r2", since)
        calls = [e for e in sandbox.requests() if e["path"].endswith("/Journals")]
    finally:
        hook.close()
        warehouse.dispose()
    assert 1 <= second["seen"] <= 3  # the new invoice's journal, nothing read again
    assert f"offset={newest}" in calls[0]["query"]


def test_lean_and_after_number_are_refused_where_xero_has_no_such_parameter() -> None:
    from xero_provider.exceptions import XeroInputError
    from xero_provider.hooks.planning import ListPlan
    from xero_provider.resources import get_resource

    with pytest.raises(XeroInputError, match="summary_only: Xero's Payments list"):
        ListPlan.build_all(get_resource("Payments"), summary_only=True)
    with pytest.raises(XeroInputError, match="after_number: Contacts is not read by number"):
        ListPlan.build_all(get_resource("Contacts"), after_number=5)
    with pytest.raises(XeroInputError, match="after_number: give a whole number"):
        ListPlan.build_all(get_resource("Journals"), after_number="5")
    plan = ListPlan.build_all(get_resource("Journals"), after_number=40)[0]
    assert plan.page_params(1)["offset"] == "40"
