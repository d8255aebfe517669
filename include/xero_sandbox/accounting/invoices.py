"""Invoices: sales invoices (ACCREC) and bills (ACCPAY).

The life cycle and line rules are shared with credit notes (``ledger.py``). What is
particular to invoices lives here: ``AmountDue`` = Total - AmountPaid - AmountCredited,
the helpers payments and credit-note allocations call to move money onto an invoice,
and ``POST /Invoices/{id}/Email``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from xero_sandbox.accounting import contacts, ledger, service
from xero_sandbox.accounting.base import WriteContext, clone, round_money
from xero_sandbox.accounting.ledger import (
    ZERO,
    LedgerDocumentRules,
    amount_text,
    render_dated,
    total_of,
)
from xero_sandbox.errors import NotFound, ValidationException
from xero_sandbox.organisation import Organisation, new_id

EMAILABLE_STATUSES = ("SUBMITTED", "AUTHORISED", "PAID")


class InvoiceRules(LedgerDocumentRules):
    name = "Invoices"
    # spec searchTerm: "a case-insensitive text search across the fields e.g. InvoiceNumber,
    # Reference"
    search_fields = ("InvoiceNumber", "Reference")
    supports_created_by_my_app = True
    summary_drops = ("LineItems", "Payments", "CreditNotes", "Prepayments", "Overpayments")
    paged_lines = "LineItems"
    # Optimised for organisations over 500,000 invoices (CData's Xero docs, quoting Xero).
    optimised_where = (
        "Status",
        "Contact.ContactID",
        "Contact.Name",
        "Contact.ContactNumber",
        "Reference",
        "Date",
        "Type",
        "AmountDue",
        "AmountPaid",
        "DueDate",
    )
    optimised_order = ("InvoiceID", "UpdatedDateUTC", "Date")
    id_field = "InvoiceID"
    number_field = "InvoiceNumber"
    scope = "transactions"
    granular_scope = "accounting.invoices"
    list_filters = {
        "IDs": "InvoiceID",
        "InvoiceNumbers": "InvoiceNumber",
        "ContactIDs": "Contact.ContactID",
        "Statuses": "Status",
    }
    actions = {("POST", "email"): "send_email"}

    label = "Invoice"
    types = ("ACCREC", "ACCPAY")
    numbered_type = "ACCREC"
    supplier_types = ("ACCPAY",)
    number_prefix = "INV-"
    sequence = "INV"
    outstanding_field = "AmountDue"
    payment_noun = "Payment"

    def generate(self, ctx: WriteContext, n: int) -> dict[str, Any]:
        return generate_invoice(ctx, n)

    def new_record(self) -> dict[str, Any]:
        return {
            "Reference": "",
            "AmountPaid": ZERO,
            "AmountCredited": ZERO,
            "Payments": [],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
            "SentToContact": False,
            "HasAttachments": False,
            "IsDiscounted": False,
            "HasErrors": False,
        }

    def refresh_balances(self, record: dict[str, Any]) -> Decimal:
        paid = total_of(record.get("Payments") or [], "Amount")
        credited = total_of(record.get("CreditNotes") or [], "AppliedAmount")
        for key in ("Overpayments", "Prepayments"):  # allocated from those credits
            credited += total_of(record.get(key) or [], "AppliedAmount")
        record["AmountPaid"] = paid
        record["AmountCredited"] = credited
        record["AmountDue"] = round_money(record.get("Total", ZERO) - paid - credited)
        return record["AmountDue"]

    def has_money(self, record: dict[str, Any]) -> bool:
        return any(
            record.get(k) for k in ("Payments", "CreditNotes", "Overpayments", "Prepayments")
        )

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = super().render(org, record)
        out["CreditNotes"] = [render_dated(entry) for entry in record.get("CreditNotes") or []]
        return out

    # --- POST /Invoices/{id}/Email -----------------------------------------------------

    def send_email(
        self,
        ctx: WriteContext,
        record: dict[str, Any],
        body: Any,
        extra_segments: list[str],
        query: dict[str, str],
    ) -> service.Result:
        """Email a sales invoice to its contact: 204, or 400 saying why it can't go."""
        org = ctx.org
        if extra_segments:
            raise NotFound()
        echo = {"InvoiceID": record["InvoiceID"]}
        with org.lock:
            current = org.get(self.name, record["InvoiceID"]) or record
            errors = []
            if current["Type"] != "ACCREC":
                errors.append("Only sales invoices (Type ACCREC) can be emailed.")
            if current["Status"] not in EMAILABLE_STATUSES:
                errors.append(
                    f"An invoice with status {current['Status']} cannot be emailed. The invoice "
                    "must be SUBMITTED, AUTHORISED or PAID."
                )
            contact_id = (current.get("Contact") or {}).get("ContactID")
            contact = org.get("Contacts", contact_id) if contact_id else None
            recipients = email_recipients(contact or {})
            if not recipients:
                errors.append(
                    "The contact for this invoice has no email address. Add an EmailAddress to "
                    "the contact or a contact person with IncludeInEmails."
                )
            if errors:
                raise ValidationException(errors, echo)
            with org.transaction():
                updated = clone(current)
                updated["SentToContact"] = True
                updated["UpdatedDateUTC"] = ctx.now
                org.put(self.name, updated["InvoiceID"], updated)
                org.add_history(
                    updated["InvoiceID"],
                    {
                        "Changes": "Email sent",
                        "DateUTC": ctx.now,
                        "User": ctx.user,
                        "Details": f"This invoice has been emailed to {', '.join(recipients)}.",
                    },
                )
            org.counters["emails_sent"] = org.counters.get("emails_sent", 0) + 1
        return service.NoContent()


