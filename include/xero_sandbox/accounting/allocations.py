"""Allocating credit to invoices: what credit notes, overpayments and prepayments share.

``PUT /CreditNotes/{id}/Allocations``, ``PUT /Overpayments/{id}/Allocations`` and
``PUT /Prepayments/{id}/Allocations`` take the same elements and the same checks (spec
v16.1.0 schema Allocation: ``Invoice``, ``Amount`` and ``Date`` required; Xero's credit
note, overpayment and prepayment docs: the invoice must be AUTHORISED, of the matching
side and for the same contact, and the amount may exceed neither the remaining credit nor
the invoice's AmountDue). Each allocation stands alone, as in every Xero batch. The kinds
differ only in their words, in whether a PAID credit may be named, and in how they
record the allocation; those stay with each kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from xero_sandbox.accounting import invoices, service
from xero_sandbox.accounting.base import (
    WriteContext,
    date_field,
    money,
    normalise_keys,
    query_flag,
    round_money,
)
from xero_sandbox.errors import NotFound, ValidationException

ZERO = Decimal("0")
_FIELDS = ["Invoice", "Amount", "Date"]


@dataclass(frozen=True)
class CreditWording:
    """How one kind of credit words its refusals, and which of its statuses may allocate.

    ``wrong_status`` takes ``{status}``; ``wrong_type`` takes ``{type}`` and ``{wanted}``.
    """

    noun: str  # "credit note", "overpayment", "prepayment"
    allocatable: tuple[str, ...]
    invoice_not_found: str
    wrong_status: str
    wrong_type: str
    same_currency: bool  # credit notes check it; overpayments and prepayments never have


def allocation_batch(
    ctx: WriteContext,
    body: Any,
    extra_segments: list[str],
    query: dict[str, str],
    allocate_one: Callable[[dict[str, Any]], dict[str, Any]],
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> service.Listing:
    """Run ``PUT .../Allocations``: each element on its own, then the per-element answers."""
    if extra_segments:
        raise NotFound()
    # An empty object supplies no allocations (the generic writes take it as one element).
    elements = service.elements_of("Allocations", body if body != {} else [])
    summarize = query_flag(query, "summarizeErrors", True)
    with ctx.org.lock:
        results = service.run_batch(
            ctx.org, elements, allocate_one, summarize_errors=summarize, echo=dict
        )
        rendered = []
        for saved, error in results:
            if error is not None:
                item = error.render()
                item["StatusAttributeString"] = "ERROR"
            else:
                item = render(saved)
                if not summarize:
                    item["StatusAttributeString"] = "OK"
            rendered.append(item)
    return service.Listing("Allocations", rendered)


def checked_allocation(
    ctx: WriteContext,
    credit: dict[str, Any],
    invoice_type: str,
    element: dict[str, Any],
    wording: CreditWording,
) -> tuple[dict[str, Any], Decimal, date]:
    """The invoice, amount and date of one allocation element, or every reason it can't be.

    ``credit`` is the credit as it stands (Type, Status, Contact, CurrencyCode,
    RemainingCredit); ``invoice_type`` is the invoice side it may go to.
    """
    noun = wording.noun
    data = normalise_keys(element, _FIELDS)
    errors: list[str] = []
    invoice = None
    if not isinstance(data.get("Invoice"), dict):
        errors.append("An Invoice (InvoiceID or InvoiceNumber) must be specified.")
    else:
        invoice = invoices.RULES.find_reference(ctx.org, data["Invoice"])
        if invoice is None:
            errors.append(wording.invoice_not_found)
    amount = money(data.get("Amount"), "Amount", errors)
    if data.get("Amount") in (None, ""):
        errors.append("Amount must be specified.")
    elif amount is not None and amount <= ZERO:
        errors.append("Amount must be greater than zero.")
    when = date_field(data.get("Date"), "Date", errors)
    if data.get("Date") in (None, ""):
        errors.append("Date must be specified.")
    if credit["Status"] not in wording.allocatable:
        errors.append(wording.wrong_status.format(status=credit["Status"]))
    if invoice is not None:
        if invoice["Type"] != invoice_type:
            errors.append(wording.wrong_type.format(type=credit["Type"], wanted=invoice_type))
        contact = str((credit.get("Contact") or {}).get("ContactID", ""))
        if invoice["Contact"]["ContactID"].lower() != contact.lower():
            errors.append(f"The {noun} and the invoice must be for the same contact.")
        if wording.same_currency and invoice.get("CurrencyCode") != credit.get("CurrencyCode"):
            errors.append(f"The {noun} and the invoice must be in the same currency.")
        if invoice["Status"] != "AUTHORISED":
            errors.append(
                f"{noun.capitalize()}s can only be allocated to AUTHORISED invoices; this "
                f"invoice is {invoice['Status']}."
            )
    if amount is not None and amount > ZERO and not errors:
        amount = round_money(amount)
        if amount > credit.get("RemainingCredit", ZERO):
            errors.append(
                f"The amount being allocated exceeds the remaining credit on this {noun}."
            )
        if amount > invoice.get("AmountDue", ZERO):
            errors.append(
                "The amount being allocated exceeds the amount outstanding on the invoice."
            )
    if errors:
        raise ValidationException(errors, element)
    return invoice, amount, when
