"""No wasted call or write in the warehouse sync (issue 20) and a trial balance without
Journals (issue 17), against the sandbox over HTTP: an incremental run with nothing
changed costs at most one call per resource and rewrites no row; the quality check
compares on its own cadence and reads summaries; on a Core app the trial balance from the
warehouse's documents and payments equals Xero's TrialBalance report to the cent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from xero_examples.ledger import LinesMissing
from xero_examples.quality import comparison_due, drift
from xero_examples.sync import since_for, sync_resource
from xero_examples.trial_balance import (
    documents_trial_balance,
    trial_balance_differences,
    xero_trial_balance,
)
from xero_examples.warehouse import Warehouse, sync_resources
from xero_provider.hooks import XeroHook
from xero_provider.resources import get_resource

API = "/api.xro/2.0/"


@pytest.fixture
def fast(sandbox):
    """The sandbox at 600 calls a minute: a full sync is ~80 calls, not two minutes."""
    sandbox.control("PUT", "/limits", json={"per_minute": 600})
    return sandbox


def connect(sandbox, monkeypatch, tmp_path, **extra: Any) -> XeroHook:
    from tests.provider.connections import xero_connection

    conn_id = xero_connection(
        sandbox, monkeypatch, tmp_path / "tokens.db", max_retries=1, rate_limit_per_minute=600,
        **extra,
    )  # fmt: skip
    return XeroHook(conn_id)


@pytest.fixture
def hook(fast, monkeypatch, tmp_path) -> Iterator[XeroHook]:
    hook = connect(fast, monkeypatch, tmp_path)
    yield hook
    hook.close()


def sync_all(hook, store: Warehouse, tenant: str, run_id: str, **options) -> dict[str, dict]:
    """Every resource as the DAG's tasks run it, from each resource's position."""
    return {
        r.name: sync_resource(
            hook, store, r, tenant, run_id, since_for(store, r, tenant, None), **options
        )
        for r in sync_resources()
    }


def api_calls(sandbox, since: int) -> Counter:
    """Accounting API calls per resource path after log entry ``since``."""
    entries = sandbox.control("GET", "/requests", params={"since": since}).json()
    return Counter(e["path"][len(API) :] for e in entries if e["path"].startswith(API))


def last_seq(sandbox) -> int:
    entries = sandbox.control("GET", "/requests").json()
    return entries[-1]["seq"] if entries else 0


def row_stamps(store: Warehouse) -> dict[str, tuple]:
    """Each stored row's (run_id, loaded_at), per table: what an upsert rewrites."""
    stamps = {}
    with store.engine.connect() as conn:
        for name, table in store.tables.items():
            for row in conn.execute(sa.select(table.c.xero_id, table.c.run_id, table.c.loaded_at)):
                stamps[f"{name}/{row.xero_id}"] = (row.run_id, row.loaded_at)
    return stamps


def test_an_unchanged_incremental_sync_costs_one_call_per_resource_and_rewrites_nothing(
    fast, hook, store
) -> None:
    tenant = fast.demo.tenant_id
    sync_all(hook, store, tenant, "full")
    before = row_stamps(store)
    mark = last_seq(fast)
    results = sync_all(hook, store, tenant, "quiet")
    calls = api_calls(fast, mark)
    assert sum(calls.values()) <= len(sync_resources()), calls
    assert max(calls.values()) == 1, calls
    assert {n: r["written"] for n, r in results.items() if r["written"]} == {}
    assert row_stamps(store) == before  # no row rewritten (run id and load time kept)
    assert sum(r["seen"] for r in results.values()) > 0  # the overlap second was re-read

    contact = next(iter(hook.iter_records("Contacts", summary_only=True)))
    [edited] = hook.update("Contacts", [{"ContactID": contact["ContactID"], "Website": "x.io"}])
    assert edited.ok, edited.errors
    mark = last_seq(fast)
    results = sync_all(hook, store, tenant, "one change")
    assert max(api_calls(fast, mark).values()) == 1
    assert {n: r["written"] for n, r in results.items() if r["written"]} == {"Contacts": 1}
    after = row_stamps(store)
    assert [k for k in after if after[k] != before[k]] == [f"Contacts/{contact['ContactID']}"]


def test_an_equal_version_with_other_content_is_still_written(store) -> None:
    contacts = get_resource("Contacts")
    record = {"ContactID": "c1", "Name": "A", "UpdatedDateUTC": "/Date(1000+0000)/"}
    assert store.upsert(contacts, "t", [record], "r1") == 1
    assert store.upsert(contacts, "t", [record], "r2") == 0
    undated = {**record, "IsSupplier": True}  # a change Xero does not date (the sweep)
    assert store.upsert(contacts, "t", [undated], "r3") == 1
    assert store.upsert(contacts, "t", [record | {"UpdatedDateUTC": "/Date(1+0000)/"}], "r4") == 0


def test_the_quality_check_compares_on_its_own_cadence(store) -> None:
    tenant, now = "t", datetime(2026, 12, 7, 2, tzinfo=UTC)
    assert comparison_due(store, tenant, 168, now)  # never compared
    store.record_comparison(tenant, now, "run")
    assert not comparison_due(store, tenant, 168, now + timedelta(hours=24))
    assert comparison_due(store, tenant, 168, now + timedelta(hours=24), force=True)
    assert comparison_due(store, tenant, 168, now + timedelta(hours=168))
    assert store.last_comparison(tenant) == now


