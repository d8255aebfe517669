"""What invoices and credit notes share: one document life cycle, and money moving on it.

Both are "ledger documents": a Type that picks the side (sales or purchases), a contact,
lines that post to accounts, a status that only moves along Xero's transitions, and an
outstanding balance (``AmountDue`` / ``RemainingCredit``) that payments and allocations
reduce. Keeping the rules here means an invoice and a credit note refuse the same
things with the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from xero_sandbox.accounting import contacts, documents
from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    add_date_strings,
    clone,
    date_field,
    enum_field,
    get_field,
    money,
    normalise_keys,
    round_money,
    to_wire,
)
from xero_sandbox.accounting.lifecycle import (
    Lifecycle,
    document_currency,
    ledger_lifecycle,
    next_free_number,
    total_discount,
)
from xero_sandbox.dates import to_iso_z
from xero_sandbox.errors import ValidationException
from xero_sandbox.organisation import Organisation

ZERO = Decimal("0")
# Statuses whose lines post to the ledger, so Xero insists on complete lines.
POSTING = ("SUBMITTED", "AUTHORISED")
# Fields that may still change on an AUTHORISED document with payments or allocations.
EDITABLE_WITH_MONEY = frozenset(
    {
        "Reference",
        "DueDate",
        "ExpectedPaymentDate",
        "PlannedPaymentDate",
        "SentToContact",
        "BrandingThemeID",
        "Url",
    }
)
_LINE_KEYS = (
    "Description",
    "Quantity",
    "UnitAmount",
    "ItemCode",
    "AccountCode",
    "TaxType",
    "DiscountRate",
    "LineAmount",
    "TaxAmount",
)


class LedgerDocumentRules(ResourceRules):
    """Create/update/render for a document with lines, a contact and a balance."""

    error_flag = "HasErrors"

    @property
    def lifecycle(self) -> Lifecycle:
        """Statuses and transitions shared by every ledger document (label differs)."""
        return ledger_lifecycle(self.label)

    label: ClassVar[str]  # "Invoice", "Credit Note": starts Xero's status messages
    types: ClassVar[tuple[str, ...]]  # Type values a client may write
    numbered_type: ClassVar[str]  # the sales type: auto-numbered, number unique
    supplier_types: ClassVar[tuple[str, ...]]  # types that make the contact a supplier
    number_prefix: ClassVar[str]  # "INV-", "CN-"
    sequence: ClassVar[str]  # org counter name for the auto numbers
    outstanding_field: ClassVar[str]  # "AmountDue", "RemainingCredit"
    payment_noun: ClassVar[str]  # "Payment", "Refund": what its history calls a payment

    # --- hooks for the subclasses ----------------------------------------------------

    def new_record(self) -> dict[str, Any]:
        """The money fields a new document starts with."""
        raise NotImplementedError

    def refresh_balances(self, record: dict[str, Any]) -> Decimal:
        """Recompute the balance fields from the money lists; return what is outstanding."""
        raise NotImplementedError

    def has_money(self, record: dict[str, Any]) -> bool:
        """True once a payment or allocation touches the document."""
        raise NotImplementedError

    # --- the generic rules -----------------------------------------------------------

    @property
    def fields(self) -> list[str]:
        return [
            self.id_field,
            str(self.number_field),
            "Type",
            "Contact",
            "LineItems",
            "Date",
            "DueDate",
            "LineAmountTypes",
            "Reference",
            "CurrencyCode",
            "CurrencyRate",
            "Status",
            "SentToContact",
            "ExpectedPaymentDate",
            "PlannedPaymentDate",
            "BrandingThemeID",
            "Url",
        ]

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        return self._build(ctx, None, data)

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        status = record["Status"]
        given = normalise_keys(data, self.fields)
        if status in self.lifecycle.terminal:
            if self._touches(record, given):
                raise ValidationException(
                    [f"{self.label} not of valid status for modification"], data
                )
            return clone(record)
        return self._build(ctx, record, data)

    def _touches(self, record: dict[str, Any], given: dict[str, Any]) -> bool:
        """Whether an update of a closed document asks for anything beyond naming it."""
        for key, value in given.items():
            if key in (self.id_field, self.number_field):
                continue
            if key in ("Type", "Status") and str(value or "").upper() == record.get(key):
                continue
            if key not in self.fields:
                continue  # read-only or unknown fields are ignored, as Xero does
            return True
        return False

    def _build(
        self, ctx: WriteContext, current: dict[str, Any] | None, raw: dict[str, Any]
    ) -> dict[str, Any]:
        org = ctx.org
        data = normalise_keys(raw, self.fields)
        creating = current is None
        errors: list[str] = []
        record = self.new_record() if creating else clone(current)

        type_ = self._type(data, current, errors)
        status, target = self._target_status(data, current, errors)
        contact_ref = None
        if creating or "Contact" in data:
            contact_ref = contacts.contact_reference(org, data.get("Contact"), errors)
            if contact_ref and contact_ref.get("ContactStatus") == "ARCHIVED":
                errors.append(
                    "The contact must be un-archived before creating new invoices or credit notes."
                )
        for field in ("Date", "DueDate", "ExpectedPaymentDate", "PlannedPaymentDate"):
            if field in data:
                parsed = date_field(data[field], field, errors)
                if parsed is not None:
                    record[field] = parsed
                elif data[field] in (None, "") and field != "Date":
                    record.pop(field, None)
        if creating and "Date" not in record:
            record["Date"] = ctx.now.date()

        amount_types = record.get("LineAmountTypes", "Exclusive")
        if "LineAmountTypes" in data:
            amount_types = documents.line_amount_types(data["LineAmountTypes"], errors)
        lines_changed = creating or "LineItems" in data or "LineAmountTypes" in data
        leaving_draft = target in POSTING and status not in POSTING
        lines: list[dict[str, Any]] | None = None
        if lines_changed or leaving_draft:
            source = data["LineItems"] if "LineItems" in data else _stored_lines(record)
            posting = target in POSTING
            lines = documents.parse_line_items(
                org,
                source,
                errors,
                require_account=posting,
                require_description=posting,
                sales=type_ in (self.numbered_type,),
            )
            if not lines and isinstance(source, (list, type(None))):
                # Even a DRAFT needs a line: Xero's invoice docs list Type, Contact and
                # LineItems as "required to create a draft invoice", and a DRAFT without
                # lines is refused with this message (XeroAPI/XeroAPI-Schemas issue 13).
                errors.append("One or more line items must be specified")

        number = self._number(org, data, record, type_, errors)
        currency = document_currency(
            org, data.get("CurrencyCode"), errors, record.get("CurrencyCode")
        )
        rate = money(data.get("CurrencyRate"), "CurrencyRate", errors)
        if rate is not None and rate <= 0:
            errors.append("CurrencyRate must be greater than zero.")
        reference = documents.reference_text(data, "Reference", 255, errors)
        sent = data.get("SentToContact")
        if sent is not None and not isinstance(sent, bool):
            errors.append("SentToContact must be true or false.")

        if errors:
            raise ValidationException(errors, raw)

        candidate = record
        candidate["Type"] = type_
        if lines is not None:
            documents.apply_totals(candidate, lines, amount_types)
            candidate["IsDiscounted"] = any(line.get("DiscountRate") for line in lines)
            candidate["TotalDiscount"] = total_discount(lines)
        if number is not None:
            candidate[self.number_field] = number
        candidate["CurrencyCode"] = currency
        if rate is not None:
            candidate["CurrencyRate"] = rate
        candidate.setdefault("CurrencyRate", Decimal("1"))
        if reference is not None:
            candidate["Reference"] = str(reference)
        if sent is not None:
            candidate["SentToContact"] = sent
        for field in ("BrandingThemeID", "Url"):
            if data.get(field):
                candidate[field] = str(data[field])
        if target in POSTING and candidate.get("Total", ZERO) < ZERO:
            raise ValidationException([f"The {self.label.lower()} total cannot be negative."], raw)

        if current is not None:
            self._check_update(current, candidate, contact_ref, raw)
        if contact_ref is not None:
            contact = contacts.materialise_contact(ctx, contact_ref)
            candidate["Contact"] = {"ContactID": contact["ContactID"]}
        candidate["Status"] = target
        outstanding = self.refresh_balances(candidate)
        settle_status(candidate, outstanding, candidate["Date"])
        return candidate

    def _type(self, data: dict, current: dict | None, errors: list[str]) -> str | None:
        given = data.get("Type")
        if current is None:
            if given in (None, ""):
                errors.append(
                    f"{self.label} Type must be specified. Allowed values: {', '.join(self.types)}."
                )
                return None
            return enum_field(given, "Type", self.types, errors)
        if given not in (None, "") and str(given).upper() != current["Type"]:
            errors.append(f"The Type of an existing {self.label.lower()} cannot be changed.")
        return current["Type"]

    def _target_status(
        self, data: dict, current: dict | None, errors: list[str]
    ) -> tuple[str, str]:
        """(current status, the status asked for), recording why a change is refused."""
        given = data.get("Status")
        if current is None:
            return "DRAFT", self.lifecycle.initial(given, errors)
        status = current["Status"]
        wanted = str(given).strip().upper() if given not in (None, "") else status
        noun = self.label.lower()
        if wanted == "PAID" and status != "PAID":
            errors.append(
                f"Status PAID cannot be set through the API: a {noun} becomes PAID when "
                "payments or allocations cover its total."
            )
            return status, status
        if wanted != status and self.has_money(current) and status == "AUTHORISED":
            errors.append(
                f"The status {wanted} cannot be applied to the {noun} because it has "
                "payments or credit notes allocated to it."
            )
            return status, status
        return status, self.lifecycle.target(status, given, errors)

    def _number(
        self, org: Organisation, data: dict, record: dict, type_: str | None, errors: list[str]
    ) -> str | None:
        """The document number to store, or None to keep the current one."""
        field = str(self.number_field)
        given = data.get(field)
        if given is not None and len(str(given)) > 255:
            errors.append(f"{field} must be 255 characters or less.")
            return None
        if type_ != self.numbered_type:
            if given is not None:
                return str(given).strip()
            return None if field in record else ""
        if given in (None, "") or not str(given).strip():
            if record.get(field):
                return None
            return self._next_free_number(org)
        number = str(given).strip()
        if self._number_taken(org, number, record.get(self.id_field)):
            errors.append(f"{self.label} # must be unique.")
        return number

    def _number_taken(self, org: Organisation, number: str, own_id: str | None) -> bool:
        wanted = number.lower()
        for other in org.table(self.name).values():
            if own_id and other[self.id_field].lower() == str(own_id).lower():
                continue
            if other.get("Type") != self.numbered_type or other.get("Status") == "DELETED":
                continue
            if str(other.get(self.number_field) or "").lower() == wanted:
                return True
        return False

    def _next_free_number(self, org: Organisation) -> str:
        return next_free_number(
            org, self.sequence, self.number_prefix, lambda n: self._number_taken(org, n, None)
        )

    def _check_update(
        self,
        current: dict[str, Any],
        candidate: dict[str, Any],
        contact_ref: dict[str, Any] | None,
        raw: dict[str, Any],
    ) -> None:
        """Refuse edits to the money of an AUTHORISED document that payments already touch."""
        if current["Status"] != "AUTHORISED" or not self.has_money(current):
            return
        current_contact = str((current.get("Contact") or {}).get("ContactID") or "").lower()
        contact_changed = contact_ref is not None and (
            str(contact_ref.get("ContactID") or "").lower() != current_contact
        )
        if contact_changed or _money_shape(current) != _money_shape(candidate):
            raise ValidationException(
                [
                    "This document cannot be edited as it has a payment or credit note "
                    "allocated to it."
                ],
                raw,
            )

    def after_write(self, ctx: WriteContext, record: dict[str, Any], created: bool) -> None:
        contact_id = (record.get("Contact") or {}).get("ContactID")
        contact = ctx.org.get("Contacts", contact_id) if contact_id else None
        if contact is not None:
            contacts.mark_role(ctx, contact, supplier=record["Type"] in self.supplier_types)

    def find_existing(self, org: Organisation, data: dict[str, Any]) -> dict[str, Any] | None:
        """By ID, or by number for the sales type only (purchase numbers are not unique)."""
        record_id = get_field(data, self.id_field)
        if record_id:
            return org.get(self.name, str(record_id))
        number = get_field(data, str(self.number_field))
        type_ = str(get_field(data, "Type") or self.numbered_type).upper()
        if not number or type_ != self.numbered_type:
            return None
        wanted = str(number).strip().lower()
        for record in org.table(self.name).values():
            if (
                record.get("Type") == self.numbered_type
                and record.get("Status") != "DELETED"
                and str(record.get(self.number_field) or "").lower() == wanted
            ):
                return record
        return None

    def history_label(self, record: dict[str, Any]) -> str:
        return self.label

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        contact_id = (record.get("Contact") or {}).get("ContactID")
        contact = org.get("Contacts", contact_id) if contact_id else None
        if contact is not None:
            out["Contact"] = contacts.summary(contact)
        add_date_strings(out, record, "Date", "DueDate")
        if record.get("UpdatedDateUTC") is not None:
            out["UpdatedDateUTCString"] = to_iso_z(record["UpdatedDateUTC"])
        return out

    # --- other records naming one, and money moving onto it ------------------------------

    @property
    def reference_key(self) -> str:
        """The key other records name one under: "Invoice", "CreditNote"."""
        return self.name[:-1]

    def find_reference(self, org: Organisation, reference: Any) -> dict[str, Any] | None:
        """A document named by ``{"<id_field>": ...}`` or ``{"<number_field>": ...}``."""
        if not isinstance(reference, dict):
            return None
        record_id = get_field(reference, self.id_field)
        if record_id:
            return org.get(self.name, str(record_id))
        number = get_field(reference, str(self.number_field))
        if not number:
            return None
        wanted = str(number).strip().lower()
        matches = [
            r
            for r in org.table(self.name).values()
            if str(r.get(self.number_field) or "").lower() == wanted
            and r.get("Status") != "DELETED"
        ]
        matches.sort(key=lambda r: r.get("Type") != self.numbered_type)  # sales numbers are unique
        return matches[0] if matches else None

    def payment_errors(self, document: dict[str, Any], amount: Decimal) -> list[str]:
        """Why ``amount`` can't be paid, refunded or credited onto ``document`` (empty if ok)."""
        if document["Status"] == "PAID":
            return ["Payment amount exceeds the amount outstanding on this document"]
        if document["Status"] != "AUTHORISED":
            return ["Payments can only be made against Authorised documents"]
        if amount > document.get(self.outstanding_field, ZERO):
            return ["Payment amount exceeds the amount outstanding on this document"]
        return []

    def add_money(
        self,
        ctx: WriteContext,
        document_id: str,
        document: dict[str, Any],
        amount: Decimal,
        key: str,
        entry: dict[str, Any],
        history: tuple[str, str],
    ) -> dict[str, Any]:
        """Append ``entry`` (``amount`` paid or credited) to the document's ``key`` list."""
        errors = self.payment_errors(document, amount)
        if errors:
            raise ValidationException(errors, {self.reference_key: {self.id_field: document_id}})
        when = entry.get("Date")
        return change_money(
            ctx,
            self,
            document_id,
            lambda doc: doc[key].append(entry),
            when=when if isinstance(when, date) else None,
            history=history,
        )

    def add_payment(
        self,
        ctx: WriteContext,
        document_id: str,
        document: dict[str, Any],
        amount: Decimal,
        payment_summary: dict[str, Any],
    ) -> dict[str, Any]:
        """Record a payment (a refund on a credit note); PAID when nothing is left."""
        return self.add_money(
            ctx,
            document_id,
            document,
            amount,
            "Payments",
            {**payment_summary, "Amount": amount},
            ("Payment", f"{self.payment_noun} of {amount_text(amount)} applied."),
        )

    def remove_payment(
        self, ctx: WriteContext, document_id: str, document: dict[str, Any], payment_id: str
    ) -> dict[str, Any]:
        """Take a deleted payment off a document; a PAID one reopens as AUTHORISED."""
        wanted = payment_id.lower()
        removed = [p for p in document.get("Payments") or [] if p["PaymentID"].lower() == wanted]

        def drop(doc: dict[str, Any]) -> None:
            doc["Payments"] = [p for p in doc["Payments"] if p["PaymentID"].lower() != wanted]

        amount = total_of(removed, "Amount")
        return change_money(
            ctx,
            self,
            document_id,
            drop,
            when=None,
            history=("Payment", f"{self.payment_noun} of {amount_text(amount)} deleted."),
        )


