"""Overpayments and prepayments: credit created by a bank transaction, allocatable to
invoices.

Rules emulated (spec v16.1.0 and Xero's docs for Overpayments and Prepayments):

* Neither is created directly: a ``RECEIVE-OVERPAYMENT`` / ``SPEND-OVERPAYMENT`` (or
  ``-PREPAYMENT``) bank transaction creates one, with the transaction's contact, date,
  lines and totals, Status AUTHORISED, and ``RemainingCredit`` = Total.
* ``PUT /Overpayments/{id}/Allocations`` (and Prepayments) applies credit to invoices:
  ``Invoice``, ``Amount`` and ``Date`` are required (spec schema Allocation); the invoice
  must be AUTHORISED, of the matching type (RECEIVE -> ACCREC, SPEND -> ACCPAY), for the
  same contact, and the amount may exceed neither the remaining credit nor the invoice's
  AmountDue. Allocations lower the invoice's AmountDue (and pay it off) and the credit's
  RemainingCredit; at zero the credit is PAID. Each allocation stands alone (as in every
  Xero batch); ``summarizeErrors=false`` gives per-element results.
* A voided bank transaction voids its overpayment or prepayment.
* Lists page by page/pageSize, take If-Modified-Since and ``where`` (spec).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from xero_sandbox.accounting import allocations, invoices, service
from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    add_date_strings,
    round_money,
    to_wire,
)
from xero_sandbox.accounting.ledger import amount_text
from xero_sandbox.accounting.quotes import render_contact
from xero_sandbox.errors import NotFound
from xero_sandbox.organisation import Organisation, new_id

ZERO = Decimal("0")


class CreditRules(ResourceRules):
    """What overpayments and prepayments share: a view over their bank transaction."""

    kind: ClassVar[str]  # "Overpayment" / "Prepayment"
    bank_types: ClassVar[tuple[str, str]]
    scope = "transactions"
    granular_scope = "accounting.payments"
    supports_put = False
    supports_post = False
    paged_lines = "LineItems"
    actions: ClassVar[dict[tuple[str, str], str]] = {("PUT", "allocations"): "allocate"}

    # The credit's own state (allocations) lives in this table; the rest is the bank
    # transaction's, so the two can never disagree.
    @property
    def state_table(self) -> str:
        return f"{self.name}State"

    def stored(self, org: Organisation) -> Iterable[dict[str, Any]]:
        for txn in org.table("BankTransactions").values():
            if txn.get("Type") in self.bank_types and txn.get(self.id_field):
                yield self._merge(org, txn)

    def find(self, org: Organisation, key: str) -> dict[str, Any] | None:
        wanted = key.lower()
        for txn in org.table("BankTransactions").values():
            if str(txn.get(self.id_field, "")).lower() == wanted:
                return self._merge(org, txn)
        return None

    def _merge(self, org: Organisation, txn: dict[str, Any]) -> dict[str, Any]:
        credit_id = txn[self.id_field]
        state = org.get(self.state_table, credit_id) or {"Allocations": [], "_updated": None}
        allocated = sum((a["Amount"] for a in state["Allocations"]), ZERO)
        total = txn.get("Total", ZERO)
        remaining = round_money(total - allocated)
        status = txn.get("Status")
        if status == "AUTHORISED" and remaining <= ZERO:
            status = "PAID"
        updated = max(d for d in (txn.get("UpdatedDateUTC"), state.get("_updated")) if d)
        record = {
            self.id_field: credit_id,
            "Type": txn["Type"],
            "Contact": txn.get("Contact"),
            "Date": txn.get("Date"),
            "Status": status,
            "LineAmountTypes": txn.get("LineAmountTypes"),
            "LineItems": txn.get("LineItems", []),
            "SubTotal": txn.get("SubTotal", ZERO),
            "TotalTax": txn.get("TotalTax", ZERO),
            "Total": total,
            "UpdatedDateUTC": updated,
            "CurrencyCode": txn.get("CurrencyCode"),
            "CurrencyRate": txn.get("CurrencyRate", Decimal("1")),
            "RemainingCredit": remaining,
            "Allocations": state["Allocations"],
            "Payments": [],
            "HasAttachments": False,
            "_bank_transaction_id": txn["BankTransactionID"],
        }
        if txn.get("Reference"):
            record["Reference"] = txn["Reference"]
        return record

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        if record.get("Contact"):
            out["Contact"] = render_contact(org, record["Contact"])
        out["Allocations"] = [
            {
                "AllocationID": a["AllocationID"],
                "Amount": float(a["Amount"]),
                "Date": to_wire(a["Date"]),
                "Invoice": a["Invoice"],
            }
            for a in record["Allocations"]
        ]
        add_date_strings(out, record, "Date")
        if isinstance(record.get("UpdatedDateUTC"), datetime):
            out["UpdatedDateUTCString"] = record["UpdatedDateUTC"].strftime("%Y-%m-%dT%H:%M:%SZ")
        return out

    def is_archived(self, record: dict[str, Any]) -> bool:
        return False

    # --- PUT /{Credits}/{id}/Allocations -------------------------------------------------

    @property
    def wording(self) -> allocations.CreditWording:
        noun = self.kind.lower()
        return allocations.CreditWording(
            noun=noun,
            allocatable=("AUTHORISED",),
            invoice_not_found=f"The invoice to allocate the {noun} to was not found.",
            wrong_status=f"Only an AUTHORISED {noun} can be allocated; this one is {{status}}.",
            wrong_type=f"A {{type}} {noun} can only be allocated to invoices of Type {{wanted}}.",
            same_currency=False,
        )

    def allocate(
        self,
        ctx: WriteContext,
        record: dict[str, Any],
        body: Any,
        extra_segments: list[str],
        query: dict[str, str],
    ) -> service.Result:
        """Apply credit to invoices; each allocation on its own, as in every Xero batch."""
        credit_id = record[self.id_field]

        def render(saved: dict[str, Any]) -> dict[str, Any]:
            return {
                "AllocationID": saved["AllocationID"],
                "Amount": float(saved["Amount"]),
                "Date": to_wire(saved["Date"]),
                "Invoice": saved["Invoice"],
                self.kind: {self.id_field: credit_id},
            }

        return allocations.allocation_batch(
            ctx,
            body,
            extra_segments,
            query,
            lambda element: self._allocate_one(ctx, credit_id, element),
            render,
        )

    def _allocate_one(
        self, ctx: WriteContext, credit_id: str, element: dict[str, Any]
    ) -> dict[str, Any]:
        org = ctx.org
        credit = self.find(org, credit_id)
        if credit is None:
            raise NotFound()
        wanted = "ACCREC" if credit["Type"].startswith("RECEIVE") else "ACCPAY"
        invoice, amount, when = allocations.checked_allocation(
            ctx, credit, wanted, element, self.wording
        )
        allocation = {
            "AllocationID": new_id(),
            "Amount": amount,
            "Date": when,
            "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        }
        invoices.apply_credit(
            ctx,
            invoice["InvoiceID"],
            amount,
            {self.id_field: credit_id, "Date": when},
            key=self.name,
            history=(
                f"{self.kind} Applied",
                f"{amount_text(amount)} applied from a {self.kind.lower()}.",
            ),
        )
        state = org.get(self.state_table, credit_id) or {"Allocations": []}
        org.put(
            self.state_table,
            credit_id,
            {"Allocations": [*state["Allocations"], allocation], "_updated": ctx.now},
        )
        return allocation


class OverpaymentRules(CreditRules):
    name = "Overpayments"
    id_field = "OverpaymentID"
    kind = "Overpayment"
    bank_types = ("RECEIVE-OVERPAYMENT", "SPEND-OVERPAYMENT")


class PrepaymentRules(CreditRules):
    name = "Prepayments"
    id_field = "PrepaymentID"
    kind = "Prepayment"
    bank_types = ("RECEIVE-PREPAYMENT", "SPEND-PREPAYMENT")


RESOURCE_RULES = [OverpaymentRules, PrepaymentRules]
