"""Generic accounting operations driven by each resource's rules.

Reads (by ID or number, lists with filters, ``where``, ``order`` and paging), batch
writes with Xero's ``summarizeErrors`` semantics, and history notes. Nothing here
knows HTTP: the HTTP layer passes in plain values and renders what comes back.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    find_by_number,
    get_field,
    query_flag,
    to_wire,
)
from xero_sandbox.dates import (
    DateParseError,
    parse_datetime,
    to_iso_z,
    to_ms_date_plain,
)
from xero_sandbox.errors import (
    ApiException,
    ElementError,
    ElementsRejected,
    NotFound,
    ValidationException,
)
from xero_sandbox.organisation import Organisation, new_id
from xero_sandbox.where import WhereSyntaxError, compile_where, where_fields

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
HISTORY_DETAILS_MAX = 2500


@dataclass(frozen=True)
class Listing:
    """Records answered in Xero's envelope under ``key`` (``extra``: e.g. pagination)."""

    key: str
    records: list[Any]
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Single:
    """One object answered as it is, without the envelope (e.g. a deleted allocation)."""

    record: dict[str, Any]


@dataclass(frozen=True)
class NoContent:
    """Done, nothing to say (Xero answers 204)."""


@dataclass(frozen=True)
class FileContent:
    """A file: an attachment or a document as PDF."""

    content: bytes
    media_type: str


# What the backend answers; the HTTP layer (``responses.py``) picks status and wire shape.
Result = Listing | Single | NoContent | FileContent


@dataclass(frozen=True)
class ListQuery:
    """The list parameters Xero accepts, already parsed from the query string."""

    modified_since: datetime | None = None
    where: str | None = None
    order: str | None = None
    page: int | None = None
    page_size: int | None = None
    include_archived: bool = False
    filters: Mapping[str, list[str]] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)  # all query parameters, as sent
    client_id: str | None = None  # the calling app, for ``createdByMyApp``


def envelope(key: str, records: list[Any], app_name: str, now: datetime, **extra: Any) -> dict:
    """Xero's response envelope around a list of records (always a list, even for one)."""
    body: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": app_name,
        "DateTimeUTC": to_ms_date_plain(now),
    }
    body.update(extra)
    body[key] = records
    return body


# --- reads -------------------------------------------------------------------------------


def get_record(org: Organisation, rules: ResourceRules, key: str) -> dict[str, Any]:
    """A record by ID, or by number where Xero allows it; 404 otherwise."""
    record = rules.find(org, key)
    if record is None and rules.number_field:
        record = find_by_number(org, rules, key)
    if record is None:
        raise NotFound()
    return record


def list_records(org: Organisation, rules: ResourceRules, query: ListQuery) -> tuple[list, dict]:
    """Filter, order and page a resource's records; returns (rendered records, extra envelope)."""
    records: Iterable[dict[str, Any]] = rules.stored(org)
    if query.modified_since is not None and rules.updated_field:
        since = query.modified_since.replace(microsecond=0)
        records = [r for r in records if r[rules.updated_field] >= since]
    if not query.include_archived:
        records = [r for r in records if not rules.is_archived(r)]
    for param, values in query.filters.items():
        field_name = rules.list_filters[param]
        wanted = {v.strip().lower() for v in values if v.strip()}
        records = [r for r in records if str(_dig(r, field_name) or "").lower() in wanted]
    records = rules.filter_list(list(records), dict(query.params))
    params = {k.lower(): v for k, v in query.params.items()}
    if rules.supports_created_by_my_app and query_flag(params, "createdbymyapp", False):
        records = [r for r in records if r.get("_CreatedByApp") == query.client_id]
    term = params.get("searchterm", "").strip().lower() if rules.search_fields else ""
    if term:
        records = [r for r in records if _matches_term(r, rules.search_fields, term)]
    if org.high_volume:
        _require_optimised(rules, query)
    shape = _list_shape(rules, query, query_flag(params, "summaryonly", False))
    order = query.order or rules.default_order
    if not query.where and not order:  # page first, render only the page (large lists)
        page, extra = _page(list(records), rules, query)
        return [shape(rules.render(org, r)) for r in page], extra
    rendered = [shape(rules.render(org, r)) for r in records]
    if query.where:
        if not rules.supports_where:
            raise ApiException("QueryParseException", f"{rules.name} do not support 'where'.")
        try:
            predicate = compile_where(query.where)
        except WhereSyntaxError as exc:
            raise ApiException("QueryParseException", str(exc)) from None
        rendered = [r for r in rendered if predicate(r)]
    if order:
        rendered = _order(rendered, order)
    return _page(rendered, rules, query)


