"""The contract every resource's rules follow, and helpers they share.

A :class:`ResourceRules` subclass owns one Xero resource's business rules: what a
valid create or update looks like, which status changes are allowed, and how the
record renders on the wire. The generic service (``service.py``) does the rest:
routing, batching, ``summarizeErrors``, paging, filters, history.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from xero_sandbox.dates import DateParseError, date_to_ms, parse_date, to_date_string, to_ms_date
from xero_sandbox.errors import NotFound, ValidationException
from xero_sandbox.organisation import Organisation

Paging = Literal["full", "page", "none"]
CENT = Decimal("0.01")


@dataclass(frozen=True)
class WriteContext:
    """What a write knows besides its body: the org, the time, who is writing."""

    org: Organisation
    now: datetime
    user: str
    app_name: str
    client_id: str | None = None  # the calling app (``createdByMyApp``)


class ResourceRules:
    """Business rules and wire shape of one resource. Subclasses set the class attributes."""

    name: ClassVar[str]  # collection name, also the path segment: "Contacts"
    path: ClassVar[str | None] = None  # the path segment when it differs ("Organisation")
    singleton: ClassVar[bool] = False  # one record, rendered from the tenant (Organisation)
    # Sub-resource routes: (HTTP method, lower-case segment) -> name of a method with the
    # signature (ctx, record, body, extra_segments, query) -> service.Result.
    actions: ClassVar[dict[tuple[str, str], str]] = {}
    id_field: ClassVar[str]  # "ContactID"
    number_field: ClassVar[str | None] = None  # "InvoiceNumber": GET by number where Xero allows
    scope: ClassVar[str] = "transactions"  # broad scope family: contacts | transactions | settings
    granular_scope: ClassVar[str | None] = None  # e.g. "accounting.invoices"
    paging: ClassVar[Paging] = "full"  # full: page+pageSize; page: page only; none
    supports_where: ClassVar[bool] = True
    supports_history: ClassVar[bool] = True
    supports_put: ClassVar[bool] = True
    supports_post: ClassVar[bool] = True
    updated_field: ClassVar[str | None] = "UpdatedDateUTC"
    # The flag a rejected element carries: documents say HasErrors, others
    # HasValidationErrors (Xero-Java issue 171; Xero-NetStandard issue 156).
    error_flag: ClassVar[str] = "HasValidationErrors"
    default_order: ClassVar[str | None] = None
    # Query parameters that filter a list: name -> record field they match (comma lists).
    list_filters: ClassVar[dict[str, str]] = {}
    # ``searchTerm``: a case-insensitive text search across these fields (spec, per endpoint).
    search_fields: ClassVar[tuple[str, ...]] = ()
    # ``createdByMyApp=true`` keeps only records the calling app created (spec: Invoices).
    supports_created_by_my_app: ClassVar[bool] = False
    # ``summaryOnly=true`` drops these heavy fields from each listed record.
    summary_drops: ClassVar[tuple[str, ...]] = ()
    # The line collection a list shows only with ``page`` (spec: "Up to 100 invoices will
    # be returned in a single API call with line items shown for each invoice").
    paged_lines: ClassVar[str | None] = None
    # In a high-volume organisation only these where fields and order fields are allowed
    # (None: the resource has no published list, so nothing is refused).
    optimised_where: ClassVar[tuple[str, ...] | None] = None
    optimised_order: ClassVar[tuple[str, ...] | None] = None

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        """Validate ``data`` and return the new internal record (not yet stored)."""
        raise ValidationException([f"{self.name} cannot be created through this API"], data)

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate ``data`` against ``record`` and return the updated copy (not yet stored)."""
        raise ValidationException([f"{self.name} cannot be updated through this API"], data)

    def after_write(self, ctx: WriteContext, record: dict[str, Any], created: bool) -> None:
        """Side effects on other records once ``record`` is stored (e.g. payments on invoices)."""

    def delete(self, ctx: WriteContext, record: dict[str, Any]) -> Any:
        """``DELETE /{Resource}/{id}`` (a service Result); resources Xero lets you delete
        override this."""
        raise NotFound()

    def filter_list(self, records: list[dict[str, Any]], params: dict[str, str]) -> list:
        """Filters beyond ``list_filters`` (date ranges, ``offset``); none by default."""
        return records

    def generate(self, ctx: WriteContext, n: int) -> dict[str, Any]:
        """A valid record made without per-call validation (``/__sandbox/generate``)."""
        raise NotImplementedError(f"{self.name} cannot be generated")

    def find_existing(self, org: Organisation, data: dict[str, Any]) -> dict[str, Any] | None:
        """For POST (create-or-update): the record ``data`` names by ID or number, if any."""
        record_id = get_field(data, self.id_field)
        if record_id:
            return org.get(self.name, str(record_id))
        if self.number_field and get_field(data, self.number_field):
            return find_by_number(org, self, str(get_field(data, self.number_field)))
        return None

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        """The record as Xero sends it. Override to add derived or referenced fields."""
        return to_wire(record)

    def get_one(
        self, org: Organisation, key: str, query: dict[str, str], now: datetime
    ) -> dict[str, Any] | None:
        """A record computed for ``GET /{Resource}/{key}`` (reports), or None for the
        usual lookup by ID or number."""
        return None

    def granular_for(self, segments: list[str]) -> str | None:
        """The granular scope a request needs (per report for ``/Reports/{Name}``)."""
        return self.granular_scope

    def stored(self, org: Organisation) -> Iterable[dict[str, Any]]:
        """Every record of this resource (a view over other tables may override this)."""
        return org.table(self.name).values()

    def find(self, org: Organisation, key: str) -> dict[str, Any] | None:
        """One record by ID (a view over other tables may override this)."""
        return org.get(self.name, key)

    def history_label(self, record: dict[str, Any]) -> str:
        return self.name[:-1] if self.name.endswith("s") else self.name

    def is_archived(self, record: dict[str, Any]) -> bool:
        """Records hidden from lists unless ``includeArchived=true``."""
        return False


