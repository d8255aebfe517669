"""Property: any sequence of run, lost answer, 5xx, retry, clear and rerun over a mixed
batch of every write operator leaves each intended effect in Xero exactly once, and a
final try ends in success with the IDs the first successful try returned.

Each example gets its own documents in the sandbox (unique tags) and its own run key.
The operators are executed in this process against the sandbox over HTTP; a retry, a
clear and a rerun of the same run are, to an operator, another ``execute`` with the same
run key (the key leaves the try number out), so each is one more ``execute`` here. The
real Airflow retries are in ``test_exactly_once_ops.py``. Faults are the sandbox's: a
dropped answer after Xero committed, or a 503, on as many attempts as the hook makes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.operators.conftest import records
from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook
from xero_provider.operators import (
    XeroAddHistoryNoteOperator,
    XeroCreateBankTransactionOperator,
    XeroCreateBankTransferOperator,
    XeroCreateBillOperator,
    XeroCreateContactOperator,
    XeroCreateCreditNoteOperator,
    XeroCreatePaymentOperator,
    XeroCreatePurchaseOrderOperator,
    XeroCreateQuoteOperator,
    XeroCreateSalesInvoiceOperator,
    XeroDeletePaymentOperator,
    XeroSendInvoiceEmailOperator,
    XeroUpdateContactOperator,
    XeroUpdateCreditNoteAllocationOperator,
    XeroUpdateQuoteOperator,
    XeroUpsertContactOperator,
)

pytestmark = pytest.mark.slow

STEPS = ("run", "lost", "5xx", "retry", "clear", "rerun")
# the connection makes one attempt per call (max_retries=1), so one fault fails the try
FAULTS = {
    "lost": {"drop": True, "after_commit": True, "methods": ["PUT", "POST"], "count": 1},
    "5xx": {"status": 503, "methods": ["PUT", "POST"], "count": 1},
}
CONN = "xero_prop"
LINE = {"Description": "x", "Quantity": 1, "UnitAmount": 100, "AccountCode": "429"}
BANK = {"Code": "090"}


@dataclass
class TaskInstance:
    """What an operator reads of its task instance: the run's identity, and XCom."""

    run_id: str
    task_id: str
    dag_id: str = "xero_ops_property"
    map_index: int = -1
    xcom: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def _documents(hook: XeroHook, tag: str) -> dict[str, str]:
    """A contact and the documents the operators work on, new for each example."""
    contact = hook.create(
        "Contacts", {"Name": f"Prop {tag}", "EmailAddress": f"p{tag}@example.com"}
    )[0].record_id

    def document(type_: str, amount: float) -> dict:
        line = {**LINE, "UnitAmount": amount}
        return {
            "Type": type_,
            "Contact": {"ContactID": contact},
            "Date": "2026-11-02",
            "DueDate": "2026-11-30",
            "Status": "AUTHORISED",
            "LineAmountTypes": "NoTax",
            "LineItems": [line],
        }

    made = hook.create(
        "Invoices",
        [
            document("ACCREC", 115),
            document("ACCREC", 10),
            document("ACCREC", 10),
            document("ACCPAY", 100),
        ],
    )
    (note,) = hook.create("CreditNotes", document("ACCPAYCREDIT", 50))
    payment = hook.create(
        "Payments",
        {
            "Invoice": {"InvoiceID": made[2].record_id},
            "Account": BANK,
            "Amount": 10,
            "Date": "2026-11-03",
        },
    )[0]
    quote = hook.create(
        "Quotes",
        {
            "Contact": {"ContactID": contact},
            "Date": "2026-11-02",
            "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5}],
        },
    )[0]
    assert all(r.ok for r in [*made, note, payment, quote])
    return {
        "contact": contact,
        "pay": made[0].record_id,
        "email": made[1].record_id,
        "bill": made[3].record_id,
        "note": note.record_id,
        "payment": payment.record_id,
        "quote": quote.record_id,
    }


