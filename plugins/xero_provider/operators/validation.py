"""Check records before any call to Xero, naming the record and the field that is wrong.

One :class:`Schema` per kind of write (create a bill, allocate a credit note...) lists
its fields: required or not, and what each must be (text, GUID, date, amount, one of an
enum, a reference to a contact or account, line items). :func:`validate` runs a schema
over every record and returns every problem at once, so a batch of 500 with three bad
records says which three and why, before anything is written.

The rules follow Xero's documented requirements (spec ``components.schemas``; API_NOTES
section 6): Contact ``Name`` required and at most 255 characters, ``ContactNumber`` at most
50; invoices need ``Contact`` and ``LineItems``; payments need a document, an ``Account``,
a ``Date`` and an ``Amount``; allocations need ``Invoice``, ``Amount`` and ``Date``;
history notes at most 2,500 characters (developer.xero.com/documentation/api/accounting/
historyandnotes). The status rules that need Xero's current data (an update of a quote
that is no longer DRAFT, a payment above the invoice's amount due) are the functions at
the end, given the records the operator read.

Missing values (None, NaN, NaT, ``pd.NA``) count as absent: a required field that is
missing is an error, an optional one is left out of the payload by the hook.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from numbers import Number
from typing import Any

from xero_provider.exceptions import RecordProblem
from xero_provider.formats import MS_DATE, is_guid

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
INVOICE_TYPES = ("ACCREC", "ACCPAY")
INVOICE_CREATE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
CREDIT_NOTE_TYPES = ("ACCPAYCREDIT", "ACCRECCREDIT")
BANK_TRANSACTION_TYPES = (
    "RECEIVE",
    "SPEND",
    "RECEIVE-PREPAYMENT",
    "SPEND-PREPAYMENT",
    "RECEIVE-OVERPAYMENT",
    "SPEND-OVERPAYMENT",
)
QUOTE_STATUSES = ("DRAFT", "SENT", "DECLINED", "ACCEPTED", "INVOICED", "DELETED")
PURCHASE_ORDER_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "BILLED", "DELETED")
CONTACT_STATUSES = ("ACTIVE", "ARCHIVED", "GDPRREQUEST")
HISTORY_DETAILS_MAX = 2500


def is_missing(value: Any) -> bool:
    """None, NaN, NaT and ``pd.NA``: the values a DataFrame uses for "no value"."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if type(value).__name__ in ("NaTType", "NAType"):
        return True
    try:
        return bool(value != value)  # numpy.nan, numpy.datetime64("NaT")
    except (TypeError, ValueError):
        return False


# Text fields whose values often look like numbers: account codes "200", invoice numbers.
# A DAG with ``render_template_as_native_obj=True`` turns "200" into 200; Xero wants text.
CODE_FIELDS = frozenset(
    {
        "AccountCode",
        "Code",
        "ItemCode",
        "TaxType",
        "ContactNumber",
        "InvoiceNumber",
        "CreditNoteNumber",
        "QuoteNumber",
        "PurchaseOrderNumber",
        "Reference",
        "AccountNumber",
    }
)