def email_recipients(contact: dict[str, Any]) -> list[str]:
    """Where Xero sends a document: the contact's email plus persons with IncludeInEmails."""
    found = []
    if contact.get("EmailAddress"):
        found.append(str(contact["EmailAddress"]))
    for person in contact.get("ContactPersons") or []:
        if (
            isinstance(person, dict)
            and person.get("IncludeInEmails")
            and person.get("EmailAddress")
        ):
            found.append(str(person["EmailAddress"]))
    return found


RULES = InvoiceRules()


# --- money onto invoices (called by payments and credit-note allocations) ----------------


def apply_payment(
    ctx: WriteContext, invoice_id: str, amount: Decimal, payment_summary: dict[str, Any]
) -> dict[str, Any]:
    """Record a payment on an invoice: AmountPaid/AmountDue, PAID when nothing is left.

    ``payment_summary`` is how the invoice lists the payment (PaymentID, Date, Amount,
    Reference, CurrencyRate, HasAccount, HasValidationErrors).
    """
    return RULES.add_payment(ctx, invoice_id, _require(ctx, invoice_id), amount, payment_summary)


def reverse_payment(ctx: WriteContext, invoice_id: str, payment_id: str) -> dict[str, Any]:
    """Take a deleted payment off an invoice; a PAID invoice reopens as AUTHORISED."""
    return RULES.remove_payment(ctx, invoice_id, _require(ctx, invoice_id), payment_id)


def apply_credit(
    ctx: WriteContext,
    invoice_id: str,
    amount: Decimal,
    allocation_summary: dict[str, Any],
    *,
    key: str = "CreditNotes",
    history: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Record credit allocated to an invoice (AmountCredited): the one way credit notes,
    overpayments and prepayments put their allocations on an invoice.

    ``allocation_summary`` is how the invoice lists it under ``key`` (``CreditNotes``:
    CreditNoteID, CreditNoteNumber, ID, Date, Total and ``_allocation_id``, internal, to
    reverse it; ``Overpayments``/``Prepayments``: their ID and Date).
    """
    invoice = _require(ctx, invoice_id)
    if history is None:
        number = allocation_summary.get("CreditNoteNumber") or "a credit note"
        history = ("Credit Applied", f"Credit of {amount_text(amount)} applied from {number}.")
    return RULES.add_money(
        ctx,
        invoice_id,
        invoice,
        amount,
        key,
        {**allocation_summary, "AppliedAmount": amount},
        history,
    )


def reverse_credit(ctx: WriteContext, invoice_id: str, allocation_id: str) -> dict[str, Any]:
    """Undo an allocation made with :func:`apply_credit`."""
    invoice = _require(ctx, invoice_id)
    wanted = allocation_id.lower()
    removed = [
        c
        for c in invoice.get("CreditNotes") or []
        if str(c.get("_allocation_id")).lower() == wanted
    ]

    def drop(doc: dict[str, Any]) -> None:
        doc["CreditNotes"] = [
            c for c in doc["CreditNotes"] if str(c.get("_allocation_id")).lower() != wanted
        ]

    amount = total_of(removed, "AppliedAmount")
    return ledger.change_money(
        ctx,
        RULES,
        invoice_id,
        drop,
        when=None,
        history=("Credit Removed", f"Credit allocation of {amount_text(amount)} removed."),
    )


def _require(ctx: WriteContext, invoice_id: str) -> dict[str, Any]:
    invoice = ctx.org.get("Invoices", invoice_id)
    if invoice is None:
        raise ValidationException(
            [f"The invoice with InvoiceID '{invoice_id}' could not be found."],
            {"Invoice": {"InvoiceID": invoice_id}},
        )
    return invoice


# --- bulk generation ---------------------------------------------------------------------


def generate_invoice(ctx: WriteContext, n: int) -> dict[str, Any]:
    """An AUTHORISED sales invoice for bulk generation (benchmarks); no validation."""
    org = ctx.org
    contact = contacts.first_or_generated_contact(ctx, n)
    account = (
        next((a for a in org.table("Accounts").values() if a.get("Code") == "200"), None) or {}
    )
    quantity = Decimal(1 + n % 5)
    unit = Decimal("100.00")
    line_amount = round_money(quantity * unit)
    tax = round_money(line_amount * Decimal("0.15"))
    today = ctx.now.date()
    record = {
        **RULES.new_record(),
        "InvoiceID": new_id(),
        "Type": "ACCREC",
        "InvoiceNumber": org.next_number(RULES.sequence, RULES.number_prefix),
        "Contact": {"ContactID": contact["ContactID"]},
        "Date": today,
        "DueDate": today,
        "Status": "AUTHORISED",
        "LineAmountTypes": "Exclusive",
        "LineItems": [
            {
                "LineItemID": new_id(),
                "Description": f"Generated line {n}",
                "Quantity": quantity,
                "UnitAmount": unit,
                "AccountCode": "200",
                "AccountID": account.get("AccountID"),
                "TaxType": "OUTPUT2",
                "TaxAmount": tax,
                "LineAmount": line_amount,
            }
        ],
        "SubTotal": line_amount,
        "TotalTax": tax,
        "Total": line_amount + tax,
        "TotalDiscount": ZERO,
        "CurrencyCode": org.base_currency,
        "CurrencyRate": Decimal("1"),
        "Reference": f"GEN-{n:06d}",
        "UpdatedDateUTC": ctx.now,
    }
    if record["LineItems"][0]["AccountID"] is None:
        del record["LineItems"][0]["AccountID"]
    RULES.refresh_balances(record)
    if not contact.get("IsCustomer"):
        contacts.mark_role(ctx, contact, supplier=False)
    return record


RESOURCE_RULES = [InvoiceRules]
