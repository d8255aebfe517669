"""Issue 16's scenarios through ``dag.test()``, real Airflow retries and sandbox faults:
each write takes effect exactly once on retry, clear and rerun, and the run ends in
success. Effects are counted at the sandbox (its stored records and its request log)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.operators.conftest import records
from xero_provider.operators.base import XeroBaseOperator

pytestmark = pytest.mark.slow

BANK = {"Code": "090"}


def _hook():
    from xero_provider.hooks import XeroHook

    return XeroHook("xero_ops")


def _invoices(count: int, amount: float) -> list[str]:
    """``count`` new AUTHORISED sales invoices of ``amount`` each (no tax)."""
    hook = _hook()
    contact = hook.create("Contacts", {"Name": f"Once {uuid.uuid4().hex[:8]}"})[0].record_id
    line = {"Description": "x", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200"}
    invoice = {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact},
        "Date": "2026-11-02",
        "DueDate": "2026-11-30",
        "Status": "AUTHORISED",
        "LineAmountTypes": "NoTax",
        "LineItems": [line],
    }
    results = hook.create("Invoices", [dict(invoice) for _ in range(count)])
    assert all(r.ok for r in results), [r.errors for r in results if not r.ok]
    return [r.record_id for r in results]


def _payments_on(invoice_ids: set[str]) -> list[dict[str, Any]]:
    """The payments the sandbox holds on these invoices, deleted ones left out."""
    hook = _hook()
    return [
        p
        for p in hook.iter_records("Payments")
        if p["Invoice"]["InvoiceID"] in invoice_ids and p.get("Status") != "DELETED"
    ]


def _due(invoice_id: str) -> float:
    return float(_hook().get("Invoices", invoice_id)["AmountDue"])


@pytest.fixture
def lose_answer(xero_ops, monkeypatch) -> Iterator[Any]:
    """``lose_answer(n, fault)``: install a sandbox fault just before the ``n``-th chunk an
    operator sends (counting from 1), so that chunk, not the first, meets it."""
    state = {"calls": 0, "at": None, "fault": None}
    original = XeroBaseOperator._write_chunk

    def counted(self, hook, op, chunk, items):
        state["calls"] += 1
        if state["calls"] == state["at"]:
            xero_ops.control("POST", "/faults", json=state["fault"])
        return original(self, hook, op, chunk, items)

    monkeypatch.setattr(XeroBaseOperator, "_write_chunk", counted)

    def arm(at: int, fault: dict[str, Any]) -> None:
        state.update(calls=0, at=at, fault=fault)

    yield arm
    xero_ops.control("DELETE", "/faults")


def test_a_payment_rerun_is_not_refused_by_its_own_payment(run_dag, xero_ops) -> None:
    (invoice,) = _invoices(1, 115)
    conf = {"payments": [{"Invoice": {"InvoiceID": invoice}, "Account": BANK, "Amount": 100,
                          "Date": "2026-11-05"}]}  # fmt: skip
    when = datetime.now(UTC)
    first = run_dag("xero_ops_once_pay", conf, logical_date=when)
    assert first.state("write") == "success"
    again = run_dag("xero_ops_once_pay", conf, logical_date=when)  # the same run, cleared
    assert again.state("write") == "success", again.xcom("write", "rejected")
    assert again.xcom("write") == first.xcom("write")
    assert again.xcom("write", "rejected") == []
    assert len(_payments_on({invoice})) == 1 and _due(invoice) == 15


def test_a_quote_update_rerun_is_not_refused_by_its_own_update(run_dag, xero_ops) -> None:
    hook = _hook()
    contact = next(iter(hook.iter_records("Contacts")))["ContactID"]
    quote = hook.create(
        "Quotes",
        {
            "Contact": {"ContactID": contact},
            "Date": "2026-11-02",
            "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5}],
        },
    )[0].record_id
    conf = {"quotes": [{"QuoteID": quote, "Status": "SENT"}]}
    when = datetime.now(UTC)
    first = run_dag("xero_ops_once_quote", conf, logical_date=when)
    assert first.state("write") == "success"
    posts = len(xero_ops.requests(path="/api.xro/2.0/Quotes", method="POST"))
    again = run_dag("xero_ops_once_quote", conf, logical_date=when)
    assert again.state("write") == "success", again.xcom("write", "rejected")
    assert again.xcom("write") == [quote]
    assert len(xero_ops.requests(path="/api.xro/2.0/Quotes", method="POST")) == posts
    assert hook.get("Quotes", quote)["Status"] == "SENT"


@pytest.mark.parametrize("dag_id", ["xero_ops_once_pay", "xero_ops_once_pay_continue"])
def test_60_payments_answer_to_chunk_2_lost(run_dag, xero_ops, lose_answer, dag_id) -> None:
    invoices = _invoices(60, 20)
    conf = {"payments": [{"Invoice": {"InvoiceID": i}, "Account": BANK, "Amount": 20,
                          "Date": "2026-11-05"} for i in invoices]}  # fmt: skip
    # Xero commits chunk 2 and the answer is lost, on both of the hook's attempts: try 1
    # of the task fails, Airflow's retry (try 2) must finish the job.
    lose_answer(2, {"drop": True, "after_commit": True, "methods": ["PUT"],
                    "path": "/Payments$", "count": 2})  # fmt: skip
    when = datetime.now(UTC)
    run = run_dag(dag_id, conf, logical_date=when)
    assert run.state("write") == "success", run.xcom("write", "rejected")
    assert run.tis["write"].try_number == 2
    ids = run.xcom("write")
    assert len(ids) == 60 and len(set(ids)) == 60 and run.xcom("write", "rejected") == []
    paid = _payments_on(set(invoices))
    assert sorted(p["PaymentID"] for p in paid) == sorted(ids)  # each invoice paid once
    assert sorted(p["Invoice"]["InvoiceID"] for p in paid) == sorted(invoices)

    puts = len(xero_ops.requests(path="/api.xro/2.0/Payments", method="PUT"))
    again = run_dag(dag_id, conf, logical_date=when)  # and a clear of the finished run
    assert again.state("write") == "success" and again.xcom("write") == ids
    assert len(xero_ops.requests(path="/api.xro/2.0/Payments", method="PUT")) == puts
    assert len(_payments_on(set(invoices))) == 60


def test_two_payments_over_one_invoice_are_refused_before_any_write(run_dag, xero_ops) -> None:
    (invoice,) = _invoices(1, 115)
    pay = {"Invoice": {"InvoiceID": invoice}, "Account": BANK, "Amount": 100, "Date": "2026-11-05"}
    run = run_dag("xero_ops_once_pay", {"payments": [pay, dict(pay)]})
    assert run.state("write") == "failed"
    (entry,) = run.xcom("write", "rejected")
    assert entry["index"] == 1 and entry["field"] == "Amount"
    assert "records[0] (100)" in entry["message"] and "115" in entry["message"]
    assert _payments_on({invoice}) == []  # nothing written


def test_upsert_151_new_contacts_503_on_batch_2_then_rerun_writes_nothing(
    run_dag, xero_ops, lose_answer
) -> None:
    tag = uuid.uuid4().hex[:8]
    conf = {"contacts": [{"Name": f"Up {tag} {i:03d}", "ContactNumber": f"U{tag}{i}"}
                         for i in range(151)]}  # fmt: skip
    lose_answer(2, {"status": 503, "methods": ["PUT"], "path": "/Contacts$", "count": 2})
    when = datetime.now(UTC)
    run = run_dag("xero_ops_once_upsert", conf, logical_date=when)
    assert run.state("write") == "success", run.xcom("write", "rejected")
    assert run.tis["write"].try_number == 2
    mine = [c for c in records(xero_ops, "Contacts") if c["Name"].startswith(f"Up {tag} ")]
    assert len(mine) == 151 and len({c["Name"] for c in mine}) == 151
    ids = run.xcom("write")
    assert sorted(ids) == sorted(c["ContactID"] for c in mine)
    assert run.xcom("write", "upsert")["created"] == list(range(151))
    stamps = {c["ContactID"]: c["UpdatedDateUTC"] for c in mine}

    writes = len(xero_ops.requests(path="/api.xro/2.0/Contacts", method="POST")) + len(
        xero_ops.requests(path="/api.xro/2.0/Contacts", method="PUT")
    )
    again = run_dag("xero_ops_once_upsert", conf, logical_date=when)  # cleared: same run
    fresh = run_dag("xero_ops_once_upsert", conf)  # a new run with the same data
    for other in (again, fresh):
        assert other.state("write") == "success" and other.xcom("write") == ids
    assert fresh.xcom("write", "upsert") == {
        "created": [],
        "updated": [],
        "unchanged": list(range(151)),
    }
    after = len(xero_ops.requests(path="/api.xro/2.0/Contacts", method="POST")) + len(
        xero_ops.requests(path="/api.xro/2.0/Contacts", method="PUT")
    )
    assert after == writes  # no write at all
    mine = [c for c in records(xero_ops, "Contacts") if c["Name"].startswith(f"Up {tag} ")]
    assert {c["ContactID"]: c["UpdatedDateUTC"] for c in mine} == stamps