class InefficientQuery(ApiException):
    """400 from a very large organisation for a where/order Xero cannot optimise.

    Xero answers in plain text; the first sentence is quoted in XeroAPI/xero-php-oauth2-app
    issue 30 (for payments), the rest is the sandbox's pointer to the published list.
    """

    def __init__(self, resource: str, what: str) -> None:
        super().__init__(
            "QueryParseException",
            f"Your request is not filtering {resource.lower()} efficiently, given the extremely "
            f"high volume for this organisation. Please check the optimised filters and orders "
            f"for {resource} ({what} is not one of them).",
        )

    def body(self) -> Any:
        return self.message


def _require_optimised(rules: ResourceRules, query: ListQuery) -> None:
    if rules.optimised_where is not None and query.where:
        allowed = {f.lower() for f in rules.optimised_where}
        try:
            fields = where_fields(query.where)
        except WhereSyntaxError as exc:
            raise ApiException("QueryParseException", str(exc)) from None
        for name in fields:
            if name.lower() not in allowed:
                raise InefficientQuery(rules.name, f"where on '{name}'")
    if rules.optimised_order is not None and query.order:
        allowed = {f.lower() for f in rules.optimised_order}
        for clause in query.order.split(","):
            name = (clause.split() or [""])[0]
            if name and name.lower() not in allowed:
                raise InefficientQuery(rules.name, f"order by '{name}'")


def _matches_term(record: Mapping[str, Any], fields: tuple[str, ...], term: str) -> bool:
    """``searchTerm``: a case-insensitive substring of any of ``fields``."""
    return any(term in str(_dig(record, name) or "").lower() for name in fields)


