"""The warehouse never silently drifts from Xero (issue 17), against the sandbox over HTTP:
gap-free progress after a failure at any page, newest version wins with its children,
exact unit amounts, deletions Xero hides or forgets, undated changes, the drift check,
and the trial balance to the cent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from xero_examples.quality import drift, stale
from xero_examples.sync import read_options, since_for, sync_resource
from xero_examples.trial_balance import (
    trial_balance_differences,
    warehouse_trial_balance,
    xero_trial_balance,
)
from xero_examples.warehouse import Warehouse, compare, sync_resources, xero_figures
from xero_provider.exceptions import XeroDailyLimitError, XeroServerError
from xero_provider.hooks import XeroHook
from xero_provider.resources import get_resource

CONTACTS = get_resource("Contacts")
PAGE = 3


@pytest.fixture
def hook(sandbox, monkeypatch, tmp_path) -> Iterator[XeroHook]:
    from tests.provider.connections import xero_connection

    conn_id = xero_connection(
        sandbox, monkeypatch, tmp_path / "tokens.db", max_retries=1, rate_limit_per_minute=600
    )
    hook = XeroHook(conn_id)
    yield hook
    hook.close()


@pytest.fixture
def store(tmp_path) -> Iterator[Warehouse]:
    warehouse = Warehouse(f"sqlite:///{tmp_path}/warehouse.db", history=True)
    warehouse.create_tables()
    yield warehouse
    warehouse.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path) -> Iterator[Warehouse]:
    """The warehouse on each dialect the example supports."""
    from tests.examples.test_warehouse import _warehouse

    yield from _warehouse(request.param, tmp_path, history=True)


class StopAfterPages:
    """The real hook; after ``pages`` pages have been handed to the sync, ``stop`` changes
    the sandbox (a 500 fault, the daily limit) so the next page's real call fails."""

    def __init__(self, hook: XeroHook, pages: int, stop) -> None:
        self.hook, self.pages, self.stop = hook, pages, stop

    def iter_records(self, resource, **filters: Any) -> Iterator[dict]:
        if self.pages == 0:
            self.stop()
        for count, record in enumerate(self.hook.iter_records(resource, **filters), 1):
            yield record
            if count == self.pages * PAGE:
                self.stop()


def sync(hook, store: Warehouse, resource, tenant: str, run_id: str) -> dict:
    since = since_for(store, resource, tenant, None)
    return sync_resource(hook, store, resource, tenant, run_id, since, page_size=PAGE)


def differences(hook: XeroHook, store: Warehouse, resource, tenant: str) -> list[str]:
    theirs = xero_figures(resource, hook.iter_records(resource, **read_options(resource)))
    return compare(resource, theirs, store.figures(resource, tenant))


def rename_in_reverse(hook: XeroHook, count: int) -> list[str]:
    """Change ``count`` contacts, newest-created first, so creation order (Xero's default
    order) and change order disagree, as with C3, C4 and then C1, C2 in the issue."""
    contacts = list(hook.iter_records(CONTACTS))[:count]
    for number, contact in enumerate(reversed(contacts)):
        [result] = hook.update(
            CONTACTS,
            [{"ContactID": contact["ContactID"], "Name": f"Changed {number} {contact['Name']}"}],
        )
        assert result.ok, result.errors
    return [c["ContactID"] for c in contacts]


def test_read_options_ask_for_exact_and_hidden_records() -> None:
    options = {r.name: read_options(r) for r in sync_resources()}
    assert options["Invoices"]["unitdp"] == 4 and options["Items"]["unitdp"] == 4
    assert "unitdp" not in options["Contacts"]
    assert options["BankTransfers"]["include_deleted"] is True


def test_unitdp_is_checked_before_any_call() -> None:
    from xero_provider.exceptions import XeroInputError
    from xero_provider.hooks.planning import ListPlan

    assert ListPlan.build(get_resource("Invoices"), unitdp=4).params["unitdp"] == "4"
    with pytest.raises(XeroInputError, match="unitdp: give 2 or 4"):
        ListPlan.build(get_resource("Invoices"), unitdp=3)
    with pytest.raises(XeroInputError, match="unitdp: Xero's Contacts list does not take"):
        ListPlan.build(CONTACTS, unitdp=4)


@pytest.mark.parametrize("failing_page", [0, 1, 2])
def test_a_failure_at_any_page_leaves_no_gap(sandbox, hook, any_store, failing_page) -> None:
    tenant, store = sandbox.demo.tenant_id, any_store
    sync(hook, store, CONTACTS, tenant, "full")
    rename_in_reverse(hook, 3 * PAGE - 1)  # three pages of changes
    fault = {"status": 500, "count": 100, "path": "/api.xro/2.0/Contacts"}
    broken = StopAfterPages(
        hook, failing_page, lambda: sandbox.control("POST", "/faults", json=fault)
    )
    with pytest.raises(XeroServerError):
        sync(broken, store, CONTACTS, tenant, "broken")
    sandbox.control("DELETE", "/faults")
    assert differences(hook, store, CONTACTS, tenant)  # the partial run left it behind
    sync(hook, store, CONTACTS, tenant, "next")
    assert differences(hook, store, CONTACTS, tenant) == []


