"""Quotes: sales quotes that never post to the ledger, numbered QU-0001 and up.

What is emulated, and on what evidence (Xero does not publish a quote status table):

* Status transitions. Verified against a live organisation by XeroAPI/xero-mcp-server
  PR #309: DRAFT->SENT, SENT->ACCEPTED, SENT->DECLINED and ACCEPTED->SENT work;
  DRAFT->DECLINED and ACCEPTED->DECLINED are refused. We also allow DRAFT->DELETED,
  SENT->DELETED, SENT->DRAFT and ACCEPTED->INVOICED (the documented life cycle);
  DECLINED, INVOICED and DELETED are terminal. Anything else is refused.
* Edits. Xero's own MCP server says quote updates "only work on draft quotes": the
  contact, lines, dates, currency and tax mode change only while DRAFT. A quote in
  another status accepts a status change and the descriptive texts.
* Xero clears the descriptive texts (Reference, Terms, Title, Summary) that an
  update omits, while omitted LineItems are left alone (same PR #309), and Xero's
  own tools always resend Contact and Date on update, so both are required on
  every POST that edits a quote.
* ``LineAmountTypes`` is rendered in the Quote enum's upper case (EXCLUSIVE,
  INCLUSIVE, NOTAX), unlike invoices; any case is accepted on write.
* Quotes take a ContactID of an existing contact: unlike invoices they never
  create a contact from a Name.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from xero_sandbox.accounting import contacts
from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    add_date_strings,
    clone,
    date_field,
    get_field,
    normalise_keys,
    to_wire,
)
from xero_sandbox.accounting.documents import (
    apply_totals,
    generated_lines,
    line_amount_types,
    parse_line_items,
    restore_rates,
)
from xero_sandbox.accounting.lifecycle import QUOTE, document_currency, total_discount
from xero_sandbox.accounting.lifecycle import next_free_number as lifecycle_next_number
from xero_sandbox.dates import DateParseError, parse_date
from xero_sandbox.errors import ApiException, ValidationException
from xero_sandbox.organisation import Organisation, new_id

# Texts Xero clears when an update omits them.
DESCRIPTIVE_LIMITS = {"Reference": 4000, "Terms": 4000, "Title": 100, "Summary": 3000}
_FIELDS = [
    "QuoteID",
    "QuoteNumber",
    "Reference",
    "Terms",
    "Contact",
    "LineItems",
    "Date",
    "ExpiryDate",
    "Status",
    "CurrencyCode",
    "CurrencyRate",
    "Title",
    "Summary",
    "BrandingThemeID",
    "LineAmountTypes",
]
# Changeable only while DRAFT (compared with the stored value, so resending is fine).
_DRAFT_ONLY = ("Contact", "Date", "ExpiryDate", "CurrencyCode", "LineAmountTypes", "LineItems")
# For given_number: the resource, its number field, and what one is called.
_NUMBERING = ("Quotes", "QuoteNumber", "quote")


# --- helpers shared with purchase orders -------------------------------------------------


def existing_contact(
    org: Organisation, data: Any, errors: list[str], *, require_id: bool, document: str
) -> dict[str, Any] | None:
    """The contact a document names, which must already exist (no contact on the fly)."""
    if require_id and not (isinstance(data, dict) and get_field(data, "ContactID")):
        errors.append(f"A Contact with a ContactID must be specified for a {document}.")
        return None
    found = contacts.contact_reference(org, data, errors)
    if found is not None and "_new_name" in found:
        errors.append(
            f"The contact '{found['_new_name']}' does not exist: a {document} must name an "
            "existing contact."
        )
        return None
    return found


def currency_code(
    org: Organisation, value: Any, errors: list[str], default: str | None = None
) -> str:
    """The document currency (the one lifecycle's rule, kept under its old name)."""
    return document_currency(org, value, errors, default)


def document_lines(org: Organisation, lines: Any, errors: list[str], *, sales: bool) -> list:
    """Parse the lines of a non-ledger document (quote, purchase order): no account needed."""
    return parse_line_items(org, lines, errors, require_account=False, sales=sales)


def set_totals(
    org: Organisation, document: dict[str, Any], lines: list | None, amount_types: str
) -> None:
    """Totals and TotalDiscount from ``lines``, or from the stored lines when none came."""
    if lines is None:
        lines = restore_rates(org, document["LineItems"])
    apply_totals(document, lines, amount_types)
    document["TotalDiscount"] = total_discount(document["LineItems"])


def finish_document(
    org: Organisation,
    document: dict[str, Any],
    data: dict[str, Any],
    lines: list | None,
    amount_types: str,
) -> dict[str, Any]:
    """What every quote and purchase order write ends with: the branding theme, the totals."""
    if data.get("BrandingThemeID"):
        document["BrandingThemeID"] = str(data["BrandingThemeID"])
    set_totals(org, document, lines, amount_types)
    return document


def document_texts(data: dict[str, Any], limits: dict[str, int | None], errors: list[str]) -> dict:
    """The free texts given (as strings), with a message for each over its limit."""
    found = {}
    for key, limit in limits.items():
        value = data.get(key)
        if value is None:
            continue
        text = str(value)
        if limit is not None and len(text) > limit:
            errors.append(f"{key} must be {limit} characters or less.")
        found[key] = text
    return found


def generated_draft(ctx: WriteContext, id_field: str, number_field: str, number: str) -> dict:
    """The head of a DRAFT quote or purchase order for bulk seeding (benchmarks)."""
    contact = next(iter(ctx.org.table("Contacts").values()), None)
    return {
        id_field: new_id(),
        number_field: number,
        "Contact": {"ContactID": contact["ContactID"] if contact else new_id()},
        "Date": ctx.now.date(),
        "Status": "DRAFT",
        "CurrencyCode": ctx.org.base_currency,
        "CurrencyRate": Decimal("1"),
    }


def render_contact(org: Organisation, reference: dict[str, Any] | None) -> dict[str, Any]:
    """The embedded contact as it is now (name changes show on old documents, as in Xero)."""
    contact_id = (reference or {}).get("ContactID")
    record = org.get("Contacts", contact_id) if contact_id else None
    return contacts.summary(record or {"ContactID": contact_id})


def number_in_use(
    org: Organisation, resource: str, field_name: str, number: str, own_id: str | None
) -> bool:
    wanted = number.strip().lower()
    for other in org.table(resource).values():
        if own_id and str(other.get(f"{resource[:-1]}ID", "")).lower() == own_id.lower():
            continue
        value = other.get(field_name)
        if isinstance(value, str) and value.strip().lower() == wanted:
            return True
    return False


def check_number(
    org: Organisation,
    resource: str,
    field_name: str,
    noun: str,
    number: str,
    own_id: str | None,
    errors: list[str],
) -> None:
    """Record why a document number given by hand can't be used, if it can't."""
    if len(number) > 255:
        errors.append(f"{field_name} must be 255 characters or less.")
    elif number_in_use(org, resource, field_name, number, own_id):
        errors.append(f"The {field_name} '{number}' is already used by another {noun}.")


def given_number(
    org: Organisation,
    numbering: tuple[str, str, str],
    data: dict[str, Any],
    errors: list[str],
    record: dict[str, Any] | None = None,
) -> str | None:
    """The document number given by hand, stripped and checked; None when none was given.

    ``numbering`` is (resource, number field, noun). On an update (``record``), resending
    the document's own number is no clash.
    """
    resource, field_name, noun = numbering
    raw = data.get(field_name)
    if raw in (None, ""):
        return None
    number = str(raw).strip()
    if record is None:
        check_number(org, resource, field_name, noun, number, None, errors)
    elif number != record[field_name]:
        own_id = record[f"{resource[:-1]}ID"]
        check_number(org, resource, field_name, noun, number, own_id, errors)
    return number


def next_free_number(org: Organisation, resource: str, field_name: str, prefix: str) -> str:
    """The next number in the organisation's sequence, skipping numbers typed by hand."""
    return lifecycle_next_number(
        org, resource, prefix, lambda n: number_in_use(org, resource, field_name, n, None)
    )


def date_filters(
    records: list[dict[str, Any]], query: dict[str, str], ranges: dict[str, tuple[str, str]]
) -> list[dict[str, Any]]:
    """Apply ``DateFrom``-style inclusive range parameters to date-only fields.

    ``ranges`` maps a parameter to (record field, "from" | "to"). Unknown parameters are
    ignored; a value that is not a date is a QueryParseException, as Xero answers.
    """
    lowered = {k.lower(): v for k, v in query.items()}
    for param, (field_name, side) in ranges.items():
        raw = lowered.get(param.lower())
        if raw in (None, ""):
            continue
        try:
            bound = parse_date(raw)
        except DateParseError:
            raise ApiException(
                "QueryParseException", f"'{raw}' is not a valid date for {param}."
            ) from None
        kept = []
        for record in records:
            value = record.get(field_name)
            if not isinstance(value, date):
                continue
            if (side == "from" and value >= bound) or (side == "to" and value <= bound):
                kept.append(record)
        records = kept
    return records


# --- quotes ------------------------------------------------------------------------------


class QuoteRules(ResourceRules):
    """Quotes (``/Quotes``): DRAFT edits, a constrained status flow, no ``where``."""

    name = "Quotes"
    paged_lines = "LineItems"
    id_field = "QuoteID"
    number_field = None  # Xero has no GET /Quotes/{QuoteNumber}; filter with ?QuoteNumber=
    scope = "transactions"
    granular_scope = "accounting.invoices"
    paging = "page"
    supports_where = False
    list_filters = {
        "ContactID": "Contact.ContactID",
        "Status": "Status",
        "QuoteNumber": "QuoteNumber",
    }

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, _FIELDS)
        org = ctx.org
        errors: list[str] = []
        contact = existing_contact(
            org, data.get("Contact"), errors, require_id=True, document="quote"
        )
        when = date_field(data.get("Date"), "Date", errors)
        if when is None and data.get("Date") in (None, ""):
            errors.append("Date must be specified for a quote.")
        expiry = date_field(data.get("ExpiryDate"), "ExpiryDate", errors)
        status = QUOTE.initial(data.get("Status"), errors)
        if not data.get("LineItems"):
            errors.append("LineItems must be specified: a quote needs at least one line item.")
        amount_types = line_amount_types(data.get("LineAmountTypes"), errors)
        lines = document_lines(org, data.get("LineItems"), errors, sales=True)
        currency = currency_code(org, data.get("CurrencyCode"), errors)
        texts = document_texts(data, DESCRIPTIVE_LIMITS, errors)
        number = given_number(org, _NUMBERING, data, errors)
        if errors:
            raise ValidationException(errors, data)
        record: dict[str, Any] = {
            "QuoteID": new_id(),
            "QuoteNumber": number or next_free_number(org, "Quotes", "QuoteNumber", "QU-"),
            "Contact": {"ContactID": contact["ContactID"]},
            "Date": when,
            "Status": status,
            "CurrencyCode": currency,
            "CurrencyRate": Decimal("1"),
            **texts,
        }
        if expiry:
            record["ExpiryDate"] = expiry
        return finish_document(org, record, data, lines, amount_types)

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        data = normalise_keys(data, _FIELDS)
        org = ctx.org
        errors: list[str] = []
        current = record["Status"]
        status = QUOTE.target(current, data.get("Status"), errors)
        if current in ("INVOICED", "DELETED") and not errors:
            errors.append(f"A quote with the status {current} cannot be updated.")
        number = given_number(org, _NUMBERING, data, errors, record)
        if not isinstance(data.get("Contact"), dict):
            errors.append("Contact must be specified when updating a quote.")
            contact = None
        else:
            contact = existing_contact(
                org, data["Contact"], errors, require_id=True, document="quote"
            )
        when = date_field(data.get("Date"), "Date", errors)
        if data.get("Date") in (None, ""):
            errors.append("Date must be specified when updating a quote.")
        expiry = date_field(data.get("ExpiryDate"), "ExpiryDate", errors)
        amount_types = line_amount_types(
            data.get("LineAmountTypes"), errors, record["LineAmountTypes"]
        )
        currency = currency_code(org, data.get("CurrencyCode"), errors, record["CurrencyCode"])
        lines = None
        if "LineItems" in data:
            if not data["LineItems"]:
                errors.append("LineItems must be specified: a quote needs at least one line item.")
            lines = document_lines(org, data["LineItems"], errors, sales=True)
        texts = document_texts(data, DESCRIPTIVE_LIMITS, errors)
        if not errors and current != "DRAFT":
            errors.extend(
                self._draft_only_changes(
                    record, data, contact, when, expiry, currency, amount_types, current
                )
            )
        if errors:
            raise ValidationException(errors, data)
        updated = clone(record)
        updated["Status"] = status
        updated["Contact"] = {"ContactID": contact["ContactID"]}
        updated["Date"] = when
        updated["CurrencyCode"] = currency
        if number is not None:
            updated["QuoteNumber"] = number
        if "ExpiryDate" in data:
            if expiry:
                updated["ExpiryDate"] = expiry
            else:
                updated.pop("ExpiryDate", None)
        for key in DESCRIPTIVE_LIMITS:  # omitted texts are cleared, as Xero does
            if texts.get(key) is not None:
                updated[key] = texts[key]
            else:
                updated.pop(key, None)
        return finish_document(org, updated, data, lines, amount_types)

    @staticmethod
    def _draft_only_changes(
        record: dict[str, Any],
        data: dict[str, Any],
        contact: dict[str, Any] | None,
        when: date | None,
        expiry: date | None,
        currency: str,
        amount_types: str,
        status: str,
    ) -> list[str]:
        """Messages for each DRAFT-only field the update would change on a non-DRAFT quote."""
        changed = []
        if contact and contact["ContactID"].lower() != record["Contact"]["ContactID"].lower():
            changed.append("Contact")
        if when != record["Date"]:
            changed.append("Date")
        if "ExpiryDate" in data and expiry != record.get("ExpiryDate"):
            changed.append("ExpiryDate")
        if currency != record["CurrencyCode"]:
            changed.append("CurrencyCode")
        if amount_types != record["LineAmountTypes"]:
            changed.append("LineAmountTypes")
        if "LineItems" in data:
            changed.append("LineItems")
        return [
            f"Quote can only be updated when in DRAFT status: {name} cannot be changed on a "
            f"{status} quote."
            for name in _DRAFT_ONLY
            if name in changed
        ]

    def filter_list(self, records: list[dict[str, Any]], query: dict[str, str]) -> list:
        """DateFrom/DateTo and ExpiryDateFrom/ExpiryDateTo (inclusive), on internal records."""
        return date_filters(
            records,
            query,
            {
                "DateFrom": ("Date", "from"),
                "DateTo": ("Date", "to"),
                "ExpiryDateFrom": ("ExpiryDate", "from"),
                "ExpiryDateTo": ("ExpiryDate", "to"),
            },
        )

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        rendered = to_wire(record)
        rendered["Contact"] = render_contact(org, record.get("Contact"))
        rendered["LineAmountTypes"] = str(record.get("LineAmountTypes", "Exclusive")).upper()
        add_date_strings(rendered, record, "Date", "ExpiryDate")
        return rendered

    def history_label(self, record: dict[str, Any]) -> str:
        return "Quote"

    @staticmethod
    def generate(ctx: WriteContext, n: int) -> dict[str, Any]:
        """A valid DRAFT quote for bulk seeding (benchmarks); no validation."""
        return {
            **generated_draft(ctx, "QuoteID", "QuoteNumber", f"QU-G{n:06d}"),
            "Title": f"Generated quote {n}",
            **generated_lines(Decimal(100 + n % 900), "Generated line", "200", "OUTPUT2"),
            "TotalDiscount": Decimal("0"),
        }


RESOURCE_RULES: list[type[ResourceRules]] = [QuoteRules]
