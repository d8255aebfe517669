"""The decisions inside the automation DAGs, kept free of I/O so they can be tested alone:
which sales invoices Xero will email, and how credit is allocated to open documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from xero_examples.warehouse import parse_xero_date

# Xero emails only ACCREC invoices in these statuses, to a contact with an email address
# (POST /Invoices/{id}/Email; ../shared/xero/API_NOTES.md "Invoice email": spec and
# developer.xero.com/documentation/api/accounting/invoices).
EMAILABLE_STATUSES = ("SUBMITTED", "AUTHORISED", "PAID")
CENT = Decimal("0.01")
# Credit of one type settles documents of the matching type (Xero refuses other pairs).
SETTLES = {"ACCPAYCREDIT": "ACCPAY", "ACCRECCREDIT": "ACCREC"}


def contact_has_email(contact: Mapping[str, Any] | None) -> bool:
    """The contact's own address, or a contact person included in emails."""
    if not contact:
        return False
    if str(contact.get("EmailAddress") or "").strip():
        return True
    return any(
        p.get("IncludeInEmails") and str(p.get("EmailAddress") or "").strip()
        for p in contact.get("ContactPersons") or []
    )


def email_decision(
    invoice: Mapping[str, Any], contacts: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """None when Xero will email the invoice, else the reason it will not."""
    if invoice.get("Type") != "ACCREC":
        return f"type {invoice.get('Type')} (only sales invoices, ACCREC, are emailed)"
    if invoice.get("SentToContact") is True:
        # Xero marks an emailed invoice SentToContact (and moves UpdatedDateUTC, so an
        # always-on automation sees it change again): once is enough
        return "already sent to the contact (SentToContact)"
    status = invoice.get("Status")
    if status not in EMAILABLE_STATUSES:
        return f"status {status} (Xero emails {', '.join(EMAILABLE_STATUSES)} only)"
    contact_id = (invoice.get("Contact") or {}).get("ContactID")
    if not contact_has_email(contacts.get(contact_id)):
        name = (invoice.get("Contact") or {}).get("Name") or contact_id
        return f"contact {name} has no email address"
    return None


def split_emailable(
    invoices: Iterable[Mapping[str, Any]], contacts: Mapping[str, Mapping[str, Any]]
) -> tuple[list[str], list[dict[str, str]]]:
    """(InvoiceIDs to send, skipped invoices with the reason), in input order."""
    send, skipped = [], []
    for invoice in invoices:
        reason = email_decision(invoice, contacts)
        if reason is None:
            send.append(invoice["InvoiceID"])
        else:
            skipped.append(
                {
                    "InvoiceID": invoice.get("InvoiceID"),
                    "InvoiceNumber": invoice.get("InvoiceNumber"),
                    "reason": reason,
                }
            )
    return send, skipped


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def _oldest_first(document: Mapping[str, Any]) -> tuple:
    day = parse_xero_date(document.get("Date"))
    due = parse_xero_date(document.get("DueDate"))
    return (
        day.isoformat() if day else "9999",
        due.isoformat() if due else "9999",
        str(document.get("InvoiceNumber") or ""),
        str(document.get("InvoiceID")),
    )


def plan_allocations(
    credit_notes: Iterable[Mapping[str, Any]],
    open_documents: Iterable[Mapping[str, Any]],
    on: date,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Allocate each credit note's remaining credit to its contact's open documents.

    Rules: only AUTHORISED credit notes with remaining credit; a supplier credit
    (ACCPAYCREDIT) settles the contact's AUTHORISED bills (ACCPAY), a customer credit
    (ACCRECCREDIT) its AUTHORISED sales invoices (ACCREC); same currency only; oldest
    first (Date, then DueDate, then number); each allocation is the smaller of the credit
    left and the amount due, so neither goes below zero, across several credit notes of
    one contact too. Credit notes are taken oldest first as well.

    :returns: (allocation records for ``XeroUpdateCreditNoteAllocationOperator``, notes on
        credit notes left with credit and why).
    """
    due: dict[str, Decimal] = {}
    by_contact: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for document in sorted(open_documents, key=_oldest_first):
        if document.get("Status") != "AUTHORISED" or _money(document.get("AmountDue")) <= 0:
            continue
        key = (
            (document.get("Contact") or {}).get("ContactID"),
            document.get("Type"),
            document.get("CurrencyCode"),
        )
        by_contact.setdefault(key, []).append(document)
        due[document["InvoiceID"]] = _money(document.get("AmountDue"))
    allocations, leftovers = [], []
    for note in sorted(credit_notes, key=_oldest_first):
        remaining = _money(note.get("RemainingCredit"))
        if note.get("Status") != "AUTHORISED" or remaining <= 0:
            continue
        settles = SETTLES.get(note.get("Type"))
        contact = (note.get("Contact") or {}).get("ContactID")
        for document in by_contact.get((contact, settles, note.get("CurrencyCode")), []):
            amount = min(remaining, due[document["InvoiceID"]])
            if amount <= 0:
                continue
            allocations.append(
                {
                    "CreditNoteID": note["CreditNoteID"],
                    "Invoice": {"InvoiceID": document["InvoiceID"]},
                    "Amount": str(amount),
                    "Date": on.isoformat(),
                }
            )
            remaining -= amount
            due[document["InvoiceID"]] -= amount
            if remaining <= 0:
                break
        if remaining > 0:
            leftovers.append(
                {
                    "CreditNoteID": note["CreditNoteID"],
                    "CreditNoteNumber": note.get("CreditNoteNumber"),
                    "reason": f"{remaining} left: no more open {settles} for this contact",
                }
            )
    return allocations, leftovers