def test_the_daily_limit_mid_read_leaves_no_gap(
    sandbox, hook, store, monkeypatch, tmp_path
) -> None:
    from tests.provider.connections import xero_connection

    tenant = sandbox.demo.tenant_id
    sync(hook, store, CONTACTS, tenant, "full")
    rename_in_reverse(hook, 3 * PAGE - 1)
    limited = StopAfterPages(
        hook, 1, lambda: sandbox.control("PUT", "/limits", json={"per_day": 1})
    )
    with pytest.raises(XeroDailyLimitError):
        sync(limited, store, CONTACTS, tenant, "limited")
    sandbox.control("PUT", "/limits", json={"per_day": 1_000_000})
    # The next day: the hook's budget remembers today's limit, so a new token store stands
    # in for tomorrow's worker.
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tomorrow.db", max_retries=1)
    tomorrow = XeroHook(conn_id)
    try:
        sync(tomorrow, store, CONTACTS, tenant, "next day")
        assert differences(tomorrow, store, CONTACTS, tenant) == []
    finally:
        tomorrow.close()
    assert stale(store, tenant, 1)  # other resources were never read to the end


def test_unit_amounts_are_read_at_four_places_and_stored_exactly(sandbox, hook, store) -> None:
    invoices = get_resource("Invoices")
    contact = next(iter(hook.iter_records(CONTACTS)))
    line = {"Description": "precise", "Quantity": 3, "UnitAmount": 12.3456, "AccountCode": "200"}
    body = hook.call(  # unitdp=4 on the write too, or Xero keeps 2 places (spec)
        "PUT",
        "Invoices",
        params={"unitdp": "4"},
        json={
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"ContactID": contact["ContactID"]},
                    "Status": "AUTHORISED",
                    "Date": "2026-03-01",
                    "DueDate": "2026-03-31",
                    "LineAmountTypes": "NoTax",
                    "LineItems": [line],
                }
            ]
        },
    )
    created_id = body["Invoices"][0]["InvoiceID"]
    sandbox.control("DELETE", "/requests")
    sync_resource(hook, store, invoices, sandbox.demo.tenant_id, "r", page_size=100)
    asked = [r for r in sandbox.requests() if r["path"].endswith("/Invoices")]
    assert asked and all("unitdp=4" in r.get("query", "") for r in asked), asked[:1]
    lines = store.children
    with store.engine.connect() as conn:
        unit, amount = conn.execute(
            sa.select(lines.c.unit_amount, lines.c.amount).where(
                lines.c.parent_id == created_id, lines.c.kind == "LineItems"
            )
        ).one()
    assert unit == Decimal("12.3456") and amount == Decimal("37.04")
    assert differences(hook, store, invoices, sandbox.demo.tenant_id) == []


def test_deletions_hidden_or_forgotten_reach_the_warehouse(sandbox, hook, store) -> None:
    tenant = sandbox.demo.tenant_id
    transfers, accounts, items = (get_resource(n) for n in ("BankTransfers", "Accounts", "Items"))
    for resource in (transfers, accounts, items):
        sync(hook, store, resource, tenant, "full")
    transfer = next(iter(hook.iter_records(transfers)))
    hook.call("POST", f"BankTransfers/{transfer['BankTransferID']}", json={"Status": "DELETED"})
    [account] = hook.create(accounts, [{"Code": "491", "Name": "Unused", "Type": "EXPENSE"}])
    assert account.ok, account.errors
    sync(hook, store, accounts, tenant, "account")
    hook.call("DELETE", f"Accounts/{account.record_id}")
    item = next(iter(hook.iter_records(items)))
    hook.call("DELETE", f"Items/{item['ItemID']}")
    for resource in (transfers, accounts, items):
        sync(hook, store, resource, tenant, "sweep")
    statuses = {}
    for resource, xero_id in (
        (transfers, transfer["BankTransferID"]),
        (accounts, account.record_id),
        (items, item["ItemID"]),
    ):
        table = store.table(resource)
        with store.engine.connect() as conn:
            statuses[resource.name] = conn.execute(
                sa.select(table.c.status, table.c.deleted_utc).where(table.c.xero_id == xero_id)
            ).one()
    assert statuses["BankTransfers"].status == "DELETED"  # includeDeleted shows it
    assert statuses["Accounts"].status == "DELETED" and statuses["Accounts"].deleted_utc
    assert statuses["Items"].deleted_utc is not None  # Xero forgot it; the sweep did not
    for resource in (transfers, accounts, items):
        assert differences(hook, store, resource, tenant) == [], resource.name