# --- money on documents ------------------------------------------------------------------


def settle_status(record: dict[str, Any], outstanding: Decimal, when: date | None) -> None:
    """PAID once nothing is outstanding on an AUTHORISED document; back when money leaves."""
    if record["Status"] == "AUTHORISED" and outstanding <= ZERO:
        record["Status"] = "PAID"
        record["FullyPaidOnDate"] = when or record.get("Date")
    elif record["Status"] == "PAID" and outstanding > ZERO:
        record["Status"] = "AUTHORISED"
        record.pop("FullyPaidOnDate", None)


def change_money(
    ctx: WriteContext,
    rules: LedgerDocumentRules,
    document_id: str,
    mutate: Callable[[dict[str, Any]], None],
    *,
    when: date | None,
    history: tuple[str, str],
) -> dict[str, Any]:
    """Apply a payment/allocation change to a stored document: balances, status, history."""
    current = ctx.org.get(rules.name, document_id)
    if current is None:
        raise ValidationException([f"The {rules.label.lower()} could not be found."], {})
    updated = clone(current)
    mutate(updated)
    outstanding = rules.refresh_balances(updated)
    settle_status(updated, outstanding, when)
    updated["UpdatedDateUTC"] = ctx.now
    ctx.org.put(rules.name, updated[rules.id_field], updated)
    changes, details = history
    ctx.org.add_history(
        updated[rules.id_field],
        {"Changes": changes, "DateUTC": ctx.now, "User": ctx.user, "Details": details},
    )
    return updated


