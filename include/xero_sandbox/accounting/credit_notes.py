"""Credit notes (ACCRECCREDIT for customers, ACCPAYCREDIT from suppliers) and allocations.

A credit note follows an invoice's life cycle (``ledger.py``). Its credit is used up by
allocations to invoices of the same side and contact (``PUT /CreditNotes/{id}/Allocations``)
or by refunds (payments against the credit note); ``RemainingCredit`` is what is left,
and a fully used credit note is PAID.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from xero_sandbox.accounting import allocations, invoices, ledger, service
from xero_sandbox.accounting.base import (
    WriteContext,
    round_money,
)
from xero_sandbox.accounting.contacts import first_or_generated_contact, mark_role
from xero_sandbox.accounting.documents import generated_lines
from xero_sandbox.accounting.ledger import (
    ZERO,
    LedgerDocumentRules,
    amount_text,
    render_dated,
    total_of,
)
from xero_sandbox.errors import NotFound, ValidationException
from xero_sandbox.organisation import Organisation, new_id

# The invoice side each credit note type may be allocated to.
MATCHING_INVOICE_TYPE = {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}
_WORDING = allocations.CreditWording(
    noun="credit note",
    allocatable=("AUTHORISED", "PAID"),
    invoice_not_found="The invoice to allocate the credit note to could not be found.",
    wrong_status="Credit notes can only be allocated when AUTHORISED; this one is {status}.",
    wrong_type=("A credit note of Type {type} can only be allocated to invoices of Type {wanted}."),
    same_currency=True,
)


class CreditNoteRules(LedgerDocumentRules):
    name = "CreditNotes"
    paged_lines = "LineItems"
    id_field = "CreditNoteID"
    number_field = "CreditNoteNumber"
    scope = "transactions"
    granular_scope = "accounting.invoices"
    actions = {
        ("PUT", "allocations"): "allocate",
        ("DELETE", "allocations"): "delete_allocation",
    }

    label = "Credit Note"
    types = ("ACCPAYCREDIT", "ACCRECCREDIT")
    numbered_type = "ACCRECCREDIT"
    supplier_types = ("ACCPAYCREDIT",)
    number_prefix = "CN-"
    sequence = "CN"
    outstanding_field = "RemainingCredit"
    payment_noun = "Refund"

    def generate(self, ctx: WriteContext, n: int) -> dict[str, Any]:
        return generate_credit_note(ctx, n)

    def new_record(self) -> dict[str, Any]:
        return {
            "Reference": "",
            "Allocations": [],
            "Payments": [],
            "SentToContact": False,
            "HasAttachments": False,
            "HasErrors": False,
        }

    def refresh_balances(self, record: dict[str, Any]) -> Decimal:
        used = total_of(record.get("Allocations") or [], "Amount")
        refunded = total_of(record.get("Payments") or [], "Amount")
        record["RemainingCredit"] = round_money(record.get("Total", ZERO) - used - refunded)
        return record["RemainingCredit"]

    def has_money(self, record: dict[str, Any]) -> bool:
        return bool(record.get("Allocations") or record.get("Payments"))

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = super().render(org, record)
        out["ID"] = record["CreditNoteID"]
        out["Allocations"] = [
            self._render_allocation(org, record, a) for a in record.get("Allocations") or []
        ]
        return out

    def _render_allocation(
        self, org: Organisation, note: dict[str, Any], allocation: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        out = render_dated(allocation)
        invoice_id = allocation["Invoice"]["InvoiceID"]
        invoice = org.get("Invoices", invoice_id) or {}
        out["Invoice"] = {
            k: invoice[k] for k in ("InvoiceID", "InvoiceNumber", "Type") if invoice.get(k)
        } or {"InvoiceID": invoice_id}
        out["CreditNote"] = {
            "CreditNoteID": note["CreditNoteID"],
            "CreditNoteNumber": note.get("CreditNoteNumber") or "",
            "ID": note["CreditNoteID"],
        }
        out.update(extra)
        return out

    # --- PUT /CreditNotes/{id}/Allocations ---------------------------------------------

    def allocate(
        self,
        ctx: WriteContext,
        record: dict[str, Any],
        body: Any,
        extra_segments: list[str],
        query: dict[str, str],
    ) -> service.Result:
        """Apply credit to invoices, each allocation on its own as in every Xero batch."""
        org = ctx.org
        note_id = record["CreditNoteID"]
        return allocations.allocation_batch(
            ctx,
            body,
            extra_segments,
            query,
            lambda element: self._allocate_one(ctx, note_id, element),
            lambda saved: self._render_allocation(
                org, org.get(self.name, note_id) or record, saved
            ),
        )

    def _allocate_one(
        self, ctx: WriteContext, note_id: str, element: dict[str, Any]
    ) -> dict[str, Any]:
        org = ctx.org
        note = org.get(self.name, note_id)
        if note is None:
            raise NotFound()
        invoice, amount, when = allocations.checked_allocation(
            ctx, note, MATCHING_INVOICE_TYPE[note["Type"]], element, _WORDING
        )
        allocation_id = new_id()
        invoices.apply_credit(
            ctx,
            invoice["InvoiceID"],
            amount,
            {
                "CreditNoteID": note["CreditNoteID"],
                "CreditNoteNumber": note.get("CreditNoteNumber") or "",
                "ID": note["CreditNoteID"],
                "Date": when,
                "Total": note["Total"],
                "_allocation_id": allocation_id,
            },
        )
        allocation = {
            "AllocationID": allocation_id,
            "Amount": amount,
            "Date": when,
            "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        }
        shown = invoice.get("InvoiceNumber") or "an invoice"
        ledger.change_money(
            ctx,
            self,
            note_id,
            lambda doc: doc["Allocations"].append(allocation),
            when=when,
            history=("Credit Applied", f"{amount_text(amount)} allocated to {shown}."),
        )
        return allocation

    # --- DELETE /CreditNotes/{id}/Allocations/{AllocationID} ---------------------------

    def delete_allocation(
        self,
        ctx: WriteContext,
        record: dict[str, Any],
        body: Any,
        extra_segments: list[str],
        query: dict[str, str],
    ) -> service.Result:
        """Undo an allocation: the credit comes back, the invoice owes again."""
        if len(extra_segments) != 1:
            raise NotFound()
        wanted = extra_segments[0].lower()
        org = ctx.org
        note_id = record["CreditNoteID"]
        with org.lock:
            note = org.get(self.name, note_id) or record
            found = next(
                (a for a in note.get("Allocations") or [] if a["AllocationID"].lower() == wanted),
                None,
            )
            if found is None:
                raise NotFound()
            with org.transaction():
                invoices.reverse_credit(ctx, found["Invoice"]["InvoiceID"], found["AllocationID"])
                note = ledger.change_money(
                    ctx,
                    self,
                    note_id,
                    lambda doc: doc.update(
                        Allocations=[
                            a for a in doc["Allocations"] if a["AllocationID"].lower() != wanted
                        ]
                    ),
                    when=None,
                    history=(
                        "Credit Removed",
                        f"Allocation of {amount_text(found['Amount'])} deleted.",
                    ),
                )
            rendered = self._render_allocation(org, note, found, IsDeleted=True)
        return service.Single(rendered)


RULES = CreditNoteRules()


# --- refunds (payments against a credit note), called by payments ----------------------


def apply_payment(
    ctx: WriteContext, credit_note_id: str, amount: Decimal, payment_summary: dict[str, Any]
) -> dict[str, Any]:
    """Record a refund on a credit note: RemainingCredit falls, PAID when it reaches zero."""
    note = ctx.org.get("CreditNotes", credit_note_id)
    if note is None:
        raise ValidationException(
            [f"The credit note with CreditNoteID '{credit_note_id}' could not be found."], {}
        )
    return RULES.add_payment(ctx, credit_note_id, note, amount, payment_summary)


def reverse_payment(ctx: WriteContext, credit_note_id: str, payment_id: str) -> dict[str, Any]:
    """Take a deleted refund off a credit note."""
    note = ctx.org.get("CreditNotes", credit_note_id) or {}
    return RULES.remove_payment(ctx, credit_note_id, note, payment_id)


# --- bulk generation ---------------------------------------------------------------------


def generate_credit_note(ctx: WriteContext, n: int) -> dict[str, Any]:
    """An AUTHORISED customer credit note with all its credit left; no validation."""
    org = ctx.org
    contact = first_or_generated_contact(ctx, n)
    record = {
        **RULES.new_record(),
        "CreditNoteID": new_id(),
        "CreditNoteNumber": org.next_number(RULES.sequence, RULES.number_prefix),
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": contact["ContactID"]},
        "Date": ctx.now.date(),
        "Status": "AUTHORISED",
        **generated_lines(Decimal("50.00"), f"Generated credit {n}", "200", "OUTPUT2"),
        "TotalDiscount": ZERO,
        "IsDiscounted": False,
        "CurrencyCode": org.base_currency,
        "CurrencyRate": Decimal("1"),
        "UpdatedDateUTC": ctx.now,
    }
    RULES.refresh_balances(record)
    mark_role(ctx, contact, supplier=False)
    return record


RESOURCE_RULES = [CreditNoteRules]
