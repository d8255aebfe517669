"""The automation DAGs' decisions: which invoices Xero will email, how credit is allocated."""

from __future__ import annotations

from datetime import date

import pytest

from xero_examples.automations import email_decision, plan_allocations, split_emailable

WITH_EMAIL = {"ContactID": "c1", "EmailAddress": "a@example.com"}
PERSON_ONLY = {
    "ContactID": "c2",
    "ContactPersons": [{"EmailAddress": "p@example.com", "IncludeInEmails": True}],
}
NO_EMAIL = {"ContactID": "c3", "EmailAddress": "  ", "ContactPersons": [{"EmailAddress": "x"}]}
CONTACTS = {c["ContactID"]: c for c in (WITH_EMAIL, PERSON_ONLY, NO_EMAIL)}


def invoice(number: int, status: str, contact: str = "c1", kind: str = "ACCREC") -> dict:
    return {
        "InvoiceID": f"i{number}",
        "InvoiceNumber": f"INV-{number}",
        "Type": kind,
        "Status": status,
        "Contact": {"ContactID": contact, "Name": contact},
    }


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (invoice(1, "AUTHORISED"), None),
        (invoice(2, "SUBMITTED", "c2"), None),
        (invoice(3, "PAID"), None),
        (invoice(4, "DRAFT"), "status DRAFT"),
        (invoice(5, "VOIDED"), "status VOIDED"),
        (invoice(6, "DELETED"), "status DELETED"),
        (invoice(7, "AUTHORISED", kind="ACCPAY"), "type ACCPAY"),
        (invoice(8, "AUTHORISED", "c3"), "has no email address"),
        (invoice(9, "AUTHORISED", "unknown"), "has no email address"),
        ({**invoice(10, "AUTHORISED"), "SentToContact": True}, "already sent"),
    ],
    ids=[
        "authorised",
        "person",
        "paid",
        "draft",
        "voided",
        "deleted",
        "bill",
        "no-email",
        "gone",
        "sent",
    ],
)
def test_email_decision_follows_xeros_rule(document: dict, reason: str | None) -> None:
    decided = email_decision(document, CONTACTS)
    assert decided is None if reason is None else reason in decided


def test_split_keeps_input_order_and_reports_each_skip() -> None:
    send, skipped = split_emailable(
        [invoice(1, "AUTHORISED"), invoice(2, "DRAFT"), invoice(3, "PAID")], CONTACTS
    )
    assert send == ["i1", "i3"]
    assert skipped == [
        {"InvoiceID": "i2", "InvoiceNumber": "INV-2", "reason": skipped[0]["reason"]}
    ]


def doc(number: int, due: str, day: str, kind: str = "ACCPAY", contact: str = "s1", **more):
    return {
        "InvoiceID": f"b{number}",
        "InvoiceNumber": f"BILL-{number}",
        "Type": kind,
        "Status": "AUTHORISED",
        "AmountDue": due,
        "Date": f"{day}T00:00:00",
        "CurrencyCode": "NZD",
        "Contact": {"ContactID": contact},
        **more,
    }


def credit(number: int, remaining: str, kind: str = "ACCPAYCREDIT", day: str = "2026-01-01"):
    return {
        "CreditNoteID": f"cn{number}",
        "CreditNoteNumber": f"CN-{number}",
        "Type": kind,
        "Status": "AUTHORISED",
        "RemainingCredit": remaining,
        "Date": f"{day}T00:00:00",
        "CurrencyCode": "NZD",
        "Contact": {"ContactID": "s1"},
    }


def test_credit_goes_to_the_oldest_documents_first_without_overdrawing() -> None:
    documents = [
        doc(3, "50.00", "2026-03-01"),
        doc(1, "30.00", "2026-01-01"),
        doc(2, "40.00", "2026-02-01"),
    ]
    allocations, leftovers = plan_allocations([credit(1, "60.00")], documents, date(2026, 4, 1))
    assert [(a["Invoice"]["InvoiceID"], a["Amount"]) for a in allocations] == [
        ("b1", "30.00"),
        ("b2", "30.00"),
    ]
    assert all(a["Date"] == "2026-04-01" for a in allocations)
    assert leftovers == []


def test_two_credit_notes_share_documents_and_leftover_credit_is_reported() -> None:
    documents = [doc(1, "30.00", "2026-01-01")]
    notes = [credit(2, "25.00", day="2026-02-01"), credit(1, "20.00", day="2026-01-15")]
    allocations, leftovers = plan_allocations(notes, documents, date(2026, 4, 1))
    assert [(a["CreditNoteID"], a["Amount"]) for a in allocations] == [
        ("cn1", "20.00"),
        ("cn2", "10.00"),
    ]
    assert [(item["CreditNoteID"], item["reason"][:5]) for item in leftovers] == [("cn2", "15.00")]


@pytest.mark.parametrize(
    "document",
    [
        doc(1, "10.00", "2026-01-01", kind="ACCREC"),  # a customer invoice for supplier credit
        doc(1, "10.00", "2026-01-01", contact="other"),
        doc(1, "10.00", "2026-01-01", CurrencyCode="AUD"),
        doc(1, "0.00", "2026-01-01"),
        {**doc(1, "10.00", "2026-01-01"), "Status": "DRAFT"},
    ],
    ids=["wrong-type", "other-contact", "other-currency", "nothing-due", "draft"],
)
def test_credit_is_never_put_on_a_document_it_cannot_settle(document: dict) -> None:
    allocations, leftovers = plan_allocations([credit(1, "5.00")], [document], date(2026, 4, 1))
    assert allocations == [] and len(leftovers) == 1


def test_credit_notes_without_credit_or_not_authorised_are_left_alone() -> None:
    documents = [doc(1, "10.00", "2026-01-01")]
    spent = credit(1, "0")
    draft = {**credit(2, "5.00"), "Status": "DRAFT"}
    assert plan_allocations([spent, draft], documents, date(2026, 4, 1)) == ([], [])