def render_dated(entry: dict[str, Any]) -> dict[str, Any]:
    """A money entry (payment, credit, allocation) on the wire, with its ``DateString``."""
    out = to_wire(entry)
    add_date_strings(out, entry, "Date")
    return out


def total_of(entries: list[dict[str, Any]], field: str) -> Decimal:
    return round_money(sum((Decimal(str(e.get(field) or 0)) for e in entries), ZERO))


def amount_text(amount: Decimal) -> str:
    return f"{round_money(amount):,.2f}"


# --- helpers -----------------------------------------------------------------------------


def _stored_lines(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Stored lines as input again, so a status change re-validates them."""
    keep = ("LineItemID", *_LINE_KEYS, "AccountID", "Tracking")
    lines = []
    for line in record.get("LineItems") or []:
        raw = {k: line[k] for k in keep if line.get(k) is not None}
        raw.pop("LineAmount", None)
        if not line.get("_TaxOverridden"):
            raw.pop("TaxAmount", None)
        raw["_stored"] = True
        raw["_TaxOverridden"] = bool(line.get("_TaxOverridden"))
        lines.append(raw)
    return lines


def _money_shape(record: dict[str, Any]) -> tuple:
    """The parts of a document that move money, for spotting an edit."""
    lines = tuple(
        tuple(_same(line.get(k)) for k in _LINE_KEYS) for line in record.get("LineItems") or []
    )
    return (
        record.get("Date"),
        record.get("CurrencyCode"),
        _same(record.get("CurrencyRate")),
        record.get("LineAmountTypes"),
        _same(record.get("Total")),
        lines,
    )


def _same(value: Any) -> Any:
    """A comparable form: 1, 1.0 and 1.00 are the same amount."""
    if isinstance(value, Decimal):
        return value.normalize()
    return value
