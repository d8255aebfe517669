"""Repeating invoices, linked transactions (billable expenses), receipts and expense
claims: the remaining documents a warehouse sync extracts.

Rules emulated (spec v16.1.0 schemas and parameters; Xero's docs for each endpoint):

* RepeatingInvoices: ``Type`` (ACCREC/ACCPAY), ``Contact``, ``Schedule`` (``Period`` >= 1,
  ``Unit`` WEEKLY/MONTHLY, ``DueDate``, ``DueDateType``, ``StartDate``) and at least one
  line; Status DRAFT or AUTHORISED, DELETED to remove; ``NextScheduledDate`` starts at
  StartDate. No paging, no If-Modified-Since (the spec lists neither); ``where``, order.
* LinkedTransactions: link a line of a bill (ACCPAY) or SPEND bank transaction
  (``SourceTransactionID`` + ``SourceLineItemID``, both required) to a customer
  (``ContactID``) and optionally a sales invoice line; Type BILLABLEEXPENSE; Status
  DRAFT without a contact, APPROVED with one, ONDRAFT/BILLED once on a target invoice.
  Filters SourceTransactionID, ContactID, Status, TargetTransactionID; paged by ``page``
  only (100 a page, spec); ``DELETE /LinkedTransactions/{id}`` (204).
* Receipts (deprecated "classic expenses", still in the spec and extracted by tap-xero):
  ``Date``, ``Contact``, ``User`` (a UserID of the organisation) and lines; Status DRAFT,
  SUBMITTED, AUTHORISED, DECLINED, VOIDED; ``ReceiptNumber`` counts per organisation.
* ExpenseClaims: a ``User`` and the ``Receipts`` to claim (DRAFT receipts of that user,
  not on another claim); the claim is SUBMITTED and its receipts SUBMITTED with it;
  AUTHORISED authorises them; ``Total``/``AmountDue`` from the receipts.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from xero_sandbox.accounting import contacts, service
from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    add_date_strings,
    clone,
    date_field,
    enum_field,
    get_field,
    normalise_keys,
    to_wire,
)
from xero_sandbox.accounting.documents import apply_totals, line_amount_types, parse_line_items
from xero_sandbox.accounting.quotes import currency_code, render_contact
from xero_sandbox.errors import ValidationException
from xero_sandbox.organisation import Organisation, new_id

ZERO = Decimal("0")
_DUE_TYPES = (
    "DAYSAFTERBILLDATE",
    "DAYSAFTERBILLMONTH",
    "DAYSAFTERINVOICEDATE",
    "DAYSAFTERINVOICEMONTH",
    "OFCURRENTMONTH",
    "OFFOLLOWINGMONTH",
)


def _contact_for(ctx: WriteContext, raw: Any, errors: list[str]) -> dict[str, Any] | None:
    found = contacts.contact_reference(ctx.org, raw, errors)
    return found


# --- repeating invoices -----------------------------------------------------------------


class RepeatingInvoiceRules(ResourceRules):
    name = "RepeatingInvoices"
    id_field = "RepeatingInvoiceID"
    scope = "transactions"
    granular_scope = "accounting.invoices"
    paging = "none"
    updated_field = None
    _FIELDS: ClassVar[list[str]] = [
        "Type",
        "Contact",
        "Schedule",
        "LineItems",
        "LineAmountTypes",
        "Reference",
        "BrandingThemeID",
        "CurrencyCode",
        "Status",
        "ApprovedForSending",
        "SendCopy",
        "MarkAsSent",
        "IncludePDF",
    ]

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "Status": "DRAFT",
            "HasAttachments": False,
            "ApprovedForSending": False,
            "SendCopy": False,
            "MarkAsSent": False,
            "IncludePDF": False,
        }
        return self._apply(ctx, record, normalise_keys(data, self._FIELDS), creating=True)

    def update(self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]):
        return self._apply(ctx, clone(record), normalise_keys(data, self._FIELDS), creating=False)

    def _apply(self, ctx: WriteContext, record: dict, data: dict, *, creating: bool) -> dict:
        org = ctx.org
        errors: list[str] = []
        if record.get("Status") == "DELETED":
            raise ValidationException(["A deleted repeating invoice cannot be changed."], data)
        type_ = enum_field(data.get("Type"), "Type", ("ACCREC", "ACCPAY"), errors)
        if creating and not type_ and data.get("Type") in (None, ""):
            errors.append("Type must be specified.")
        status = enum_field(
            data.get("Status"), "Status", ("DRAFT", "AUTHORISED", "DELETED"), errors
        )
        contact = None
        if creating or "Contact" in data:
            contact = _contact_for(ctx, data.get("Contact"), errors)
        schedule = record.get("Schedule")
        if creating or "Schedule" in data:
            schedule = self._schedule(data.get("Schedule"), errors)
        lines = None
        if creating or "LineItems" in data:
            lines = parse_line_items(
                org,
                data.get("LineItems"),
                errors,
                require_account=False,
                require_description=True,
                sales=(type_ or record.get("Type")) == "ACCREC",
            )
            if not lines and not errors:
                errors.append("One or more line items must be specified")
        amount_types = line_amount_types(
            data.get("LineAmountTypes"), errors, record.get("LineAmountTypes", "Exclusive")
        )
        currency = currency_code(org, data.get("CurrencyCode"), errors, record.get("CurrencyCode"))
        if errors:
            raise ValidationException(errors, data)
        record.setdefault("RepeatingInvoiceID", new_id())
        record["ID"] = record["RepeatingInvoiceID"]
        if type_:
            record["Type"] = type_
        if status:
            record["Status"] = status
        if contact is not None:
            record["Contact"] = {
                "ContactID": contacts.materialise_contact(ctx, contact)["ContactID"]
            }
        record["Schedule"] = schedule
        record["CurrencyCode"] = currency
        for key in (
            "Reference",
            "BrandingThemeID",
            "ApprovedForSending",
            "SendCopy",
            "MarkAsSent",
            "IncludePDF",
        ):
            if key in data:
                record[key] = data[key]
        if lines is not None:
            apply_totals(record, lines, amount_types)
        return record

    @staticmethod
    def _schedule(raw: Any, errors: list[str]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            errors.append("Schedule must be specified.")
            return {}
        data = normalise_keys(
            raw, ["Period", "Unit", "DueDate", "DueDateType", "StartDate", "EndDate"]
        )
        period = data.get("Period")
        if not isinstance(period, int) or isinstance(period, bool) or period < 1:
            errors.append("Schedule Period must be a whole number of 1 or more.")
        unit = enum_field(data.get("Unit"), "Schedule Unit", ("WEEKLY", "MONTHLY"), errors)
        if data.get("Unit") in (None, ""):
            errors.append("Schedule Unit must be specified.")
        due_type = enum_field(data.get("DueDateType"), "Schedule DueDateType", _DUE_TYPES, errors)
        due = data.get("DueDate", 0)
        if not isinstance(due, int) or isinstance(due, bool) or due < 0:
            errors.append("Schedule DueDate must be a whole number of 0 or more.")
        start = date_field(data.get("StartDate"), "Schedule StartDate", errors)
        if data.get("StartDate") in (None, ""):
            errors.append("Schedule StartDate must be specified.")
        end = date_field(data.get("EndDate"), "Schedule EndDate", errors)
        if start and end and end < start:
            errors.append("Schedule EndDate must not be before StartDate.")
        schedule: dict[str, Any] = {
            "Period": period,
            "Unit": unit,
            "DueDate": due,
            "DueDateType": due_type or "DAYSAFTERBILLDATE",
            "StartDate": start,
            "NextScheduledDate": start,
        }
        if end:
            schedule["EndDate"] = end
        return schedule

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        if record.get("Contact"):
            out["Contact"] = render_contact(org, record["Contact"])
        schedule = record.get("Schedule") or {}
        out["Schedule"] = to_wire(schedule)
        for key in ("StartDate", "NextScheduledDate", "EndDate"):
            if isinstance(schedule.get(key), date):
                out["Schedule"][f"{key}String"] = schedule[key].isoformat() + "T00:00:00"
        return out

    def is_archived(self, record: dict[str, Any]) -> bool:
        return False

    def history_label(self, record: dict[str, Any]) -> str:
        return "Repeating Invoice"


# --- linked transactions ----------------------------------------------------------------


class LinkedTransactionRules(ResourceRules):
    name = "LinkedTransactions"
    id_field = "LinkedTransactionID"
    scope = "transactions"
    granular_scope = "accounting.invoices"
    paging = "page"
    supports_where = False
    supports_history = False
    list_filters: ClassVar[dict[str, str]] = {
        "SourceTransactionID": "SourceTransactionID",
        "ContactID": "ContactID",
        "Status": "Status",
        "TargetTransactionID": "TargetTransactionID",
        "LinkedTransactionID": "LinkedTransactionID",
    }
    _FIELDS: ClassVar[list[str]] = [
        "SourceTransactionID",
        "SourceLineItemID",
        "ContactID",
        "TargetTransactionID",
        "TargetLineItemID",
    ]

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, self._FIELDS)
        errors: list[str] = []
        source_type = None
        source_id = data.get("SourceTransactionID")
        if not source_id:
            errors.append("SourceTransactionID must be specified.")
        if not data.get("SourceLineItemID"):
            errors.append("SourceLineItemID must be specified.")
        if source_id:
            source_type = self._source(
                ctx.org, str(source_id), data.get("SourceLineItemID"), errors
            )
        record = {"LinkedTransactionID": new_id(), "Type": "BILLABLEEXPENSE", "Status": "DRAFT"}
        record["SourceTransactionID"] = source_id
        record["SourceLineItemID"] = data.get("SourceLineItemID")
        record["SourceTransactionTypeCode"] = source_type
        return self._link(ctx, record, data, errors)

    def update(self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]):
        data = normalise_keys(data, self._FIELDS)
        errors: list[str] = []
        if record["Status"] in ("BILLED", "VOIDED"):
            errors.append(f"A {record['Status']} linked transaction cannot be changed.")
        for key in ("SourceTransactionID", "SourceLineItemID"):
            if key in data and str(data[key]).lower() != str(record.get(key)).lower():
                errors.append(f"{key} cannot be changed.")
        return self._link(ctx, clone(record), data, errors)

    def _link(self, ctx: WriteContext, record: dict, data: dict, errors: list[str]) -> dict:
        org = ctx.org
        if data.get("ContactID"):
            contact = org.get("Contacts", str(data["ContactID"]))
            if contact is None:
                errors.append(
                    f"The contact with ContactID '{data['ContactID']}' could not be found."
                )
            else:
                record["ContactID"] = contact["ContactID"]
        if data.get("TargetTransactionID"):
            target = org.get("Invoices", str(data["TargetTransactionID"]))
            if target is None or target.get("Type") != "ACCREC":
                errors.append("TargetTransactionID must be a sales invoice (ACCREC).")
            else:
                record["TargetTransactionID"] = target["InvoiceID"]
                if data.get("TargetLineItemID"):
                    record["TargetLineItemID"] = data["TargetLineItemID"]
                record["ContactID"] = target["Contact"]["ContactID"]
        if errors:
            raise ValidationException(errors, data)
        if record.get("TargetTransactionID"):
            target = org.get("Invoices", record["TargetTransactionID"]) or {}
            record["Status"] = "ONDRAFT" if target.get("Status") == "DRAFT" else "BILLED"
        elif record.get("ContactID"):
            record["Status"] = "APPROVED"
        return record

    @staticmethod
    def _source(org: Organisation, source_id: str, line_id: Any, errors: list[str]) -> str | None:
        bill = org.get("Invoices", source_id)
        txn = org.get("BankTransactions", source_id)
        if bill is not None and bill.get("Type") == "ACCPAY":
            document, code = bill, "ACCPAY"
        elif txn is not None and txn.get("Type") == "SPEND":
            document, code = txn, "SPEND"
        else:
            errors.append(
                "SourceTransactionID must be a bill (ACCPAY) or a SPEND bank transaction."
            )
            return None
        ids = {str(line.get("LineItemID", "")).lower() for line in document.get("LineItems") or []}
        if line_id and str(line_id).lower() not in ids:
            errors.append("SourceLineItemID is not a line of the source transaction.")
        return code

    def delete(self, ctx: WriteContext, record: dict[str, Any]) -> service.Result:
        """``DELETE /LinkedTransactions/{id}``: 204; a BILLED link cannot be deleted."""
        if record["Status"] == "BILLED":
            raise ValidationException(["A billed linked transaction cannot be deleted."], {})
        with ctx.org.lock:
            ctx.org.table(self.name).pop(record["LinkedTransactionID"].lower(), None)
        return service.NoContent()


# --- receipts and expense claims ---------------------------------------------------------

RECEIPT_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "DECLINED", "VOIDED")


class ReceiptRules(ResourceRules):
    name = "Receipts"
    id_field = "ReceiptID"
    number_field = "ReceiptNumber"
    scope = "transactions"
    granular_scope = "accounting.classicexpenses"
    paging = "none"
    supports_post = True
    _FIELDS: ClassVar[list[str]] = [
        "Date",
        "Contact",
        "LineItems",
        "User",
        "Reference",
        "LineAmountTypes",
        "Status",
        "Url",
    ]

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"Status": "DRAFT", "HasAttachments": False}
        return self._apply(ctx, record, normalise_keys(data, self._FIELDS), creating=True)

    def update(self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]):
        if record["Status"] not in ("DRAFT", "SUBMITTED") and set(data) - {"ReceiptID", "Status"}:
            raise ValidationException(
                [f"A receipt with status {record['Status']} cannot be edited."], data
            )
        return self._apply(ctx, clone(record), normalise_keys(data, self._FIELDS), creating=False)

    def _apply(self, ctx: WriteContext, record: dict, data: dict, *, creating: bool) -> dict:
        org = ctx.org
        errors: list[str] = []
        when = date_field(data.get("Date"), "Date", errors)
        if creating and data.get("Date") in (None, ""):
            errors.append("Date must be specified.")
        contact = None
        if creating or "Contact" in data:
            contact = _contact_for(ctx, data.get("Contact"), errors)
        user = record.get("User")
        if creating or "User" in data:
            user_id = (
                get_field(data.get("User") or {}, "UserID")
                if isinstance(data.get("User"), dict)
                else None
            )
            found = org.get("Users", str(user_id)) if user_id else None
            if found is None:
                errors.append(
                    "User must be specified with the UserID of a user of this organisation."
                )
            else:
                user = {"UserID": found["UserID"]}
        status = enum_field(data.get("Status"), "Status", RECEIPT_STATUSES, errors)
        lines = None
        if creating or "LineItems" in data:
            lines = parse_line_items(
                org, data.get("LineItems"), errors, require_account=True, sales=False
            )
            if not lines and not errors:
                errors.append("One or more line items must be specified")
        amount_types = line_amount_types(
            data.get("LineAmountTypes"), errors, record.get("LineAmountTypes", "Exclusive")
        )
        if errors:
            raise ValidationException(errors, data)
        if creating:
            record["ReceiptID"] = new_id()
            org.counters["receipt"] = org.counters.get("receipt", 0) + 1
            record["ReceiptNumber"] = str(org.counters["receipt"])
        if when:
            record["Date"] = when
        if contact is not None:
            record["Contact"] = {
                "ContactID": contacts.materialise_contact(ctx, contact)["ContactID"]
            }
        record["User"] = user
        if status:
            record["Status"] = status
        for key in ("Reference", "Url"):
            if key in data:
                record[key] = data[key]
        if lines is not None:
            apply_totals(record, lines, amount_types)
        return record

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        if record.get("Contact"):
            out["Contact"] = render_contact(org, record["Contact"])
        user = org.get("Users", (record.get("User") or {}).get("UserID", "")) or {}
        out["User"] = {
            k: user[k] for k in ("UserID", "FirstName", "LastName", "EmailAddress") if k in user
        }
        add_date_strings(out, record, "Date")
        return out


class ExpenseClaimRules(ResourceRules):
    name = "ExpenseClaims"
    id_field = "ExpenseClaimID"
    scope = "transactions"
    granular_scope = "accounting.classicexpenses"
    paging = "none"

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        org = ctx.org
        data = normalise_keys(data, ["User", "Receipts", "Status"])
        errors: list[str] = []
        user_id = (
            get_field(data.get("User") or {}, "UserID")
            if isinstance(data.get("User"), dict)
            else None
        )
        user = org.get("Users", str(user_id)) if user_id else None
        if user is None:
            errors.append("User must be specified with the UserID of a user of this organisation.")
        receipts = []
        raw = data.get("Receipts")
        if not isinstance(raw, list) or not raw:
            errors.append("Receipts must be specified: at least one receipt to claim.")
            raw = []
        claimed = {
            str(r["ReceiptID"]).lower()
            for claim in org.table(self.name).values()
            if claim["Status"] not in ("VOIDED", "DELETED")
            for r in claim.get("Receipts", [])
        }
        for index, item in enumerate(raw, start=1):
            receipt_id = get_field(item, "ReceiptID") if isinstance(item, dict) else None
            receipt = org.get("Receipts", str(receipt_id)) if receipt_id else None
            if receipt is None:
                errors.append(f"Receipt {index} could not be found.")
                continue
            if receipt["Status"] != "DRAFT":
                errors.append(f"Receipt {receipt['ReceiptNumber']} must be DRAFT to be claimed.")
            if str(receipt["ReceiptID"]).lower() in claimed:
                errors.append(f"Receipt {receipt['ReceiptNumber']} is already on an expense claim.")
            if user is not None and (receipt.get("User") or {}).get("UserID") != user["UserID"]:
                errors.append(f"Receipt {receipt['ReceiptNumber']} belongs to another user.")
            receipts.append(receipt)
        if errors:
            raise ValidationException(errors, data)
        for receipt in receipts:
            updated = clone(receipt)
            updated["Status"] = "SUBMITTED"
            updated["UpdatedDateUTC"] = ctx.now
            org.put("Receipts", receipt["ReceiptID"], updated)
        total = sum((r.get("Total", ZERO) for r in receipts), ZERO)
        return {
            "ExpenseClaimID": new_id(),
            "Status": "SUBMITTED",
            "User": {"UserID": user["UserID"]},
            "Receipts": [{"ReceiptID": r["ReceiptID"]} for r in receipts],
            "Payments": [],
            "Total": total,
            "AmountDue": total,
            "AmountPaid": ZERO,
            "ReportingDate": ctx.now.date(),
        }

    def update(self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]):
        data = normalise_keys(data, ["Status"])
        errors: list[str] = []
        status = enum_field(
            data.get("Status"), "Status", ("SUBMITTED", "AUTHORISED", "VOIDED", "DELETED"), errors
        )
        allowed = {
            "SUBMITTED": ("AUTHORISED", "DELETED", "SUBMITTED"),
            "AUTHORISED": ("VOIDED", "AUTHORISED"),
        }
        if status and status not in allowed.get(record["Status"], (record["Status"],)):
            errors.append(f"An expense claim with status {record['Status']} cannot be {status}.")
        if errors:
            raise ValidationException(errors, data)
        updated = clone(record)
        if status and status != record["Status"]:
            updated["Status"] = status
            receipt_status = {"AUTHORISED": "AUTHORISED", "VOIDED": "VOIDED", "DELETED": "DRAFT"}
            for ref in record["Receipts"]:
                receipt = ctx.org.get("Receipts", ref["ReceiptID"])
                if receipt is not None:
                    changed = clone(receipt)
                    changed["Status"] = receipt_status.get(status, receipt["Status"])
                    changed["UpdatedDateUTC"] = ctx.now
                    ctx.org.put("Receipts", receipt["ReceiptID"], changed)
        return updated

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        receipts = ReceiptRules()
        out["Receipts"] = [
            receipts.render(org, r)
            for r in (org.get("Receipts", ref["ReceiptID"]) for ref in record["Receipts"])
            if r is not None
        ]
        user = org.get("Users", record["User"]["UserID"]) or {}
        out["User"] = {
            k: user[k] for k in ("UserID", "FirstName", "LastName", "EmailAddress") if k in user
        }
        return out

    def history_label(self, record: dict[str, Any]) -> str:
        return "Expense Claim"


RESOURCE_RULES = [RepeatingInvoiceRules, LinkedTransactionRules, ReceiptRules, ExpenseClaimRules]
