"""Each operator against a Xero rule it can hit, through ``dag.test()``: the task fails,
and the log and XCom ``rejected`` name the record, the field and the reason (Xero's own
message when Xero refused it)."""

from __future__ import annotations

import uuid

import pytest

from tests.operators.conftest import count, records

pytestmark = pytest.mark.slow


def _demo_ids(sandbox) -> dict[str, str]:
    invoices = records(sandbox, "Invoices")
    quotes = records(sandbox, "Quotes")
    notes = records(sandbox, "CreditNotes")
    payments = records(sandbox, "Payments")

    def invoice(type_: str, status: str, contact: str) -> str:
        return next(
            i["InvoiceID"]
            for i in invoices
            if i["Type"] == type_ and i["Status"] == status and i["Contact"]["Name"] == contact
        )

    return {
        "unknown_id": str(uuid.uuid4()),
        "sales_invoice_id": invoice("ACCREC", "AUTHORISED", "Ridgeway University"),
        "authorised_invoice_id": invoice("ACCREC", "AUTHORISED", "Ridgeway University"),
        "no_email_invoice_id": invoice("ACCREC", "AUTHORISED", "City Limousines"),
        "draft_invoice_id": invoice("ACCREC", "DRAFT", "Ridgeway University"),
        "bill_id": invoice("ACCPAY", "AUTHORISED", "Office Supplies Co"),
        "sent_quote_id": next(q["QuoteID"] for q in quotes if q["Status"] == "SENT"),
        "credit_note_id": next(n["CreditNoteID"] for n in notes if n["Type"] == "ACCPAYCREDIT"),
        "payment_id": next(p["PaymentID"] for p in payments if p["Reference"] == "Part payment"),
    }


# task id -> (source, field or None, a piece of the message)
EXPECTED = {
    "bill_missing_contact": ("xero", None, "contact"),
    "invoice_unknown_account": ("xero", None, "999"),
    "credit_note_unknown_account": ("xero", None, "999"),
    "contact_name_taken": ("xero", "Name", "unique"),
    "update_unknown_contact": ("xero", "ContactID", "was not found"),
    "get_unknown_contact": ("xero", None, "does not exist"),
    "upsert_same_contact_twice": (
        "validation",
        "ContactNumber",
        "same ContactNumber as records[0]",
    ),
    "find_bill_given_sales_invoice": ("xero", None, "is a ACCREC document, not one of the Bills"),
    "find_unknown_number": ("xero", None, "no SalesInvoices with InvoiceNumber 'NO-SUCH-NUMBER'"),
    "quote_not_draft": ("validation", "Status", "is SENT; Xero only updates it while DRAFT"),
    "quote_without_date": ("validation", "Date", "is required"),
    "purchase_order_unknown_contact": ("xero", None, "found"),
    "payment_above_amount_due": ("validation", "Amount", "is more than the 1242"),
    "delete_deleted_payment": ("xero", None, "already been deleted"),
    "email_contact_without_email": ("xero", None, "no email address"),
    "email_draft_invoice": ("xero", None, "DRAFT"),
    "over_allocation": (
        "validation",
        "Amount",
        "60 is more than the 51.75 credit left on credit note",
    ),
    "bank_transaction_unknown_bank_account": ("xero", "BankAccount", "999"),
    "bank_transfer_to_itself": ("validation", "ToBankAccount", "different account"),
    "bank_transfer_unknown_account": ("xero", None, "999"),
    "note_on_unknown_record": ("xero", None, "supplied id was not found"),
}


def test_each_operator_reports_the_xero_rule_it_hits(run_dag, xero_ops) -> None:
    ids = _demo_ids(xero_ops)
    before = {r: count(xero_ops, r) for r in ("Contacts", "Invoices", "Quotes", "PurchaseOrders")}
    run = run_dag("xero_ops_rules", ids)

    assert run.state("delete_payment") == "success"
    outcomes = {}
    for task_id, (source, field, text) in EXPECTED.items():
        rejected = run.xcom(task_id, "rejected") or []
        outcomes[task_id] = (run.state(task_id), rejected)
        assert run.state(task_id) == "failed", (task_id, rejected)
        assert rejected, task_id
        entry = rejected[0]
        index = 1 if task_id == "upsert_same_contact_twice" else 0  # the second one
        assert entry["index"] == index and entry["source"] == source, (task_id, entry)
        assert text.lower() in entry["message"].lower(), (task_id, entry)
        if field is not None:
            assert entry["field"] == field, (task_id, entry)
    # nothing was half-written by the refused tasks
    after = {r: count(xero_ops, r) for r in before}
    assert after == before
