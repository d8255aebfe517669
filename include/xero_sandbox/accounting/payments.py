"""Payments: money received against sales invoices, paid against bills, or refunded
against credit notes.

Xero never edits a payment: ``PUT /Payments`` creates many, ``POST /Payments`` creates
(it is not an upsert), and ``POST /Payments/{id}`` with ``{"Status": "DELETED"}`` deletes
one, which puts the money back on its document. Anything else is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from xero_sandbox.accounting import credit_notes, invoices
from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    add_date_strings,
    clone,
    date_field,
    get_field,
    money,
    normalise_keys,
    round_money,
    to_wire,
)
from xero_sandbox.accounting.contacts import summary
from xero_sandbox.accounting.documents import find_account
from xero_sandbox.dates import to_iso_z
from xero_sandbox.errors import ValidationException
from xero_sandbox.organisation import Organisation, new_id

ZERO = Decimal("0")
PAYMENT_TYPES = {
    "ACCREC": "ACCRECPAYMENT",
    "ACCPAY": "ACCPAYPAYMENT",
    "ACCRECCREDIT": "ARCREDITPAYMENT",
    "ACCPAYCREDIT": "APCREDITPAYMENT",
}
_FIELDS = [
    "PaymentID",
    "Invoice",
    "CreditNote",
    "Prepayment",
    "Overpayment",
    "InvoiceNumber",
    "CreditNoteNumber",
    "Account",
    "Code",
    "Date",
    "Amount",
    "CurrencyRate",
    "Reference",
    "IsReconciled",
    "Status",
    "BankAccountNumber",
    "Particulars",
    "Details",
]
# The document a payment is for, by the key the payment names it under.
_RULES = {"Invoice": invoices.RULES, "CreditNote": credit_notes.RULES}
# What a rendered payment shows of its document.
_SHARED_SUMMARY = (
    "Type",
    "Reference",
    "Status",
    "LineAmountTypes",
    "SubTotal",
    "TotalTax",
    "Total",
)
_SUMMARY = {
    "Invoice": (
        "InvoiceID",
        "InvoiceNumber",
        *_SHARED_SUMMARY,
        "AmountDue",
        "AmountPaid",
        "AmountCredited",
        "CurrencyCode",
        "CurrencyRate",
        "Date",
        "DueDate",
        "IsDiscounted",
        "HasErrors",
    ),
    "CreditNote": (
        "CreditNoteID",
        "CreditNoteNumber",
        *_SHARED_SUMMARY,
        "RemainingCredit",
        "CurrencyCode",
        "CurrencyRate",
        "Date",
    ),
}


class PaymentRules(ResourceRules):
    error_flag = "HasErrors"
    name = "Payments"
    id_field = "PaymentID"
    scope = "transactions"
    granular_scope = "accounting.payments"

    def generate(self, ctx: WriteContext, n: int) -> dict[str, Any]:
        return generate_payment(ctx, n)

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        org = ctx.org
        raw = data
        data = normalise_keys(data, _FIELDS)
        errors: list[str] = []
        kind, document = self._document(org, data, errors)
        account = self._account(org, data, errors)
        when = date_field(data.get("Date"), "Date", errors)
        if data.get("Date") in (None, ""):
            errors.append("The payment Date must be specified.")
        amount = money(data.get("Amount"), "Amount", errors)
        if data.get("Amount") in (None, ""):
            errors.append("The payment Amount must be specified.")
        elif amount is not None and amount <= ZERO:
            errors.append("The payment Amount must be greater than zero.")
        rate = money(data.get("CurrencyRate"), "CurrencyRate", errors)
        if rate is not None and rate <= ZERO:
            errors.append("CurrencyRate must be greater than zero.")
        status = data.get("Status")
        if status not in (None, "") and str(status).upper() != "AUTHORISED":
            errors.append("A new payment's Status must be AUTHORISED.")
        reference = data.get("Reference")
        if reference is not None and len(str(reference)) > 255:
            errors.append("Reference must be 255 characters or less.")
        reconciled = data.get("IsReconciled", False)
        if not isinstance(reconciled, bool):
            errors.append("IsReconciled must be true or false.")
        if document is not None and amount is not None and amount > ZERO:
            amount = round_money(amount)
            errors.extend(_RULES[kind].payment_errors(document, amount))
        if errors:
            raise ValidationException(errors, raw)

        record: dict[str, Any] = {
            "Date": when,
            "Amount": amount,
            "BankAmount": amount,
            "CurrencyRate": rate
            if rate is not None
            else document.get("CurrencyRate", Decimal("1")),
            "Reference": str(reference) if reference is not None else "",
            "IsReconciled": reconciled,
            "Status": "AUTHORISED",
            "PaymentType": PAYMENT_TYPES[document["Type"]],
            "HasAccount": True,
            "HasValidationErrors": False,
            "Account": {k: account[k] for k in ("AccountID", "Code", "Name") if account.get(k)},
        }
        for field in ("BankAccountNumber", "Particulars", "Details"):
            if data.get(field):
                record[field] = str(data[field])
        id_field = _RULES[kind].id_field
        record[kind] = {id_field: document[id_field]}
        return record

    @staticmethod
    def _document(
        org: Organisation, data: dict[str, Any], errors: list[str]
    ) -> tuple[str, dict[str, Any] | None]:
        """The invoice or credit note the payment is for."""
        invoice_ref = data.get("Invoice")
        note_ref = data.get("CreditNote")
        if not invoice_ref and data.get("InvoiceNumber"):
            invoice_ref = {"InvoiceNumber": data["InvoiceNumber"]}
        if not note_ref and data.get("CreditNoteNumber"):
            note_ref = {"CreditNoteNumber": data["CreditNoteNumber"]}
        if data.get("Prepayment") or data.get("Overpayment"):
            errors.append(
                "Payments on prepayments and overpayments are not supported by the sandbox."
            )
            return "Invoice", None
        if invoice_ref and note_ref:
            errors.append(
                "A payment can be applied to one document only: an Invoice or a CreditNote."
            )
            return "Invoice", None
        if invoice_ref:
            found = invoices.RULES.find_reference(org, invoice_ref)
            if found is None:
                errors.append(f"Invoice could not be found: {_named(invoice_ref)}.")
            return "Invoice", found
        if note_ref:
            found = credit_notes.RULES.find_reference(org, note_ref)
            if found is None:
                errors.append(f"Credit note could not be found: {_named(note_ref)}.")
            return "CreditNote", found
        errors.append(
            "A payment must name an Invoice (InvoiceID or InvoiceNumber) or a CreditNote "
            "(CreditNoteID or CreditNoteNumber)."
        )
        return "Invoice", None

    @staticmethod
    def _account(org: Organisation, data: dict[str, Any], errors: list[str]) -> dict | None:
        ref = data.get("Account")
        code = get_field(ref, "Code") if isinstance(ref, dict) else data.get("Code")
        account_id = get_field(ref, "AccountID") if isinstance(ref, dict) else None
        if not code and not account_id:
            errors.append("An Account (AccountID or Code) must be specified for the payment.")
            return None
        account = find_account(org, code, account_id)
        if account is None:
            errors.append("Account could not be found")
            return None
        payable = account.get("Type") == "BANK" or account.get("EnablePaymentsToAccount")
        if not payable or account.get("Status") != "ACTIVE":
            errors.append("Account type is invalid for making a payment to/from")
            return None
        return account

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        """Only deletion: ``{"Status": "DELETED"}``."""
        status = str(get_field(data, "Status") or "").upper()
        if status != "DELETED":
            raise ValidationException(["Payments cannot be edited, only deleted"], data)
        if record["Status"] == "DELETED":
            raise ValidationException(["This payment has already been deleted."], data)
        if record.get("IsReconciled"):
            raise ValidationException(
                ["This payment cannot be deleted as it has been reconciled."], data
            )
        updated = clone(record)
        updated["Status"] = "DELETED"
        return updated

    def after_write(self, ctx: WriteContext, record: dict[str, Any], created: bool) -> None:
        """Put the payment on its document, or take a deleted one off again."""
        invoice_id = (record.get("Invoice") or {}).get("InvoiceID")
        note_id = (record.get("CreditNote") or {}).get("CreditNoteID")
        if not created:
            if invoice_id:
                invoices.reverse_payment(ctx, invoice_id, record["PaymentID"])
            elif note_id:
                credit_notes.reverse_payment(ctx, note_id, record["PaymentID"])
            return
        entry = {
            "PaymentID": record["PaymentID"],
            "Date": record["Date"],
            "Reference": record.get("Reference") or "",
            "CurrencyRate": record["CurrencyRate"],
            "HasAccount": False,
            "HasValidationErrors": False,
        }
        if invoice_id:
            invoices.apply_payment(ctx, invoice_id, record["Amount"], entry)
        elif note_id:
            credit_notes.apply_payment(ctx, note_id, record["Amount"], entry)

    def history_label(self, record: dict[str, Any]) -> str:
        return "Payment"

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        if record.get("UpdatedDateUTC") is not None:
            out["UpdatedDateUTCString"] = to_iso_z(record["UpdatedDateUTC"])
        for kind, rules in _RULES.items():
            if record.get(kind):
                document = org.get(rules.name, record[kind][rules.id_field])
                if document is not None:
                    out[kind] = _document_summary(org, document, _SUMMARY[kind])
                    out[rules.number_field] = document.get(rules.number_field) or ""
        return out


def _document_summary(org: Organisation, record: dict[str, Any], keys: tuple) -> dict[str, Any]:
    out = to_wire({k: record[k] for k in keys if record.get(k) is not None})
    contact = org.get("Contacts", (record.get("Contact") or {}).get("ContactID") or "")
    if contact is not None:
        out["Contact"] = summary(contact)
    add_date_strings(out, record, "Date", "DueDate")
    return out


def _named(reference: Any) -> str:
    if isinstance(reference, dict):
        return ", ".join(f"{k} '{v}'" for k, v in reference.items() if v) or "nothing named"
    return repr(reference)


# --- bulk generation ---------------------------------------------------------------------


def generate_payment(ctx: WriteContext, n: int) -> dict[str, Any]:
    """A payment settling a freshly generated invoice in full; no validation.

    The invoice is stored PAID here; the caller stores the payment.
    """
    org = ctx.org
    invoice = invoices.generate_invoice(ctx, n)
    account = next(
        (a for a in org.table("Accounts").values() if a.get("Type") == "BANK"), None
    ) or {"AccountID": new_id(), "Code": "090", "Name": "Business Bank Account"}
    payment_id = new_id()
    amount = invoice["Total"]
    today = ctx.now.date()
    invoice["Payments"] = [
        {
            "PaymentID": payment_id,
            "Date": today,
            "Amount": amount,
            "Reference": "",
            "CurrencyRate": Decimal("1"),
            "HasAccount": False,
            "HasValidationErrors": False,
        }
    ]
    invoices.RULES.refresh_balances(invoice)
    invoice["Status"] = "PAID"
    invoice["FullyPaidOnDate"] = today
    org.put("Invoices", invoice["InvoiceID"], invoice)
    return {
        "PaymentID": payment_id,
        "Date": today,
        "Amount": amount,
        "BankAmount": amount,
        "CurrencyRate": Decimal("1"),
        "Reference": f"GEN-{n:06d}",
        "IsReconciled": False,
        "Status": "AUTHORISED",
        "PaymentType": "ACCRECPAYMENT",
        "HasAccount": True,
        "HasValidationErrors": False,
        "Account": {k: account[k] for k in ("AccountID", "Code", "Name") if account.get(k)},
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        "UpdatedDateUTC": ctx.now,
    }


RESOURCE_RULES = [PaymentRules]