def _operators(tag: str, d: dict[str, str]) -> list[Any]:
    """One task per write operator, each with the records of this example."""
    c = {"Contact": {"ContactID": d["contact"]}}
    doc = {**c, "Date": "2026-11-04", "DueDate": "2026-11-30", "LineItems": [LINE]}
    x = {"xero_conn_id": CONN}
    return [
        XeroCreateContactOperator(
            task_id="contacts", records=[{"Name": f"PC {tag} {i}"} for i in range(3)], **x
        ),
        XeroUpdateContactOperator(
            task_id="update_contact",
            records={"ContactID": d["contact"], "Website": f"https://{tag}.example"},
            **x,
        ),
        XeroUpsertContactOperator(
            task_id="upsert", records={"Name": f"PU {tag}", "ContactNumber": f"PU{tag}"}, **x
        ),
        XeroCreateSalesInvoiceOperator(
            task_id="invoice", records={**doc, "Reference": f"PS{tag}"}, **x
        ),
        XeroCreateBillOperator(task_id="bill", records={**doc, "Reference": f"PB{tag}"}, **x),
        XeroCreateCreditNoteOperator(
            task_id="credit_note", records={**doc, "Reference": f"PN{tag}"}, **x
        ),
        XeroCreatePaymentOperator(
            task_id="payment",
            records={
                "Invoice": {"InvoiceID": d["pay"]},
                "Account": BANK,
                "Amount": 100,
                "Date": "2026-11-05",
            },
            **x,
        ),
        XeroDeletePaymentOperator(task_id="delete_payment", record_ids=[d["payment"]], **x),
        XeroUpdateCreditNoteAllocationOperator(
            task_id="allocate",
            records={
                "CreditNoteID": d["note"],
                "Invoice": {"InvoiceID": d["bill"]},
                "Amount": 30,
                "Date": "2026-11-05",
            },
            **x,
        ),
        XeroSendInvoiceEmailOperator(task_id="email", record_ids=[d["email"]], **x),
        XeroAddHistoryNoteOperator(
            task_id="note", resource="Contacts", record_ids=[d["contact"]], note=f"N {tag}", **x
        ),
        XeroCreateQuoteOperator(
            task_id="quote",
            records={
                **c,
                "Date": "2026-11-04",
                "Reference": f"PQ{tag}",
                "LineItems": [{"Description": "q", "Quantity": 1, "UnitAmount": 5}],
            },
            **x,
        ),
        XeroUpdateQuoteOperator(
            task_id="update_quote", records={"QuoteID": d["quote"], "Status": "SENT"}, **x
        ),
        XeroCreatePurchaseOrderOperator(
            task_id="purchase_order",
            records={**c, "Reference": f"PP{tag}", "LineItems": [LINE]},
            **x,
        ),
        XeroCreateBankTransactionOperator(
            task_id="bank_transaction",
            records={
                "Type": "SPEND",
                **c,
                "BankAccount": BANK,
                "Reference": f"PT{tag}",
                "LineItems": [LINE],
            },
            **x,
        ),
        XeroCreateBankTransferOperator(
            task_id="bank_transfer",
            records={
                "FromBankAccount": BANK,
                "ToBankAccount": {"Code": "091"},
                "Amount": 7,
                "Reference": f"PX{tag}",
            },
            **x,
        ),
    ]


def _execute(op: Any, run_id: str) -> list[str] | None:
    ti = TaskInstance(run_id=run_id, task_id=op.task_id)
    try:
        return op.execute({"ti": ti})
    except Exception:  # a lost answer or a 5xx: the try fails
        return None


def _effects(sandbox: Any, hook: XeroHook, tag: str, d: dict[str, str]) -> dict[str, Any]:
    """Each intended effect, counted (or read) at the sandbox."""

    def tagged(resource: str, key: str, value: str) -> int:
        return sum(r.get(key) == value for r in records(sandbox, resource))

    contacts = records(sandbox, "Contacts")
    payments = records(sandbox, "Payments")
    history = hook.call("GET", f"Invoices/{d['email']}/History")["HistoryRecords"]
    notes = hook.call("GET", f"Contacts/{d['contact']}/History")["HistoryRecords"]
    return {
        "contacts": sorted(sum(c["Name"] == f"PC {tag} {i}" for c in contacts) for i in range(3)),
        "website": next(c for c in contacts if c["ContactID"] == d["contact"]).get("Website"),
        "upsert": sum(c["Name"] == f"PU {tag}" for c in contacts),
        "invoice": tagged("Invoices", "Reference", f"PS{tag}"),
        "bill": tagged("Invoices", "Reference", f"PB{tag}"),
        "credit_note": tagged("CreditNotes", "Reference", f"PN{tag}"),
        "payment": sum(
            p["Invoice"]["InvoiceID"] == d["pay"] and p.get("Status") != "DELETED" for p in payments
        ),
        "amount_due": float(hook.get("Invoices", d["pay"])["AmountDue"]),
        "deleted": next(p for p in payments if p["PaymentID"] == d["payment"])["Status"],
        "remaining_credit": float(hook.get("CreditNotes", d["note"])["RemainingCredit"]),
        "emails": sum(h.get("Changes") == "Email sent" for h in history),
        "notes": sum(h.get("Details") == f"N {tag}" for h in notes),
        "quote": tagged("Quotes", "Reference", f"PQ{tag}"),
        "quote_status": hook.get("Quotes", d["quote"])["Status"],
        "purchase_order": tagged("PurchaseOrders", "Reference", f"PP{tag}"),
        "bank_transaction": tagged("BankTransactions", "Reference", f"PT{tag}"),
        "bank_transfer": tagged("BankTransfers", "Reference", f"PX{tag}"),
    }