def test_the_quality_check_reads_summaries_and_one_report(fast, hook, store) -> None:
    tenant = fast.demo.tenant_id
    sync_all(hook, store, tenant, "full")
    mark = last_seq(fast)
    problems, report = drift(hook, store, tenant)
    assert problems == [] and report["trial_balance"] == "from journals"
    entries = [
        e
        for e in fast.control("GET", "/requests", params={"since": mark}).json()
        if e["path"].startswith(API)
    ]
    for name in ("Contacts", "Invoices"):
        reads = [e for e in entries if e["path"] == API + name]
        assert reads and all("summaryOnly=true" in e["query"] for e in reads), reads
    assert [e["path"] for e in entries].count(API + "Reports/TrialBalance") == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path) -> Iterator[Warehouse]:
    """The warehouse on each dialect the example supports."""
    from tests.examples.test_warehouse import _warehouse

    yield from _warehouse(request.param, tmp_path, history=False)


def test_trial_balance_from_documents_equals_xero_on_a_core_app(
    fast, monkeypatch, tmp_path, any_store
) -> None:
    """A Core app has no Journals: the warehouse's documents, payments, bank transactions
    and transfers, credit notes and manual journals give each account's balance."""
    store = any_store
    client_id = fast.demo.web_client_id
    fast.control("PUT", f"/apps/{client_id}", json={"tier": "core"})
    hook = connect(fast, monkeypatch, tmp_path, app_tier="core")
    tenant, today = fast.demo.tenant_id, datetime.now(UTC).date()
    try:
        results = sync_all(hook, store, tenant, "full")
        assert "Advanced" in results["Journals"]["skipped"]
        theirs = xero_trial_balance(hook, today)
        ours = documents_trial_balance(store, tenant, today)
        assert len(theirs) >= 5 and trial_balance_differences(ours, theirs) == []

        contact = next(iter(hook.iter_records("Contacts", summary_only=True)))
        [invoice] = hook.create(
            "SalesInvoices",
            [
                {
                    "Contact": {"ContactID": contact["ContactID"]},
                    "Status": "AUTHORISED",
                    "Date": today.isoformat(),
                    "DueDate": today.isoformat(),
                    "LineAmountTypes": "Inclusive",
                    "LineItems": [
                        {
                            "Description": "odd cents",
                            "Quantity": 7,
                            "UnitAmount": 3.3333,
                            "AccountCode": "200",
                            "TaxType": "OUTPUT2",
                        },
                    ],
                }
            ],
        )
        assert invoice.ok, invoice.errors
        bank = next(a for a in hook.iter_records("Accounts") if a.get("Type") == "BANK")
        [paid] = hook.create(
            "Payments",
            [
                {
                    "Invoice": {"InvoiceID": invoice.record["InvoiceID"]},
                    "Account": {"AccountID": bank["AccountID"]},
                    "Date": today.isoformat(),
                    "Amount": 10.01,
                }
            ],
        )
        assert paid.ok, paid.errors
        theirs = xero_trial_balance(hook, today)
        assert trial_balance_differences(documents_trial_balance(store, tenant, today), theirs)
        sync_all(hook, store, tenant, "incremental")
        assert (
            trial_balance_differences(documents_trial_balance(store, tenant, today), theirs) == []
        )
        problems, report = drift(hook, store, tenant, skip={"Journals"})
        assert problems == [] and report["trial_balance"] == "from documents and payments"
    finally:
        fast.control("PUT", f"/apps/{client_id}", json={"tier": "advanced"})
        hook.close()


def test_a_lean_warehouse_says_why_it_cannot_post_documents(fast, hook, store) -> None:
    tenant, today = fast.demo.tenant_id, datetime.now(UTC).date()
    for name in ("Accounts", "Invoices"):
        sync_resource(hook, store, get_resource(name), tenant, "lean", lean=True)
    with pytest.raises(LinesMissing, match="lean sync"):
        documents_trial_balance(store, tenant, today)


def test_the_check_reads_only_journals_after_the_newest_stored(fast, hook, store) -> None:
    tenant = fast.demo.tenant_id
    journals = get_resource("Journals")
    sync_all(hook, store, tenant, "full")
    mark = last_seq(fast)
    assert drift(hook, store, tenant)[0] == []
    assert api_calls(fast, mark)["Journals"] == 1
    table = store.table(journals)
    with store.engine.begin() as conn:  # the newest journal lost from the warehouse
        newest = sa.select(sa.func.max(sa.cast(table.c.number, sa.Integer))).scalar_subquery()
        conn.execute(table.delete().where(sa.cast(table.c.number, sa.Integer) == newest))
    problems, _ = drift(hook, store, tenant)
    assert any("Journals: 1 in Xero after the warehouse's newest" in p for p in problems)


def test_quiet_runs_start_past_a_settled_second(fast, hook, store, monkeypatch) -> None:
    import time

    from xero_examples import sync

    tenant = fast.demo.tenant_id
    contacts = get_resource("Contacts")
    sync_all(hook, store, tenant, "full")
    position = store.position(contacts, tenant)
    assert since_for(store, contacts, tenant, None) == position  # just read: overlap kept
    monkeypatch.setattr(sync, "SETTLED", timedelta(seconds=1))
    time.sleep(1.2)
    sync_all(hook, store, tenant, "later")  # a complete read that began after SETTLED
    assert since_for(store, contacts, tenant, None) == position + timedelta(seconds=1)
    mark = last_seq(fast)
    results = sync_all(hook, store, tenant, "quiet")
    assert results["Contacts"]["seen"] == 0 and results["Invoices"]["seen"] == 0
    assert max(api_calls(fast, mark).values()) == 1
    contact = next(iter(hook.iter_records("Contacts", summary_only=True)))
    [edited] = hook.update("Contacts", [{"ContactID": contact["ContactID"], "Website": "y.io"}])
    assert edited.ok, edited.errors
    assert sync_all(hook, store, tenant, "change")["Contacts"]["written"] == 1