def get_field(data: dict[str, Any], name: str) -> Any:
    """Read a field case-insensitively (Xero accepts ``contactID`` as well as ``ContactID``)."""
    if name in data:
        return data[name]
    lowered = name.lower()
    for key, value in data.items():
        if key.lower() == lowered:
            return value
    return None


def normalise_keys(data: dict[str, Any], known: list[str]) -> dict[str, Any]:
    """Return ``data`` with any key matching a known field case-insensitively renamed to it."""
    canonical = {k.lower(): k for k in known}
    return {canonical.get(k.lower(), k): v for k, v in data.items()}


def find_by_number(org: Organisation, rules: ResourceRules, number: str) -> dict[str, Any] | None:
    if not rules.number_field:
        return None
    wanted = number.lower()
    for record in org.table(rules.name).values():
        value = record.get(rules.number_field)
        if isinstance(value, str) and value.lower() == wanted:
            return record
    return None


def to_wire(value: Any) -> Any:
    """Convert internal values to Xero's JSON: datetimes to ``/Date()/``, Decimals to numbers."""
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    if isinstance(value, datetime):
        return to_ms_date(value)
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat") and hasattr(value, "year"):  # a date
        return date_to_ms(value)
    return value


def add_date_strings(rendered: dict[str, Any], record: dict[str, Any], *names: str) -> None:
    """Xero sends ``<Field>String`` (``2026-01-31T00:00:00``) beside each date-only field."""
    for name in names:
        value = record.get(name)
        if isinstance(value, date):
            rendered[f"{name}String"] = to_date_string(value)


def query_flag(query: dict[str, str] | None, name: str, default: bool) -> bool:
    """A true/false query parameter (name case-insensitive): true, 1 or yes are true."""
    for key, value in (query or {}).items():
        if key.lower() == name.lower():
            return str(value).strip().lower() in ("true", "1", "yes")
    return default


def money(value: Any, field_name: str, errors: list[str], *, default: Decimal | None = None):
    """Parse an amount as a Decimal, recording a Xero-style message when it is not a number."""
    if value is None or value == "":
        return default
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.append(f"{field_name} must be a number.")
        return default
    if not amount.is_finite():
        errors.append(f"{field_name} must be a number.")
        return default
    return amount


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def date_field(value: Any, field_name: str, errors: list[str]) -> date | None:
    """Parse a date-only field or record a message naming it."""
    if value in (None, ""):
        return None
    try:
        return parse_date(value)
    except DateParseError:
        errors.append(f"{field_name} '{value}' is not a valid date.")
        return None


def enum_field(value: Any, field_name: str, allowed: tuple[str, ...], errors: list[str]) -> Any:
    """Uppercase an enum value and check it, naming the allowed values when it is wrong."""
    if value is None:
        return None
    text = str(value).upper()
    if text not in allowed:
        errors.append(f"{field_name} '{value}' is not valid. Allowed values: {', '.join(allowed)}.")
        return None
    return text


def clone(record: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(record)
