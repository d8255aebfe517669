"""Payments: what a payment needs, what it does to its invoice or credit note, deletion
(the only change Xero allows), and batches that roll back whole."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.in_process import messages
from tests.sandbox.test_invoices import WIRED, Books
from xero_sandbox.accounting.base import clone
from xero_sandbox.accounting.payments import PaymentRules


@pytest.fixture
def books() -> Books:
    return Books()


def _payment(books: Books, outcome) -> dict:
    assert outcome.status == 200, outcome.body
    return outcome.body["Payments"][0]


def test_part_payment_reduces_amount_due(books: Books) -> None:
    invoice = books.invoice()
    payment = _payment(books, books.pay(invoice, 40, Reference="Deposit"))
    assert payment["Status"] == "AUTHORISED"
    assert payment["PaymentType"] == "ACCRECPAYMENT"
    assert payment["Amount"] == 40.0 and payment["Reference"] == "Deposit"
    assert payment["Account"]["Code"] == "090"
    assert payment["Invoice"]["InvoiceID"] == invoice["InvoiceID"]
    assert payment["Invoice"]["AmountDue"] == 75.0  # the invoice as it is now
    stored = books.get("Invoices", invoice["InvoiceID"])
    assert stored["Status"] == "AUTHORISED"
    assert (stored["AmountPaid"], stored["AmountDue"]) == (40.0, 75.0)
    assert [p["PaymentID"] for p in stored["Payments"]] == [payment["PaymentID"]]
    assert "Payment" in books.history(invoice["InvoiceID"])


def test_full_payment_marks_the_invoice_paid_on_the_payment_date(books: Books) -> None:
    invoice = books.invoice()
    books.pay(invoice, 15, Date="2026-03-16")
    books.pay(invoice, 100, Date="2026-03-18")
    stored = books.get("Invoices", invoice["InvoiceID"])
    assert stored["Status"] == "PAID" and stored["AmountDue"] == 0.0
    assert stored["FullyPaidOnDate"] == "/Date(1773792000000+0000)/"  # 2026-03-18


@pytest.mark.parametrize(
    ("document", "expected_type"),
    [("invoice", "ACCRECPAYMENT"), ("bill", "ACCPAYPAYMENT")],
)
def test_payment_type_follows_the_document(books: Books, document: str, expected_type: str) -> None:
    target = books.invoice() if document == "invoice" else books.bill()
    assert _payment(books, books.pay(target, 5))["PaymentType"] == expected_type


def test_invoice_and_account_can_be_named_by_number_and_id(books: Books) -> None:
    invoice = books.invoice()
    savings = next(a for a in books.org.table("Accounts").values() if a["Code"] == "091")
    payment = _payment(
        books,
        books.write(
            "Payments",
            {
                "Invoice": {"InvoiceNumber": invoice["InvoiceNumber"]},
                "Account": {"AccountID": savings["AccountID"]},
                "Date": "2026-03-20",
                "Amount": "10.00",
            },
        ),
    )
    assert payment["Invoice"]["InvoiceID"] == invoice["InvoiceID"]
    assert payment["Account"]["Code"] == "091"


def test_an_account_with_payments_enabled_is_accepted(books: Books) -> None:
    payable = next(a for a in books.org.table("Accounts").values() if a["Code"] == "800")
    assert books.pay(books.invoice(), 5, Account={"Code": "800"}).status == 400
    enabled = clone(payable)
    enabled["EnablePaymentsToAccount"] = True
    books.org.put("Accounts", enabled["AccountID"], enabled)
    assert books.pay(books.invoice(), 5, Account={"Code": "800"}).status == 200


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        pytest.param({"Invoice": None}, "A payment must name an Invoice", id="no-document"),
        pytest.param(
            {"Invoice": {"InvoiceID": "00000000-0000-0000-0000-000000000009"}},
            "Invoice could not be found",
            id="unknown-invoice",
        ),
        pytest.param(
            {"Account": None}, "An Account (AccountID or Code) must be specified", id="no-account"
        ),
        pytest.param(
            {"Account": {"Code": "999"}}, "Account could not be found", id="unknown-account"
        ),
        pytest.param(
            {"Account": {"Code": "200"}},
            "Account type is invalid for making a payment to/from",
            id="revenue-account",
        ),
        pytest.param({"Date": None}, "The payment Date must be specified.", id="no-date"),
        pytest.param({"Amount": None}, "The payment Amount must be specified.", id="no-amount"),
        pytest.param({"Amount": 0}, "The payment Amount must be greater than zero.", id="zero"),
        pytest.param(
            {"Amount": -5}, "The payment Amount must be greater than zero.", id="negative"
        ),
        pytest.param({"Amount": "ten"}, "Amount must be a number.", id="not-a-number"),
        pytest.param(
            {"Amount": 115.01},
            "Payment amount exceeds the amount outstanding on this document",
            id="more-than-due",
        ),
        pytest.param(
            {"Status": "DELETED"}, "A new payment's Status must be AUTHORISED.", id="status"
        ),
    ],
)
def test_invalid_payments_are_refused(books: Books, over: dict, expected: str) -> None:
    invoice = books.invoice()
    body = {
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        "Account": {"Code": "090"},
        "Date": "2026-03-20",
        "Amount": 10,
    }
    body.update(over)
    outcome = books.write("Payments", {k: v for k, v in body.items() if v is not None})
    assert any(m.startswith(expected) for m in messages(outcome)), messages(outcome)
    assert books.org.table("Payments") == {}
    assert books.get("Invoices", invoice["InvoiceID"])["AmountDue"] == 115.0


@pytest.mark.parametrize("status", ["DRAFT", "SUBMITTED"])
def test_only_authorised_documents_take_payments(books: Books, status: str) -> None:
    invoice = books.invoice(Status=status)
    assert messages(books.pay(invoice, 1)) == [
        "Payments can only be made against Authorised documents"
    ]


@pytest.mark.parametrize("closing", ["VOIDED", "PAID"])
def test_closed_invoices_take_no_payments(books: Books, closing: str) -> None:
    invoice = books.invoice()
    if closing == "VOIDED":
        books.update("Invoices", invoice["InvoiceID"], Status="VOIDED")
    else:
        books.pay(invoice, 115)
    assert books.pay(invoice, 1).status == 400


# --- deleting ------------------------------------------------------------------------------


def test_deleting_a_payment_reopens_the_paid_invoice(books: Books) -> None:
    invoice = books.invoice()
    payment = _payment(books, books.pay(invoice, 115))
    assert books.get("Invoices", invoice["InvoiceID"])["Status"] == "PAID"
    outcome = books.update("Payments", payment["PaymentID"], Status="DELETED")
    assert _payment(books, outcome)["Status"] == "DELETED"
    reopened = books.get("Invoices", invoice["InvoiceID"])
    assert reopened["Status"] == "AUTHORISED"
    assert (reopened["AmountPaid"], reopened["AmountDue"]) == (0.0, 115.0)
    assert reopened["Payments"] == [] and "FullyPaidOnDate" not in reopened
    # with no payment left the invoice may be voided again
    assert books.update("Invoices", invoice["InvoiceID"], Status="VOIDED").status == 200


def test_a_deleted_payment_cannot_be_deleted_again(books: Books) -> None:
    payment = _payment(books, books.pay(books.invoice(), 50))
    books.update("Payments", payment["PaymentID"], Status="DELETED")
    outcome = books.update("Payments", payment["PaymentID"], Status="DELETED")
    assert messages(outcome) == ["This payment has already been deleted."]


@pytest.mark.parametrize(
    "change",
    [{"Amount": 20}, {"Reference": "new"}, {"Status": "AUTHORISED"}, {}],
    ids=["amount", "reference", "status-authorised", "empty"],
)
def test_payments_cannot_be_edited(books: Books, change: dict) -> None:
    payment = _payment(books, books.pay(books.invoice(), 50))
    outcome = books.update("Payments", payment["PaymentID"], **change)
    assert messages(outcome) == ["Payments cannot be edited, only deleted"]
    assert books.get("Payments", payment["PaymentID"])["Amount"] == 50.0


def test_a_reconciled_payment_cannot_be_deleted(books: Books) -> None:
    payment = _payment(books, books.pay(books.invoice(), 50, IsReconciled=True))
    outcome = books.update("Payments", payment["PaymentID"], Status="DELETED")
    assert messages(outcome) == ["This payment cannot be deleted as it has been reconciled."]


def test_post_batch_with_payment_ids_deletes(books: Books) -> None:
    invoice = books.invoice()
    first = _payment(books, books.pay(invoice, 10))
    second = _payment(books, books.pay(invoice, 20))
    outcome = books.write(
        "Payments",
        {"PaymentID": first["PaymentID"], "Status": "DELETED"},
        {"PaymentID": second["PaymentID"], "Status": "DELETED"},
        mode="post",
    )
    assert [p["Status"] for p in outcome.body["Payments"]] == ["DELETED", "DELETED"]
    assert books.get("Invoices", invoice["InvoiceID"])["AmountDue"] == 115.0


def test_post_without_an_id_creates(books: Books) -> None:
    invoice = books.invoice()
    outcome = books.write(
        "Payments",
        {
            "Invoice": {"InvoiceID": invoice["InvoiceID"]},
            "Account": {"Code": "090"},
            "Date": "2026-03-20",
            "Amount": 5,
        },
        mode="post",
    )
    assert _payment(books, outcome)["Status"] == "AUTHORISED"


# --- batches -------------------------------------------------------------------------------


def test_failing_second_element_keeps_the_first_payment(books: Books) -> None:
    invoice = books.invoice()
    good = {
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        "Account": {"Code": "090"},
        "Date": "2026-03-20",
        "Amount": 115,
    }
    bad = {**good, "Account": {"Code": "200"}}
    outcome = books.write("Payments", good, bad)
    assert outcome.status == 400 and len(outcome.body["Elements"]) == 1
    assert outcome.body["Elements"][0]["HasErrors"] is True
    assert len(books.org.table("Payments")) == 1  # Xero keeps the good element
    stored = books.get("Invoices", invoice["InvoiceID"])
    assert stored["Status"] == "PAID" and stored["AmountDue"] == 0.0
    assert len(stored["Payments"]) == 1


def test_elements_of_one_batch_see_each_others_payments(books: Books) -> None:
    invoice = books.invoice()
    element = {
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        "Account": {"Code": "090"},
        "Date": "2026-03-20",
        "Amount": 60,
    }
    outcome = books.write("Payments", element, element, summarize=False)
    first, second = outcome.body["Payments"]
    assert first["StatusAttributeString"] == "OK"
    assert second["StatusAttributeString"] == "ERROR"
    assert second["ValidationErrors"][0]["Message"] == (
        "Payment amount exceeds the amount outstanding on this document"
    )
    assert books.get("Invoices", invoice["InvoiceID"])["AmountDue"] == 55.0


# --- refunds on credit notes ---------------------------------------------------------------


def _credit_note(books: Books, **over) -> dict:
    body = {
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": books.customer["ContactID"]},
        "Status": "AUTHORISED",
        "LineItems": [{"Description": "Refund", "UnitAmount": 40, "AccountCode": "200"}],
    }
    body.update(over)
    return books.create("CreditNotes", **body)


def test_refund_against_a_credit_note(books: Books) -> None:
    note = _credit_note(books)  # 46.00 with GST
    payment = _payment(books, books.pay(note, 6))
    assert payment["PaymentType"] == "ARCREDITPAYMENT"
    assert payment["CreditNote"]["CreditNoteID"] == note["CreditNoteID"]
    assert books.get("CreditNotes", note["CreditNoteID"])["RemainingCredit"] == 40.0
    _payment(books, books.pay(note, 40))
    assert books.get("CreditNotes", note["CreditNoteID"])["Status"] == "PAID"
    books.update("Payments", payment["PaymentID"], Status="DELETED")
    reopened = books.get("CreditNotes", note["CreditNoteID"])
    assert reopened["Status"] == "AUTHORISED" and reopened["RemainingCredit"] == 6.0


def test_supplier_credit_refund_type_and_limits(books: Books) -> None:
    note = _credit_note(
        books,
        Type="ACCPAYCREDIT",
        Contact={"ContactID": books.supplier["ContactID"]},
        LineItems=[{"Description": "Overcharge", "UnitAmount": 10, "AccountCode": "445"}],
    )
    assert _payment(books, books.pay(note, 1))["PaymentType"] == "APCREDITPAYMENT"
    assert messages(books.pay(note, 11)) == [
        "Payment amount exceeds the amount outstanding on this document"
    ]
    draft = _credit_note(books, Status="DRAFT")
    assert messages(books.pay(draft, 1)) == [
        "Payments can only be made against Authorised documents"
    ]


def test_generate_settles_its_own_invoice(books: Books) -> None:
    ctx = books.ctx()
    record = PaymentRules().generate(ctx, 3)
    books.org.put("Payments", record["PaymentID"], record)
    payment = books.get("Payments", record["PaymentID"])
    assert payment["Invoice"]["Status"] == "PAID"
    assert payment["Amount"] == payment["Invoice"]["Total"]


# --- over HTTP -----------------------------------------------------------------------------


@pytest.mark.skipif(not WIRED, reason="PaymentRules are not in accounting/registry.py yet")
def test_http_pay_and_delete(xero_client: httpx.Client) -> None:
    contact = xero_client.get("/Contacts").json()["Contacts"][0]
    invoice = xero_client.put(
        "/Invoices",
        json={
            "Type": "ACCREC",
            "Contact": {"ContactID": contact["ContactID"]},
            "Status": "AUTHORISED",
            "LineItems": [{"Description": "HTTP", "UnitAmount": 20, "AccountCode": "200"}],
        },
    ).json()["Invoices"][0]
    paid = xero_client.put(
        "/Payments",
        json={
            "Payments": [
                {
                    "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                    "Account": {"Code": "090"},
                    "Date": "2026-03-01",
                    "Amount": 23,
                }
            ]
        },
    )
    assert paid.status_code == 200
    payment_id = paid.json()["Payments"][0]["PaymentID"]
    status = xero_client.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]["Status"]
    assert status == "PAID"
    deleted = xero_client.post(
        f"/Payments/{payment_id}", json={"Payments": [{"Status": "DELETED"}]}
    )
    assert deleted.status_code == 200 and deleted.json()["Payments"][0]["Status"] == "DELETED"
    status = xero_client.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]["Status"]
    assert status == "AUTHORISED"