def _once(tag: str) -> dict[str, Any]:
    return {
        "contacts": [1, 1, 1],
        "website": f"https://{tag}.example",
        "upsert": 1,
        "invoice": 1,
        "bill": 1,
        "credit_note": 1,
        "payment": 1,
        "amount_due": 15.0,
        "deleted": "DELETED",
        "remaining_credit": 20.0,
        "emails": 1,
        "notes": 1,
        "quote": 1,
        "quote_status": "SENT",
        "purchase_order": 1,
        "bank_transaction": 1,
        "bank_transfer": 1,
    }


@pytest.fixture
def prop_conn(xero_ops: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """A connection to the sandbox that does not retry inside the hook: faults fail the
    try at once (no backoff), and the next ``execute`` is the retry."""
    xero_connection(
        xero_ops,
        monkeypatch,
        tmp_path / "prop.db",
        conn_id=CONN,
        max_retries=1,
        # the sandbox's limits are off: the hook's own budget must not pace this either
        rate_limit_per_minute=100000,
        app_rate_limit_per_minute=100000,
        rate_limit_per_day=1000000,
    )
    return xero_ops


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.sampled_from(STEPS), min_size=1, max_size=3))
@example(steps=["lost", "5xx", "clear"])  # both faults, always
def test_any_sequence_leaves_each_effect_once(prop_conn, steps: list[str]) -> None:
    sandbox = prop_conn
    hook = XeroHook(CONN)
    tag = uuid.uuid4().hex[:8]
    docs = _documents(hook, tag)
    run_id = f"manual__{tag}"
    first: dict[str, list[str]] = {}
    for step in steps:
        for op in _operators(tag, docs):
            if step in FAULTS:
                sandbox.control("POST", "/faults", json=FAULTS[step])
            ids = _execute(op, run_id)
            sandbox.control("DELETE", "/faults")
            if ids is not None:
                first.setdefault(op.task_id, ids)
                assert ids == first[op.task_id], (step, op.task_id)
    for op in _operators(tag, docs):  # the try that must end in success
        ti = TaskInstance(run_id=run_id, task_id=op.task_id)
        ids = op.execute({"ti": ti})
        assert ti.xcom["rejected"] == [], (op.task_id, ti.xcom["rejected"])
        assert ids == first.setdefault(op.task_id, ids), op.task_id
    assert _effects(sandbox, hook, tag, docs) == _once(tag), steps


def test_a_fixed_record_is_written_on_rerun_and_nothing_else_again(prop_conn) -> None:
    tag = uuid.uuid4().hex[:8]
    rows = [{"Name": f"Fix {tag} {i}"} for i in range(3)]
    taken = [*rows[:1], {"Name": "Bayside Club"}, *rows[2:]]  # Xero refuses the name

    def run(records: list[dict]) -> tuple[list[str] | None, TaskInstance]:
        op = XeroCreateContactOperator(task_id="fix", records=records, xero_conn_id=CONN)
        ti = TaskInstance(run_id=f"manual__{tag}", task_id="fix")
        try:
            return op.execute({"ti": ti}), ti
        except Exception:
            return None, ti

    ids, ti = run(taken)
    assert ids is None and [e["index"] for e in ti.xcom["rejected"]] == [1]
    puts = len(prop_conn.requests(path="/api.xro/2.0/Contacts", method="PUT"))
    ids, ti = run(rows)  # the record fixed, the run cleared
    assert ids is not None and len(ids) == 3 and ti.xcom["rejected"] == []
    assert len(prop_conn.requests(path="/api.xro/2.0/Contacts", method="PUT")) == puts + 1
    names = [c["Name"] for c in records(prop_conn, "Contacts")]
    assert sorted(n for n in names if n.startswith(f"Fix {tag} ")) == [r["Name"] for r in rows]