def _list_shape(
    rules: ResourceRules, query: ListQuery, summary_only: bool
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What a list leaves out: lines without ``page``, heavy fields with ``summaryOnly``."""
    drops = set(rules.summary_drops) if summary_only else set()
    if rules.paged_lines and query.page is None:
        drops.add(rules.paged_lines)
    if not drops:
        return lambda rendered: rendered

    def shape(rendered: dict[str, Any]) -> dict[str, Any]:
        # A left-out collection is an empty list (the spec requires e.g. LineItems).
        return {
            k: ([] if isinstance(v, list) else v)
            for k, v in rendered.items()
            if k not in drops or isinstance(v, list)
        }

    return shape


def _dig(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = get_field(dict(value), part)
    return value


def _order(records: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
    """Apply ``Field [ASC|DESC], ...`` (stable sorts, last key first)."""
    for clause in reversed([c.strip() for c in order.split(",") if c.strip()]):
        parts = clause.split()
        if len(parts) > 2 or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")):
            raise ApiException("QueryParseException", f"Invalid order clause '{clause}'.")
        descending = len(parts) == 2 and parts[1].upper() == "DESC"
        path = parts[0]

        def sort_key(record: dict[str, Any], path: str = path) -> tuple:
            value = _sortable(_dig(record, path))
            return (value is None, value if value is not None else "")

        records = sorted(records, key=sort_key, reverse=descending)
    return records


def _sortable(value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith("/Date("):
            try:
                return parse_datetime(value).timestamp()
            except DateParseError:
                return value.lower()
        return value.lower()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    return None if value is None else str(value)


def _page(records: list, rules: ResourceRules, query: ListQuery) -> tuple[list, dict]:
    if rules.paging == "none" or query.page is None:
        return records, {}
    if query.page < 1:
        raise ApiException("QueryParseException", "page must be 1 or greater.")
    size = DEFAULT_PAGE_SIZE
    if rules.paging == "full" and query.page_size is not None:
        if query.page_size < 1:
            raise ApiException("QueryParseException", "pageSize must be 1 or greater.")
        size = min(query.page_size, MAX_PAGE_SIZE)
    start = (query.page - 1) * size
    pagination = {
        "page": query.page,
        "pageSize": size,
        "pageCount": math.ceil(len(records) / size) if records else 0,
        "itemCount": len(records),
    }
    return records[start : start + size], {"pagination": pagination}


# --- writes ------------------------------------------------------------------------------


def elements_of(name: str, body: Any) -> list[dict[str, Any]]:
    """The elements of a write body: ``{"Contacts": [...]}``, a bare list, or one object."""
    if isinstance(body, dict):
        wrapped = get_field(body, name)
        if isinstance(wrapped, list):
            items = wrapped
        elif isinstance(wrapped, dict):
            items = [wrapped]
        else:
            items = [body]
    elif isinstance(body, list):
        items = body
    else:
        raise ApiException("PostDataInvalidException", "Invalid JSON data", number=14)
    if not items:
        raise ApiException("PostDataInvalidException", f"No {name} were supplied.", 14)
    if not all(isinstance(item, dict) for item in items):
        raise ApiException("PostDataInvalidException", "Each element must be an object.", 14)
    return items


def write_records(
    ctx: WriteContext,
    rules: ResourceRules,
    elements: list[dict[str, Any]],
    *,
    mode: str,
    summarize_errors: bool,
    target: dict[str, Any] | None = None,
) -> Listing:
    """Create (PUT), create-or-update (POST) or update one record (POST /{id}).

    Each element is written on its own, as Xero does. With ``summarize_errors`` (Xero's
    default) one bad element makes the answer a 400 naming only the bad elements, while
    the good ones stay saved (xero-ruby issue 247; Xero-Java issue 171: "the response
    will only contain the objects that had a validation error"). Without it the answer is
    a 200 listing every element with ``StatusAttributeString``. A failed create carries
    the all-zero ID (Xero-NetStandard issue 156; xero-node issue 177).
    """
    org = ctx.org
    with org.lock:
        results = run_batch(
            org,
            elements,
            lambda element: _write_one(ctx, rules, element, mode, target),
            summarize_errors=summarize_errors,
            echo=lambda element: failed_element(rules, element, target),
        )
        rendered = []
        for saved, error in results:
            if error is not None:
                item = error.render()
                item["StatusAttributeString"] = "ERROR"
                rendered.append(item)
            else:
                item = rules.render(org, saved)
                if not summarize_errors:
                    item["StatusAttributeString"] = "OK"
                rendered.append(item)
    return Listing(rules.name, rendered)


BatchResults = list[tuple[dict[str, Any] | None, ElementError | None]]
ZERO_ID = "00000000-0000-0000-0000-000000000000"


def failed_element(
    rules: ResourceRules, element: dict[str, Any], target: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A rejected element as Xero echoes it: as sent, its ID (all zeros for a create), and
    the error flag the resource carries (``HasErrors`` on documents, else
    ``HasValidationErrors``)."""
    echoed = _echo(element)
    given = get_field(element, rules.id_field)
    echoed.pop(rules.id_field, None)
    record_id = target[rules.id_field] if target is not None else (given or ZERO_ID)
    return {rules.id_field: record_id, **echoed, rules.error_flag: True}


def run_batch(
    org: Organisation,
    elements: list[dict[str, Any]],
    write_one: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    summarize_errors: bool,
    echo: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> BatchResults:
    """Write each element in its own transaction (call with ``org.lock`` held).

    Returns (saved, None) or (None, error) per element. With ``summarize_errors`` and any
    bad element, raises :class:`ElementsRejected` naming the bad ones instead; the good
    elements stay written, as on Xero.
    """
    echo = echo or _echo
    results: BatchResults = []
    for element in elements:
        try:
            with org.transaction():
                saved = write_one(element)
            results.append((saved, None))
        except ValidationException as exc:
            results.append((None, ElementError(echo(element), exc.messages)))
    if summarize_errors and any(err for _, err in results):
        raise ElementsRejected([err for _, err in results if err is not None])
    return results


def _echo(element: dict[str, Any]) -> dict[str, Any]:
    """The element as submitted, for the error body (only JSON-native values)."""
    return {k: v for k, v in element.items() if k != "ValidationErrors"}


def _write_one(
    ctx: WriteContext,
    rules: ResourceRules,
    element: dict[str, Any],
    mode: str,
    target: dict[str, Any] | None,
) -> dict[str, Any]:
    org = ctx.org
    existing = target
    if existing is None and mode == "post":
        existing = rules.find_existing(org, element)
        if existing is None and get_field(element, rules.id_field):
            raise ValidationException(
                [f"{rules.id_field} '{get_field(element, rules.id_field)}' was not found."],
                element,
            )
    if (
        mode == "put"
        and get_field(element, rules.id_field)
        and rules.find_existing(org, element) is not None
    ):
        raise ValidationException(
            [f"A {rules.history_label({})} with this {rules.id_field} already exists."],
            element,
        )
    if existing is None:
        record = rules.create(ctx, element)
        record.setdefault(rules.id_field, new_id())
        record["_CreatedByApp"] = ctx.client_id
        created = True
    else:
        record = rules.update(ctx, existing, element)
        created = False
    if rules.updated_field == "UpdatedDateUTC":
        record["UpdatedDateUTC"] = ctx.now
    record_id = record[rules.id_field]
    org.put(rules.name, record_id, record)
    if rules.supports_history:
        label = rules.history_label(record)
        org.add_history(
            record_id,
            {
                "Changes": "Created" if created else "Edited",
                "DateUTC": ctx.now,
                "User": ctx.user,
                "Details": f"{label} {'created' if created else 'updated'} via {ctx.app_name}.",
            },
        )
    rules.after_write(ctx, record, created)
    return org.get(rules.name, record_id) or record


# --- history -----------------------------------------------------------------------------


def _render_history(entry: dict[str, Any]) -> dict[str, Any]:
    rendered = to_wire(entry)
    rendered["DateUTCString"] = to_iso_z(entry["DateUTC"])
    return rendered


def get_history(org: Organisation, rules: ResourceRules, record_id: str) -> Listing:
    """``GET /{Resource}/{id}/History``: the record's history and notes, oldest first."""
    _require_history(org, rules, record_id)
    records = [_render_history(e) for e in org.history.get(record_id.lower(), [])]
    return Listing("HistoryRecords", records)


def add_history_notes(
    ctx: WriteContext, rules: ResourceRules, record_id: str, body: Any
) -> Listing:
    """``PUT /{Resource}/{id}/History``: add notes (``Details``, at most 2,500 characters)."""
    org = ctx.org
    notes = get_field(body, "HistoryRecords") if isinstance(body, dict) else None
    if not isinstance(notes, list) or not notes:
        raise ApiException("PostDataInvalidException", "No HistoryRecords were supplied.", 14)
    _require_history(org, rules, record_id)
    saved = []
    errors = []
    for note in notes:
        details = get_field(note, "Details") if isinstance(note, dict) else None
        if not isinstance(details, str) or not details.strip():
            errors.append(ElementError(_echo(note or {}), ["Details must be specified."]))
        elif len(details) > HISTORY_DETAILS_MAX:
            errors.append(
                ElementError(
                    _echo(note),
                    [f"Details must be {HISTORY_DETAILS_MAX} characters or less."],
                )
            )
    if errors:
        raise ElementsRejected(errors)
    with org.transaction():
        for note in notes:
            entry = {
                "Changes": "Note",
                "DateUTC": ctx.now,
                "User": ctx.user,
                "Details": get_field(note, "Details"),
            }
            org.add_history(record_id, entry)
            saved.append(_render_history(entry))
    return Listing("HistoryRecords", saved)


def _require_history(org: Organisation, rules: ResourceRules, record_id: str) -> None:
    if not rules.supports_history:
        raise NotFound()
    if rules.find(org, record_id) is None:
        raise ValidationException(
            ["The document with the supplied id was not found for this endpoint."],
            {},
        )
