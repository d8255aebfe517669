"""The general ledger: manual journals, and the journals Xero keeps for every posting.

Rules emulated (spec v16.1.0 and Xero's docs):

* ManualJournals: ``Narration`` required (spec); ``JournalLines`` with ``LineAmount``
  (debits positive, credits negative) and an account; a POSTED journal needs at least two
  lines that sum to zero ("The total debits must equal the total credits"); Status
  DRAFT, POSTED, DELETED (from DRAFT), VOIDED (from POSTED). Paged by page/pageSize,
  If-Modified-Since, ``where``.
* Journals (``/Journals``) are read-only and immutable: each posting of a document adds
  one, numbered by ``JournalNumber``; a change to a posted document adds a reversing
  journal and a new one; voiding adds the reversal. ``GET /Journals?offset=N`` returns up
  to 100 journals with JournalNumber greater than N, in number order (Xero's journals
  docs: "paged by offset on JournalNumber"), filtered by If-Modified-Since on
  ``CreatedDateUTC``; ``paymentsOnly=true`` keeps cash journals. Lines follow Xero's
  sign rule (debits positive), and the lines of one journal sum to zero.

Posting (simplified double entry in the base currency): sales invoices debit Accounts
Receivable (610) and credit each line's account and GST (820); bills the reverse against
Accounts Payable (800); credit notes mirror their invoice type; payments move money
between the bank account and 610/800; bank transactions between the bank account and
their lines; transfers between two bank accounts; manual journals post their lines.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    add_date_strings,
    clone,
    date_field,
    enum_field,
    money,
    normalise_keys,
    round_money,
    to_wire,
)
from xero_sandbox.accounting.documents import find_account, find_tax_rate
from xero_sandbox.errors import ValidationException
from xero_sandbox.organisation import Organisation, new_id

ZERO = Decimal("0")
JOURNAL_PAGE = 100
AR_CODE, AP_CODE, GST_CODE = "610", "800", "820"
MANUAL_STATUSES = ("DRAFT", "POSTED", "DELETED", "VOIDED")
_MANUAL_FIELDS = [
    "ManualJournalID",
    "Narration",
    "JournalLines",
    "Date",
    "LineAmountTypes",
    "Status",
    "Url",
    "ShowOnCashBasisReports",
]
_MANUAL_TRANSITIONS = {
    "DRAFT": ("DRAFT", "POSTED", "DELETED"),
    "POSTED": ("POSTED", "VOIDED"),
    "DELETED": ("DELETED",),
    "VOIDED": ("VOIDED",),
}
CASH_SOURCES = frozenset(
    {
        "ACCRECPAYMENT",
        "ACCPAYPAYMENT",
        "ARCREDITPAYMENT",
        "APCREDITPAYMENT",
        "CASHREC",
        "CASHPAID",
        "TRANSFER",
        "ARPREPAYMENT",
        "APPREPAYMENT",
        "AROVERPAYMENT",
        "APOVERPAYMENT",
    }
)


# --- manual journals ---------------------------------------------------------------------


class ManualJournalRules(ResourceRules):
    """``/ManualJournals``."""

    name = "ManualJournals"
    id_field = "ManualJournalID"
    scope = "transactions"
    granular_scope = "accounting.manualjournals"
    paged_lines = "JournalLines"

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        record = {
            "ManualJournalID": new_id(),
            "Status": "DRAFT",
            "LineAmountTypes": "NoTax",
            "ShowOnCashBasisReports": True,
            "HasAttachments": False,
            "JournalLines": [],
        }
        return self._apply(ctx, record, normalise_keys(data, _MANUAL_FIELDS), creating=True)

    def update(self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]):
        return self._apply(ctx, clone(record), normalise_keys(data, _MANUAL_FIELDS), creating=False)

    def _apply(self, ctx: WriteContext, record: dict, data: dict, *, creating: bool) -> dict:
        org = ctx.org
        errors: list[str] = []
        narration = data.get("Narration", record.get("Narration"))
        if not isinstance(narration, str) or not narration.strip():
            errors.append("Narration must be specified.")
        status = enum_field(data.get("Status"), "Status", MANUAL_STATUSES, errors)
        current = record["Status"]
        target = status or current
        if status and target not in _MANUAL_TRANSITIONS[current]:
            errors.append(f"A manual journal with status {current} cannot be {target}.")
        if creating and target not in ("DRAFT", "POSTED"):
            errors.append(f"A new manual journal cannot have the status {target}.")
        locked = current in ("POSTED", "VOIDED", "DELETED")
        if locked and "JournalLines" in data and target == current:
            errors.append(f"A {current} manual journal's lines cannot be changed.")
        when = date_field(data.get("Date"), "Date", errors) if "Date" in data else None
        lines = record["JournalLines"]
        if "JournalLines" in data:
            lines = self._lines(org, data["JournalLines"], errors)
        if target == "POSTED":
            if len(lines) < 2:
                errors.append("A posted manual journal needs at least two journal lines.")
            elif sum((line["LineAmount"] for line in lines), ZERO) != ZERO:
                errors.append("The total debits must equal the total credits.")
        if errors:
            raise ValidationException(errors, data)
        record["Narration"] = narration.strip()
        record["Status"] = target
        record["JournalLines"] = lines
        record["Date"] = when or record.get("Date") or ctx.now.date()
        for key in ("Url", "ShowOnCashBasisReports"):
            if key in data:
                record[key] = data[key]
        return record

    @staticmethod
    def _lines(org: Organisation, raw: Any, errors: list[str]) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            errors.append("JournalLines must be a list.")
            return []
        lines = []
        for index, item in enumerate(raw, start=1):
            if not isinstance(item, dict):
                errors.append(f"Journal line {index} must be an object.")
                continue
            item = normalise_keys(
                item, ["LineAmount", "AccountCode", "AccountID", "Description", "TaxType"]
            )
            amount = money(item.get("LineAmount"), f"LineAmount on journal line {index}", errors)
            if item.get("LineAmount") in (None, ""):
                errors.append(f"LineAmount must be specified on journal line {index}.")
            account = find_account(org, item.get("AccountCode"), item.get("AccountID"))
            if account is None or account.get("Status") == "ARCHIVED":
                shown = item.get("AccountCode") or item.get("AccountID") or ""
                errors.append(
                    f"Account code '{shown}' is not a valid code on journal line {index}."
                )
                continue
            line: dict[str, Any] = {
                "LineAmount": round_money(amount or ZERO),
                "AccountCode": account["Code"],
                "AccountID": account["AccountID"],
                "TaxType": item.get("TaxType") or "NONE",
                "TaxAmount": ZERO,
                "IsBlank": False,
                "Tracking": [],
            }
            if item.get("Description"):
                line["Description"] = str(item["Description"])
            lines.append(line)
        return lines

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        add_date_strings(out, record, "Date")
        return out

    def history_label(self, record: dict[str, Any]) -> str:
        return "Manual Journal"


# --- journals (read-only) ----------------------------------------------------------------


class JournalRules(ResourceRules):
    """``/Journals``: read-only, paged by ``offset`` on JournalNumber."""

    name = "Journals"
    id_field = "JournalID"
    scope = "journals"
    granular_scope = "accounting.journals.read"
    paging = "none"  # paged by offset, handled in filter_list
    supports_where = False
    supports_put = False
    supports_post = False
    supports_history = False
    updated_field = "CreatedDateUTC"
    offset_field: ClassVar[str] = "JournalNumber"

    def filter_list(self, records: list[dict[str, Any]], params: dict[str, str]) -> list:
        """``offset``: the next 100 journals after that JournalNumber; ``paymentsOnly``."""
        lowered = {k.lower(): v for k, v in params.items()}
        text = (lowered.get("offset") or "0").strip()
        if not text.lstrip("-").isdigit() or len(text) > 12:
            from xero_sandbox.errors import ApiException

            raise ApiException("QueryParseException", "'offset' must be a whole number.")
        offset = int(text)
        if lowered.get("paymentsonly", "").lower() == "true":
            records = [r for r in records if r["SourceType"] in CASH_SOURCES]
        after = sorted(
            (r for r in records if r["JournalNumber"] > offset), key=lambda r: r["JournalNumber"]
        )
        return after[:JOURNAL_PAGE]

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        return to_wire(record)


# --- posting -----------------------------------------------------------------------------


def _account_line(
    org: Organisation,
    code_or_id: Any,
    net: Decimal,
    tax: Decimal = ZERO,
    *,
    tax_type: str | None = None,
    description: str | None = None,
    by_id: bool = False,
) -> dict[str, Any] | None:
    account = find_account(org, None, code_or_id) if by_id else find_account(org, code_or_id)
    if account is None:
        return None
    line: dict[str, Any] = {
        "JournalLineID": new_id(),
        "AccountID": account["AccountID"],
        "AccountCode": account.get("Code", ""),
        "AccountType": account.get("Type", ""),
        "AccountName": account.get("Name", ""),
        "NetAmount": net,
        "GrossAmount": net + tax,
        "TaxAmount": tax,
        "TrackingCategories": [],
    }
    if description:
        line["Description"] = description
    if tax_type:
        tax_rate = find_tax_rate(org, tax_type)
        line["TaxType"] = tax_type
        if tax_rate is not None:
            line["TaxName"] = tax_rate.get("Name", tax_type)
    return line


def _document_lines(org: Organisation, record: dict[str, Any], sign: int, control: str) -> list:
    """Lines of an invoice-like document: ``sign`` +1 credits the line accounts (sales)."""
    lines = []
    total_tax = ZERO
    for item in record.get("LineItems") or []:
        tax = Decimal(str(item.get("TaxAmount") or 0))
        amount = Decimal(str(item.get("LineAmount") or 0))
        net = amount - tax if record.get("LineAmountTypes") == "Inclusive" else amount
        line = _account_line(
            org,
            item.get("AccountCode"),
            -sign * net,
            -sign * tax,
            tax_type=item.get("TaxType"),
            description=item.get("Description"),
        )
        if line is not None:
            lines.append(line)
            total_tax += tax
    if total_tax:
        gst = _account_line(org, GST_CODE, -sign * total_tax)
        if gst is not None:
            lines.append(gst)
    booked = -sum((line["NetAmount"] for line in lines), ZERO)
    control_line = _account_line(org, control, booked)
    if control_line is not None and booked:
        lines.append(control_line)
    return lines


_INVOICE_POSTED = ("AUTHORISED", "PAID")


def journal_entry(org: Organisation, resource: str, record: dict[str, Any]) -> tuple | None:
    """(SourceType, date, reference, lines) for a record in a posted state, else None."""
    status = record.get("Status")
    if resource == "Invoices" and status in _INVOICE_POSTED:
        sales = record.get("Type") == "ACCREC"
        lines = _document_lines(org, record, 1 if sales else -1, AR_CODE if sales else AP_CODE)
        return record["Type"], record.get("Date"), record.get("InvoiceNumber", ""), lines
    if resource == "CreditNotes" and status in _INVOICE_POSTED:
        sales = record.get("Type") == "ACCRECCREDIT"
        lines = _document_lines(org, record, -1 if sales else 1, AR_CODE if sales else AP_CODE)
        return record["Type"], record.get("Date"), record.get("CreditNoteNumber", ""), lines
    if resource == "Payments" and status == "AUTHORISED":
        amount = Decimal(str(record.get("Amount") or 0))
        kind = record.get("PaymentType", "ACCRECPAYMENT")
        control = AR_CODE if kind in ("ACCRECPAYMENT", "ARCREDITPAYMENT") else AP_CODE
        money_in = kind in ("ACCRECPAYMENT", "APCREDITPAYMENT")
        bank = (record.get("Account") or {}).get("AccountID")
        sign = 1 if money_in else -1
        lines = [
            _account_line(org, bank, sign * amount, by_id=True),
            _account_line(org, control, -sign * amount),
        ]
        return kind, record.get("Date"), record.get("Reference", ""), [x for x in lines if x]
    if resource == "BankTransactions" and status == "AUTHORISED":
        type_ = record.get("Type", "")
        if type_.endswith("TRANSFER"):
            return None  # the transfer's own journal covers both sides
        money_in = type_.startswith("RECEIVE")
        source = {
            "RECEIVE": "CASHREC",
            "SPEND": "CASHPAID",
            "RECEIVE-OVERPAYMENT": "AROVERPAYMENT",
            "SPEND-OVERPAYMENT": "APOVERPAYMENT",
            "RECEIVE-PREPAYMENT": "ARPREPAYMENT",
            "SPEND-PREPAYMENT": "APPREPAYMENT",
        }.get(type_, "CASHREC")
        bank = (record.get("BankAccount") or {}).get("AccountID")
        if type_.endswith("OVERPAYMENT"):
            total = Decimal(str(record.get("Total") or 0))
            sign = 1 if money_in else -1
            control = AR_CODE if money_in else AP_CODE
            lines = [
                _account_line(org, bank, sign * total, by_id=True),
                _account_line(org, control, -sign * total),
            ]
            return source, record.get("Date"), record.get("Reference", ""), [x for x in lines if x]
        lines = _document_lines(org, record, 1 if money_in else -1, "")
        booked = -sum((line["NetAmount"] for line in lines), ZERO)
        bank_line = _account_line(org, bank, booked, by_id=True)
        if bank_line is not None:
            lines.append(bank_line)
        return source, record.get("Date"), record.get("Reference", ""), lines
    if resource == "BankTransfers" and status != "DELETED":
        amount = Decimal(str(record.get("Amount") or 0))
        lines = [
            _account_line(
                org, (record.get("ToBankAccount") or {}).get("AccountID"), amount, by_id=True
            ),
            _account_line(
                org, (record.get("FromBankAccount") or {}).get("AccountID"), -amount, by_id=True
            ),
        ]
        return "TRANSFER", record.get("Date"), record.get("Reference", ""), [x for x in lines if x]
    if resource == "ManualJournals" and status == "POSTED":
        lines = [
            _account_line(
                org,
                line["AccountID"],
                Decimal(str(line["LineAmount"])),
                by_id=True,
                description=line.get("Description"),
            )
            for line in record.get("JournalLines") or []
        ]
        return (
            "MANJOURNAL",
            record.get("Date"),
            record.get("Narration", ""),
            [x for x in lines if x],
        )
    return None


_SOURCES = {
    "Invoices": "InvoiceID",
    "CreditNotes": "CreditNoteID",
    "Payments": "PaymentID",
    "BankTransactions": "BankTransactionID",
    "BankTransfers": "BankTransferID",
    "ManualJournals": "ManualJournalID",
}


def _shape(entry: tuple | None) -> Any:
    if entry is None:
        return None
    source, when, _, lines = entry
    return (
        source,
        when,
        sorted((line["AccountID"], line["NetAmount"], line["TaxAmount"]) for line in lines),
    )


def post_change(
    org: Organisation,
    resource: str,
    record: dict[str, Any],
    previous: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Add the journals a committed change makes: a reversal of the old posting and the
    new posting, when what the record posts has changed."""
    if resource not in _SOURCES:
        return
    old = journal_entry(org, resource, previous) if previous is not None else None
    new = journal_entry(org, resource, record)
    if _shape(old) == _shape(new):
        return
    source_id = record[_SOURCES[resource]]
    if old is not None:
        source, when, reference, lines = old
        reversed_lines = [
            {
                **line,
                "JournalLineID": new_id(),
                "NetAmount": -line["NetAmount"],
                "GrossAmount": -line["GrossAmount"],
                "TaxAmount": -line["TaxAmount"],
            }
            for line in lines
        ]
        _add_journal(org, source, now.date(), reference, source_id, reversed_lines, now)
    if new is not None:
        source, when, reference, lines = new
        _add_journal(org, source, when or now.date(), reference, source_id, lines, now)


def _add_journal(
    org: Organisation,
    source: str,
    when: date,
    reference: str,
    source_id: str,
    lines: list[dict[str, Any]],
    now: datetime,
) -> None:
    if not lines:
        return
    number = org.counters.get("journal", 0) + 1
    org.counters["journal"] = number
    journal_id = new_id()
    org.put(
        "Journals",
        journal_id,
        {
            "JournalID": journal_id,
            "JournalDate": when,
            "JournalNumber": number,
            "CreatedDateUTC": now,
            "Reference": reference or "",
            "SourceID": source_id,
            "SourceType": source,
            "JournalLines": lines,
        },
    )


RESOURCE_RULES = [ManualJournalRules, JournalRules]