def test_the_sweep_stores_a_change_xero_does_not_date(sandbox, hook, store) -> None:
    tenant = sandbox.demo.tenant_id
    sync(hook, store, CONTACTS, tenant, "full")
    contact = next(c for c in hook.iter_records(CONTACTS) if not c.get("IsSupplier"))
    before = contact["UpdatedDateUTC"]
    sandbox.control("PUT", "/clock", json={"advance_seconds": 5})
    other = next(c for c in hook.iter_records(CONTACTS) if c["ContactID"] != contact["ContactID"])
    [renamed] = hook.update(CONTACTS, [{"ContactID": other["ContactID"], "Name": "Later change"}])
    assert renamed.ok, renamed.errors
    sync(hook, store, CONTACTS, tenant, "moves the position past the contact")
    [bill] = hook.create(
        get_resource("Bills"),
        [
            {
                "Contact": {"ContactID": contact["ContactID"]},
                "LineItems": [
                    {"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "400"}
                ],
            }
        ],
    )
    assert bill.ok, bill.errors
    now = hook.get(CONTACTS, contact["ContactID"])
    assert now["IsSupplier"] is True and now["UpdatedDateUTC"] == before  # undated
    sync(hook, store, CONTACTS, tenant, "incremental")
    table = store.table(CONTACTS)

    def stored() -> dict:
        import json

        with store.engine.connect() as conn:
            text = conn.execute(
                sa.select(table.c.record).where(table.c.xero_id == contact["ContactID"])
            ).scalar_one()
        return json.loads(text)

    assert stored()["IsSupplier"] is False  # no incremental read can see it
    sync_resource(hook, store, CONTACTS, tenant, "sweep", None, page_size=100)
    assert stored()["IsSupplier"] is True


def test_the_drift_check_sees_an_older_version_and_goes_red(sandbox, hook, store) -> None:
    tenant = sandbox.demo.tenant_id
    sandbox.control("PUT", "/limits", json={"per_minute": 600})  # ~80 calls, not 2 minutes
    for resource in sync_resources():
        sync_resource(hook, store, resource, tenant, "full")
    problems, report = drift(hook, store, tenant)
    assert problems == [] and report["Contacts"]["rows"] > 0
    assert stale(store, tenant, 1) == []
    contact = next(iter(hook.iter_records(CONTACTS)))
    [changed] = hook.update(CONTACTS, [{"ContactID": contact["ContactID"], "Name": "News"}])
    assert changed.ok, changed.errors
    assert drift(hook, store, tenant)[0] == []  # changed after the read: news, not drift
    table = store.table(CONTACTS)
    others = sa.select(sa.func.min(table.c.xero_id)).where(table.c.xero_id != contact["ContactID"])
    with store.engine.begin() as conn:  # a row left at an older version
        conn.execute(
            table.update()
            .where(table.c.xero_id == others.scalar_subquery())
            .values(updated_utc=datetime(2001, 1, 1))
        )
    problems, _ = drift(hook, store, tenant)
    assert any("older versions" in p for p in problems), problems
    later = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)
    assert stale(store, tenant, 36, now=later)  # nothing read to the end for a year


def test_trial_balance_from_the_warehouse_equals_xero_to_the_cent(sandbox, hook, any_store) -> None:
    tenant, store = sandbox.demo.tenant_id, any_store
    journals = get_resource("Journals")
    sync(hook, store, journals, tenant, "full")
    today = datetime.now(UTC).date()
    ours, theirs = warehouse_trial_balance(store, tenant, today), xero_trial_balance(hook, today)
    assert theirs and trial_balance_differences(ours, theirs) == []
    contact = next(iter(hook.iter_records(CONTACTS)))
    [invoice] = hook.create(
        get_resource("Invoices"),
        [
            {
                "Type": "ACCREC",
                "Status": "AUTHORISED",
                "Contact": {"ContactID": contact["ContactID"]},
                "Date": today.isoformat(),
                "DueDate": today.isoformat(),
                "LineItems": [
                    {
                        "Description": "odd cents",
                        "Quantity": 7,
                        "UnitAmount": 3.3333,
                        "AccountCode": "200",
                    }
                ],
            }
        ],
    )
    assert invoice.ok, invoice.errors
    theirs = xero_trial_balance(hook, today)
    assert trial_balance_differences(warehouse_trial_balance(store, tenant, today), theirs)
    sync(hook, store, journals, tenant, "incremental")
    assert trial_balance_differences(warehouse_trial_balance(store, tenant, today), theirs) == []