def codes_as_text(value: Any) -> Any:
    """A copy of a record with whole numbers in :data:`CODE_FIELDS` written as text."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            is_int = isinstance(item, int) and not isinstance(item, bool)
            if key in CODE_FIELDS and (is_int or type(item).__name__.startswith("int")):
                out[key] = str(item)
            else:
                out[key] = codes_as_text(item)
        return out
    if isinstance(value, list):
        return [codes_as_text(item) for item in value]
    return value


# --- one value --------------------------------------------------------------------------

Check = Callable[[Any], str | None]


def text(max_length: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be text, got {type(value).__name__}"
        if max_length is not None and len(value) > max_length:
            return f"must be at most {max_length} characters, got {len(value)}"
        return None

    return check


def guid(value: Any) -> str | None:
    if not is_guid(value):
        return f"must be a GUID like 00000000-0000-0000-0000-000000000000, got {value!r}"
    return None


def email(value: Any) -> str | None:
    problem = text(255)(value)
    if problem is None and not _EMAIL.match(value):
        return f"is not an email address: {value!r}"
    return problem


def currency(value: Any) -> str | None:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        return f"must be a 3-letter ISO currency code, got {value!r}"
    return None


def a_date(value: Any) -> str | None:
    """A date Xero can take: a date, datetime, pandas Timestamp, ``YYYY-MM-DD`` or /Date()/."""
    if isinstance(value, date | datetime) or type(value).__name__ in ("Timestamp", "datetime64"):
        return None
    if isinstance(value, str):
        if MS_DATE.match(value):
            return None
        if _DATE.match(value):
            try:
                date.fromisoformat(value[:10])
                return None
            except ValueError:
                pass
    return f"must be a date (YYYY-MM-DD), got {value!r}"


def _decimal(value: Any) -> Decimal | None:
    """The number in ``value`` (int, float, Decimal, numpy scalar, numeric text), or None."""
    if isinstance(value, bool):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar
    if isinstance(value, Decimal | int | float | Number | str):
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            return None
        return number if number.is_finite() else None
    return None


def number(value: Any) -> str | None:
    if _decimal(value) is None:
        return f"must be a finite number, got {value!r}"
    return None


def positive_amount(value: Any) -> str | None:
    amount = _decimal(value)
    if amount is None:
        return f"must be a finite number, got {value!r}"
    if amount <= 0:
        return f"must be greater than zero, got {value}"
    return None


def one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value.upper() in {c.upper() for c in choices}:
            return None
        return f"must be one of {', '.join(choices)}, got {value!r}"

    return check


def boolean(value: Any) -> str | None:
    if type(value).__name__ in ("bool", "bool_"):
        return None
    return f"must be true or false, got {value!r}"


def reference(id_field: str, *other_keys: str) -> Check:
    """A nested reference such as ``Contact``: a dict with ``id_field`` (a GUID) or another key."""

    def check(value: Any) -> str | None:
        if not isinstance(value, Mapping):
            return f"must be an object with {id_field} or {' or '.join(other_keys)}"
        given = {k: v for k, v in value.items() if not is_missing(v)}
        if id_field in given:
            problem = guid(given[id_field])
            return f"{id_field} {problem}" if problem else None
        for key in other_keys:
            if key in given and isinstance(given[key], str) and given[key].strip():
                return None
        return f"needs {id_field} or {' or '.join(other_keys)}"

    return check


# --- whole records ----------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of a record: the check of its value, and whether it must be there."""

    name: str
    check: Check | None = None
    required: bool = False


@dataclass(frozen=True)
class Schema:
    """The fields of one kind of write; ``one_of`` lists groups where one field must be set."""

    name: str
    fields: tuple[Field, ...]
    required_one_of: tuple[tuple[str, ...], ...] = ()
    line_items: bool = False  # LineItems required, each checked with LINE_ITEM
    extra: tuple[Callable[[Mapping[str, Any]], list[tuple[str, str]]], ...] = field(default=())


def _present(record: Mapping[str, Any], name: str) -> bool:
    value = record.get(name)
    return not is_missing(value) and not (isinstance(value, str) and not value.strip())


LINE_ITEM = (
    Field("Description", text(4000)),
    Field("Quantity", number),
    Field("UnitAmount", number),
    Field("LineAmount", number),
    Field("DiscountRate", number),
    Field("AccountCode", text(50)),
    Field("ItemCode", text(50)),
    Field("TaxType", text(50)),
    Field("LineItemID", guid),
)


