"""Every operator's happy path through ``dag.test()`` against the sandbox."""

from __future__ import annotations

import uuid

import pytest

from tests.operators.conftest import count, records

pytestmark = pytest.mark.slow


def test_every_operator_happy_path(run_dag, xero_ops) -> None:
    tag = uuid.uuid4().hex[:6]
    contacts = [
        {"Name": f"Happy Customer {tag}", "EmailAddress": f"c{tag}@example.com"},
        {"Name": f"Happy Supplier {tag}", "ContactNumber": f"SUP-{tag}"},
    ]
    upsert = [
        {"Name": f"happy customer {tag}", "EmailAddress": f"c{tag}@example.com", "Website": "x"},
        {"Name": f"Upserted New {tag}"},
    ]
    before = {r: count(xero_ops, r) for r in ("Contacts", "Invoices", "CreditNotes", "Payments")}
    draft = next(
        i for i in records(xero_ops, "Invoices") if i["Type"] == "ACCREC" and i["Status"] == "DRAFT"
    )
    conf = {
        "contacts": contacts,
        "upsert": upsert,
        "invoice_number": f"INV-H-{tag}",
        "reference": f"ref-{tag}",
        "bill_number": f"BILL-H-{tag}",
        "draft_invoice_id": draft["InvoiceID"],
    }
    run = run_dag("xero_ops_happy", conf)

    failed = {t: run.state(t) for t in run.tis if run.state(t) != "success"}
    assert not failed, failed
    customer_id, supplier_id = run.xcom("create_contact")
    assert count(xero_ops, "Contacts") == before["Contacts"] + 3  # 2 created + 1 upserted new
    assert run.xcom("get_contact") == [customer_id, supplier_id]
    got = run.xcom("get_contact", "records")
    assert got[0]["FirstName"] == "Updated"

    # upsert: the first matched the customer by email (case-insensitive), the second is new
    assert run.xcom("upsert_contact", "upsert") == {"created": [1], "updated": [0], "unchanged": []}
    assert run.xcom("upsert_contact")[0] == customer_id

    invoice_id = run.xcom("create_invoice")[0]
    invoice = run.xcom("create_invoice", "records")[0]
    assert invoice["Type"] == "ACCREC" and invoice["Status"] == "AUTHORISED"
    # found once by number and once by reference
    assert run.xcom("find_invoice") == [invoice_id, invoice_id]

    emails = xero_ops.requests(path=f"/api.xro/2.0/Invoices/{invoice_id}/Email")
    assert [e["status"] for e in emails] == [204]

    payment_id = run.xcom("pay_invoice")[0]
    payments = {p["PaymentID"]: p for p in records(xero_ops, "Payments")}
    assert payments[payment_id]["Status"] == "DELETED"
    assert run.xcom("delete_payment", "records")[0]["Status"] == "DELETED"

    bill_id = run.xcom("create_bill")[0]
    assert run.xcom("find_bill") == [bill_id, bill_id]
    note_id = run.xcom("create_credit_note")[0]
    note = run.xcom("create_credit_note", "records")[0]
    assert note["Type"] == "ACCPAYCREDIT"
    allocation = run.xcom("allocate_credit_note", "records")[0]
    assert float(allocation["Amount"]) == 20
    notes = {n["CreditNoteID"]: n for n in records(xero_ops, "CreditNotes")}
    assert float(notes[note_id]["RemainingCredit"]) == float(note["Total"]) - 20

    bill_payment = run.xcom("pay_bill", "records")[0]
    assert bill_payment["PaymentType"] == "ACCPAYPAYMENT" and float(bill_payment["Amount"]) == 10
    assert run.xcom("pay_bill", "xero_links")[0].endswith(
        f"/Bank/ViewTransaction.aspx?bankTransactionID={bill_payment['PaymentID']}"
    )

    kinds = [r["Type"] for r in run.xcom("create_bank_transactions", "records")]
    assert kinds == [
        "RECEIVE",
        "SPEND",
        "RECEIVE-PREPAYMENT",
        "SPEND-PREPAYMENT",
        "RECEIVE-OVERPAYMENT",
        "SPEND-OVERPAYMENT",
    ]
    transfer = run.xcom("create_bank_transfer", "records")[0]
    assert float(transfer["Amount"]) == 25
    quote = run.xcom("update_quote", "records")[0]
    assert quote["Title"] == "Proposal v2" and quote["Status"] == "DRAFT"
    assert run.xcom("create_purchase_order", "records")[0]["Contact"]["ContactID"] == supplier_id
    history = xero_ops.requests(path=f"/api.xro/2.0/Invoices/{invoice_id}/History", method="PUT")
    assert [h["status"] for h in history] == [200]

    # deep links: Xero's documented shapes, with the organisation's ShortCode
    links = run.xcom("create_bill", "xero_links")
    assert links[0].startswith("https://go.xero.com/organisationlogin/default.aspx?shortcode=")
    assert links[0].endswith(f"&redirecturl=/AccountsPayable/Edit.aspx?InvoiceID={bill_id}")
    assert run.xcom("create_invoice", "xero_links")[0].endswith(
        f"/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"
    )
    assert run.xcom("create_quote", "xero_links")[0].startswith("https://go.xero.com/app/")
    # the short code is asked of Xero once for all the run's operators, then kept
    assert len(xero_ops.requests(path="/api.xro/2.0/Organisation", method="GET")) == 1
    # the operator extra link was rendered at the end of the task, from that XCom
    assert run.xcom("create_bill", "_link_XeroRecordLink") == links[0]
    # the generic delete: a DRAFT invoice is DELETED
    assert run.xcom("delete_draft_invoice", "records")[0]["Status"] == "DELETED"
    deleted = {i["InvoiceID"]: i for i in records(xero_ops, "Invoices")}[draft["InvoiceID"]]
    assert deleted["Status"] == "DELETED"
    for task_id in run.tis:
        assert run.xcom(task_id, "rejected") == [], task_id