def _line_items(record: Mapping[str, Any], required: bool) -> list[tuple[str, str]]:
    lines = record.get("LineItems")
    if hasattr(lines, "tolist"):
        lines = lines.tolist()  # a numpy array from a DataFrame cell
    if not isinstance(lines, list | tuple):
        if is_missing(lines):
            return [("LineItems", "is required: at least one line item")] if required else []
        return [("LineItems", f"must be a list of line items, got {type(lines).__name__}")]
    if required and not lines:
        return [("LineItems", "must be a non-empty list of line items")]
    problems = []
    for number_, line in enumerate(lines):
        if not isinstance(line, Mapping):
            problems.append((f"LineItems[{number_}]", "must be an object"))
            continue
        if not any(_present(line, k) for k in ("Description", "ItemCode", "AccountCode")):
            problems.append(
                (f"LineItems[{number_}]", "needs a Description, an ItemCode or an AccountCode")
            )
        for spec in LINE_ITEM:
            if _present(line, spec.name):
                message = spec.check(line[spec.name])
                if message:
                    problems.append((f"LineItems[{number_}].{spec.name}", message))
    return problems


def check_record(schema: Schema, record: Any) -> list[tuple[str, str]]:
    """(field, message) for everything wrong with one record."""
    if not isinstance(record, Mapping):
        return [("(record)", f"must be an object (dict), got {type(record).__name__}")]
    problems: list[tuple[str, str]] = []
    for spec in schema.fields:
        if not _present(record, spec.name):
            if spec.required:
                problems.append((spec.name, "is required"))
            continue
        if spec.check is not None:
            message = spec.check(record[spec.name])
            if message:
                problems.append((spec.name, message))
    for group in schema.required_one_of:
        if not any(_present(record, name) for name in group):
            problems.append((" or ".join(group), "one of these is required"))
    if schema.line_items or "LineItems" in record:
        problems.extend(_line_items(record, schema.line_items))
    for rule in schema.extra:
        problems.extend(rule(record))
    return problems


def validate(schema: Schema, records: Iterable[Any], resource: str) -> list[RecordProblem]:
    """Every problem of every record, each naming the record's index and the field."""
    out = []
    for index, record in enumerate(records):
        record_id = _record_id(record)
        for field_name, message in check_record(schema, record):
            out.append(RecordProblem(message, index, record_id, field_name))
    return out


def _record_id(record: Any) -> str | None:
    if not isinstance(record, Mapping):
        return None
    for key, value in record.items():
        if key.endswith("ID") and isinstance(value, str):
            return value
    return None


# --- the schemas --------------------------------------------------------------------------

_CONTACT_REF = reference("ContactID", "Name", "ContactNumber")
_ACCOUNT_REF = reference("AccountID", "Code")
_INVOICE_REF = reference("InvoiceID", "InvoiceNumber")
_CREDIT_NOTE_REF = reference("CreditNoteID", "CreditNoteNumber")


def _contact_fields(name_required: bool) -> tuple[Field, ...]:
    return (
        Field("ContactID", guid),
        Field("Name", text(255), required=name_required),
        Field("ContactNumber", text(50)),
        Field("EmailAddress", email),
        Field("FirstName", text(255)),
        Field("LastName", text(255)),
        Field("ContactStatus", one_of(*CONTACT_STATUSES)),
        Field("IsSupplier", boolean),
        Field("IsCustomer", boolean),
    )


def _document_fields(
    type_check: Check, statuses: tuple[str, ...], number_field: str
) -> tuple[Field, ...]:
    return (
        Field(number_field, text(255)),
        Field("Type", type_check, required=True),
        Field("Contact", _CONTACT_REF, required=True),
        Field("Date", a_date),
        Field("DueDate", a_date),
        Field("Status", one_of(*statuses)),
        Field("LineAmountTypes", one_of(*LINE_AMOUNT_TYPES)),
        Field("Reference", text(255)),
        Field("CurrencyCode", currency),
        Field("CurrencyRate", positive_amount),
    )


def _different_accounts(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    source, target = record.get("FromBankAccount"), record.get("ToBankAccount")
    if isinstance(source, Mapping) and isinstance(target, Mapping):
        same = any(source.get(k) and source.get(k) == target.get(k) for k in ("AccountID", "Code"))
        if same:
            return [("ToBankAccount", "must be a different account from FromBankAccount")]
    return []


def _one_document(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    if _present(record, "Invoice") and _present(record, "CreditNote"):
        return [("Invoice", "a payment is for one document: give Invoice or CreditNote")]
    return []


CONTACT_CREATE = Schema("create contact", _contact_fields(True))
CONTACT_UPDATE = Schema(
    "update contact", _contact_fields(False), required_one_of=(("ContactID", "ContactNumber"),)
)
CONTACT_UPSERT = Schema("upsert contact", _contact_fields(True))
BILL_CREATE = Schema(
    "create bill",
    _document_fields(one_of("ACCPAY"), INVOICE_CREATE_STATUSES, "InvoiceNumber"),
    line_items=True,
)
SALES_INVOICE_CREATE = Schema(
    "create sales invoice",
    _document_fields(one_of("ACCREC"), INVOICE_CREATE_STATUSES, "InvoiceNumber"),
    line_items=True,
)
CREDIT_NOTE_CREATE = Schema(
    "create credit note",
    _document_fields(one_of(*CREDIT_NOTE_TYPES), INVOICE_CREATE_STATUSES, "CreditNoteNumber"),
    line_items=True,
)
BANK_TRANSACTION_CREATE = Schema(
    "create bank transaction",
    (
        Field("Type", one_of(*BANK_TRANSACTION_TYPES), required=True),
        Field("Contact", _CONTACT_REF, required=True),
        Field("BankAccount", _ACCOUNT_REF, required=True),
        Field("Date", a_date),
        Field("Reference", text(255)),
        Field("Status", one_of("AUTHORISED")),
        Field("LineAmountTypes", one_of(*LINE_AMOUNT_TYPES)),
        Field("CurrencyCode", currency),
        Field("IsReconciled", boolean),
    ),
    line_items=True,
)
BANK_TRANSFER_CREATE = Schema(
    "create bank transfer",
    (
        Field("FromBankAccount", _ACCOUNT_REF, required=True),
        Field("ToBankAccount", _ACCOUNT_REF, required=True),
        Field("Amount", positive_amount, required=True),
        Field("Date", a_date),
        Field("Reference", text(255)),
    ),
    extra=(_different_accounts,),
)
PAYMENT_CREATE = Schema(
    "create payment",
    (
        Field("Invoice", _INVOICE_REF),
        Field("CreditNote", _CREDIT_NOTE_REF),
        Field("Account", _ACCOUNT_REF, required=True),
        Field("Date", a_date, required=True),
        Field("Amount", positive_amount, required=True),
        Field("Reference", text(255)),
        Field("CurrencyRate", positive_amount),
        Field("IsReconciled", boolean),
    ),
    required_one_of=(("Invoice", "CreditNote"),),
    extra=(_one_document,),
)
PAYMENT_DELETE = Schema("delete payment", (Field("PaymentID", guid, required=True),))
QUOTE_CREATE = Schema(
    "create quote",
    (
        Field("Contact", _CONTACT_REF, required=True),
        Field("Date", a_date, required=True),
        Field("ExpiryDate", a_date),
        Field("Status", one_of("DRAFT", "SENT")),
        Field("Title", text(100)),
        Field("Summary", text(3000)),
        Field("QuoteNumber", text(255)),
        Field("Reference", text(4000)),
        Field("LineAmountTypes", one_of(*LINE_AMOUNT_TYPES)),
        Field("CurrencyCode", currency),
    ),
    line_items=True,
)
QUOTE_UPDATE = Schema(
    "update quote",
    (
        Field("QuoteID", guid, required=True),
        Field("Contact", _CONTACT_REF),
        Field("Date", a_date),
        Field("ExpiryDate", a_date),
        Field("Status", one_of(*QUOTE_STATUSES)),
        Field("Title", text(100)),
        Field("Summary", text(3000)),
        Field("LineAmountTypes", one_of(*LINE_AMOUNT_TYPES)),
    ),
)
PURCHASE_ORDER_CREATE = Schema(
    "create purchase order",
    (
        Field("Contact", _CONTACT_REF, required=True),
        Field("Date", a_date),
        Field("DeliveryDate", a_date),
        Field("Status", one_of(*PURCHASE_ORDER_STATUSES)),
        Field("Reference", text(255)),
        Field("PurchaseOrderNumber", text(255)),
        Field("LineAmountTypes", one_of(*LINE_AMOUNT_TYPES)),
        Field("CurrencyCode", currency),
    ),
    line_items=True,
)
ALLOCATION = Schema(
    "allocate credit note",
    (
        Field("CreditNoteID", guid, required=True),
        Field("Invoice", _INVOICE_REF, required=True),
        Field("Amount", positive_amount, required=True),
        Field("Date", a_date, required=True),
    ),
)
INVOICE_EMAIL = Schema("email invoice", (Field("InvoiceID", guid, required=True),))


def history_note(id_field: str) -> Schema:
    return Schema(
        "history note",
        (
            Field(id_field, guid, required=True),
            Field("Details", text(HISTORY_DETAILS_MAX), required=True),
        ),
    )


def id_update(id_field: str, number_field: str | None) -> Schema:
    """Any update: the record names its ID (a GUID) or its number."""
    fields: tuple[Field, ...] = (Field(id_field, guid),)
    groups: tuple[tuple[str, ...], ...] = ((id_field,),)
    if number_field:
        fields += (Field(number_field, text(255)),)
        groups = ((id_field, number_field),)
    return Schema("update", fields, required_one_of=groups)


# --- rules that need Xero's current data ------------------------------------------------


def editable_status_problems(
    records: list[Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    *,
    id_field: str,
    status_field: str,
    editable: tuple[str, ...],
    kind: str,
) -> list[RecordProblem]:
    """An update of a record whose current status Xero no longer lets change (a sent quote).

    Xero's own MCP server says a quote update "only works on draft quotes"
    (glama.ai/mcp/servers/XeroAPI/xero-mcp-server/tools/update-quote).
    """
    problems = []
    for index, record in enumerate(records):
        record_id = record.get(id_field) if isinstance(record, Mapping) else None
        found = current.get(str(record_id).lower()) if record_id else None
        if found is None:
            continue
        status = found.get(status_field)
        if status not in editable:
            problems.append(
                RecordProblem(
                    f"{kind} {record_id} is {status}; Xero only updates it while "
                    f"{' or '.join(editable)}",
                    index,
                    record_id,
                    status_field,
                )
            )
    return problems


def payment_problems(
    records: list[Mapping[str, Any]], invoices: Mapping[str, Mapping[str, Any]]
) -> list[RecordProblem]:
    """Payments above what the invoice has due, alone or together, or on an invoice that is
    not AUTHORISED.

    Xero: "Amount ... must be less than or equal to the outstanding amount" and payments
    apply only to AUTHORISED invoices (developer.xero.com/documentation/api/accounting/
    payments). Xero checks each payment as it applies it, so two payments of 100 on 115 due
    would write the first and refuse the second: the batch is summed per invoice here,
    before any write, and each payment that takes the sum over is refused naming the
    others. ``invoices`` maps lower-case InvoiceID to the invoice Xero returned; an
    ``AmountDue`` given inside the record's ``Invoice`` is used when Xero's is not known.
    """
    problems = []
    taken: dict[str, list[tuple[int, Decimal]]] = {}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping) or not isinstance(record.get("Invoice"), Mapping):
            continue
        ref = record["Invoice"]
        invoice_id = ref.get("InvoiceID")
        known = invoices.get(str(invoice_id).lower()) if invoice_id else None
        due = _decimal((known or ref).get("AmountDue"))
        status = (known or {}).get("Status")
        if status is not None and status != "AUTHORISED":
            problems.append(
                RecordProblem(
                    f"invoice {invoice_id} is {status}; payments apply only to AUTHORISED invoices",
                    index,
                    invoice_id,
                    "Invoice",
                )
            )
            continue
        amount = _decimal(record.get("Amount"))
        if due is None or amount is None:
            continue
        before = taken.setdefault(str(invoice_id or ref.get("InvoiceNumber")).lower(), [])
        problem = _over(amount, due, before, f"due on invoice {invoice_id}", "payment")
        if problem:
            problems.append(RecordProblem(problem, index, invoice_id, "Amount"))
        else:
            before.append((index, amount))
    return problems


def _over(
    amount: Decimal, limit: Decimal, before: list[tuple[int, Decimal]], what: str, noun: str
) -> str | None:
    """Why ``amount`` does not fit ``limit`` after the batch's earlier ``before``, or None."""
    total = sum((a for _, a in before), Decimal(0)) + amount
    if total <= limit:
        return None
    if not before:
        return f"{amount} is more than the {limit} {what}"
    others = ", ".join(f"records[{i}] ({a})" for i, a in before)
    return (
        f"{amount} with this batch's earlier {noun}(s) {others} makes {total}, more than "
        f"the {limit} {what}"
    )


def allocation_problems(
    records: list[Mapping[str, Any]],
    credit_notes: Mapping[str, Mapping[str, Any]],
    invoices: Mapping[str, Mapping[str, Any]],
) -> list[RecordProblem]:
    """Allocations whose sum exceeds a credit note's remaining credit or an invoice's
    amount due, or from a credit note that is not AUTHORISED.

    Xero's credit notes docs: an allocation may exceed neither the credit note's
    ``RemainingCredit`` nor the invoice's ``AmountDue``, and only AUTHORISED credit notes
    allocate (developer.xero.com/documentation/api/accounting/creditnotes, "Allocating
    credit notes"). Each allocation is its own call, so a batch is summed here before any.
    """
    problems = []
    from_credit: dict[str, list[tuple[int, Decimal]]] = {}
    to_invoice: dict[str, list[tuple[int, Decimal]]] = {}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            continue
        note_id = str(record.get("CreditNoteID") or "")
        note = credit_notes.get(note_id.lower())
        amount = _decimal(record.get("Amount"))
        if note is None or amount is None:
            continue
        if note.get("Status") not in (None, "AUTHORISED"):
            problems.append(
                RecordProblem(
                    f"credit note {note_id} is {note.get('Status')}; only AUTHORISED credit "
                    "notes can be allocated",
                    index,
                    note_id,
                    "CreditNoteID",
                )
            )
            continue
        credit = _decimal(note.get("RemainingCredit"))
        before = from_credit.setdefault(note_id.lower(), [])
        why = None
        if credit is not None:
            why = _over(
                amount, credit, before, f"credit left on credit note {note_id}", "allocation"
            )
        ref = record.get("Invoice") if isinstance(record.get("Invoice"), Mapping) else {}
        invoice_id = str(ref.get("InvoiceID") or "")
        invoice = invoices.get(invoice_id.lower()) if invoice_id else None
        due = _decimal(invoice.get("AmountDue")) if invoice else None
        on_invoice = to_invoice.setdefault(invoice_id.lower(), [])
        if why is None and due is not None:
            why = _over(amount, due, on_invoice, f"due on invoice {invoice_id}", "allocation")
        if why:
            problems.append(RecordProblem(why, index, note_id, "Amount"))
            continue
        before.append((index, amount))
        if invoice_id:
            on_invoice.append((index, amount))
    return problems
