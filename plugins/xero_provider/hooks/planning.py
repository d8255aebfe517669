"""What to send for a read or a write, and how to read the answers (no I/O here).

The sync and async hooks drive these plans with their own clients, so paging, filter
building, chunking, idempotency keys and result mapping exist exactly once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from xero_provider.exceptions import RecordResult, XeroInputError
from xero_provider.hooks import validation
from xero_provider.hooks.serialise import normalise_records
from xero_provider.resources import (
    INCLUDE_ARCHIVED,
    INCLUDE_DELETED,
    RESOURCES,
    HiddenFlag,
    Resource,
)

__all__ = ["ListPlan", "WriteChunk", "check_records", "normalise_records", "plan_writes"]


def xero_datetime(value: datetime | date | str) -> str:
    """A UTC timestamp in the form Xero's If-Modified-Since and DateTime() accept."""
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def and_where(*clauses: str | None) -> str | None:
    """AND the clauses, each in its own parentheses (callers' clauses were checked to be
    balanced by :func:`validation.where`, so none can reach into another)."""
    parts = [c for c in clauses if c]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({c})" for c in parts)


def _any_of(field_name: str, values: Sequence[str], guid: bool) -> str:
    """``F=="a" OR F=="b"``; values were validated (GUIDs, status words) before this."""
    quoted = [f'Guid("{v}")' if guid else json.dumps(v) for v in values]
    return " OR ".join(f"{field_name}=={q}" for q in quoted)


# Xero's gateway refuses query strings much over 2,000 characters (404 or 414 with about 53
# GUIDs in IDs=: XeroAPI/Xero-OpenAPI#534, XeroAPI/xero-node#404, Xero-NetStandard#471),
# so an ID list is split into calls whose encoded query stays under this.
MAX_QUERY_CHARS = 1900


def hidden_flags(
    resource: Resource, *, include_archived: bool = False, include_deleted: bool = False
) -> dict[str, str]:
    """The list flags that show records Xero hides by default, refused (before any call)
    for a resource whose endpoint does not take them (the resource table's
    ``hidden_flag``)."""
    for option, value in (
        ("include_archived", include_archived),
        ("include_deleted", include_deleted),
    ):
        if not isinstance(value, bool):  # "false" would be true
            raise XeroInputError(
                f"{option}: give True or False, got {value!r}", resource=resource.name
            )
    params: dict[str, str] = {}
    wanted: list[tuple[str, HiddenFlag]] = []
    if include_archived:
        wanted.append(("include_archived", INCLUDE_ARCHIVED))
    if include_deleted:
        wanted.append(("include_deleted", INCLUDE_DELETED))
    for option, flag in wanted:
        if resource.hidden_flag != flag:
            takers = sorted(r.name for r in RESOURCES.values() if r.hidden_flag == flag)
            raise XeroInputError(
                f"{option}: Xero's {resource.name} list does not take {flag}; "
                f"only {', '.join(takers)} do",
                resource=resource.name,
            )
        params[flag] = "true"
    return params


def query_length(params: Mapping[str, str]) -> int:
    """The encoded length of a list call's query, with the longest paging added."""
    return len(urlencode({**params, "page": "99999", "pageSize": "1000"}))


@dataclass
class ListPlan:
    """Query parameters and headers for listing a resource, and the paging to apply."""

    resource: Resource
    params: dict[str, str]
    headers: dict[str, str]
    page_size: int | None
    offset: int = 0  # paging "offset": the last number read so far

    @classmethod
    def build(cls, resource: Resource, **filters: Any) -> ListPlan:
        """The one plan for these filters (an ``ids`` list too long for one call is refused:
        :meth:`build_all` splits it)."""
        plans = cls.build_all(resource, **filters)
        if len(plans) != 1:
            raise XeroInputError(
                f"ids: {len(filters.get('ids') or [])} IDs do not fit one call; "
                "iter_records splits them"
            )
        return plans[0]

    @classmethod
    def build_all(
        cls,
        resource: Resource,
        *,
        where: str | None = None,
        order: str | None = None,
        modified_since: datetime | date | str | None = None,
        statuses: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        page_size: int | None = None,
        include_archived: bool = False,
        include_deleted: bool = False,
        unitdp: int | None = None,
    ) -> list[ListPlan]:
        """Check the filters against what Xero supports for the resource, then plan; one
        plan per slice of ``ids`` that fits a URL (one plan without ``ids``)."""
        params = hidden_flags(
            resource, include_archived=include_archived, include_deleted=include_deleted
        )
        clauses = [resource.type_where, validation.where(where)]
        if statuses:
            statuses = validation.statuses(statuses)
            if resource.statuses_param:
                params[resource.statuses_param] = ",".join(statuses)
            elif resource.status_param and len(statuses) == 1:
                params[resource.status_param] = statuses[0]
            elif resource.supports_where and resource.status_field:
                clauses.append(_any_of(resource.status_field, statuses, guid=False))
            else:
                raise XeroInputError(
                    f"statuses: {resource.name} can be filtered by one status at a time, "
                    f"got {list(statuses)}"
                )
        id_list = validation.guids(ids) if ids is not None else None
        if id_list is not None and not id_list:
            raise XeroInputError("ids: an empty list matches nothing; pass None for no filter")
        if id_list and not resource.ids_param and not resource.supports_where:
            raise XeroInputError(f"ids: {resource.name} cannot be filtered by ID in a list call")
        if unitdp is not None:
            if isinstance(unitdp, bool) or unitdp not in (2, 4):
                raise XeroInputError(f"unitdp: give 2 or 4 decimal places, got {unitdp!r}")
            if not resource.takes_unitdp:
                takers = sorted(r.name for r in RESOURCES.values() if r.takes_unitdp)
                raise XeroInputError(
                    f"unitdp: Xero's {resource.name} list does not take unitdp; "
                    f"only {', '.join(takers)} do",
                    resource=resource.name,
                )
            params["unitdp"] = str(unitdp)
        order = validation.order(order)
        if order:
            params["order"] = order
        headers = {}
        if modified_since is not None:
            if not resource.supports_modified_since:
                raise XeroInputError(f"modified_since: {resource.name} has no modification date")
            headers["If-Modified-Since"] = xero_datetime(modified_since)
        size = resource.page_size
        page_size = validation.page_size(page_size)
        if size is not None and page_size is not None:
            size = min(page_size, size) if resource.paging == "full" else size

        def plan(batch: list[str] | None) -> ListPlan:
            batch_params = dict(params)
            batch_clauses = list(clauses)
            if batch:
                if resource.ids_param:
                    batch_params["IDs"] = ",".join(batch)
                else:
                    batch_clauses.append(_any_of(resource.id_field, batch, guid=True))
            combined = and_where(*batch_clauses)
            if combined:
                if not resource.supports_where:
                    raise XeroInputError(
                        f"where: Xero's {resource.name} endpoint does not accept a where "
                        "filter; use statuses or modified_since instead"
                    )
                batch_params["where"] = combined
            return cls(resource, batch_params, headers, size)

        if not id_list:
            single = plan(None)
            if query_length(single.params) > MAX_QUERY_CHARS:
                raise XeroInputError(
                    f"where: the filter makes a query of {query_length(single.params)} "
                    f"characters; Xero refuses queries over about {MAX_QUERY_CHARS}"
                )
            return [single]
        plans: list[ListPlan] = []
        start = 0
        while start < len(id_list):
            count = 1
            if query_length(plan(id_list[start : start + 1]).params) > MAX_QUERY_CHARS:
                raise XeroInputError(
                    f"where: with one ID the query is over {MAX_QUERY_CHARS} characters; "
                    "shorten the where filter"
                )
            step = 32
            while step:  # the longest slice that still fits the URL
                trial = count + step
                if start + count < len(id_list) and (
                    query_length(plan(id_list[start : start + trial]).params) <= MAX_QUERY_CHARS
                ):
                    count = min(trial, len(id_list) - start)
                else:
                    step //= 2
            plans.append(plan(id_list[start : start + count]))
            start += count
        return plans

    def page_params(self, page: int) -> dict[str, str]:
        """Parameters for one page (the plain parameters when the resource does not page)."""
        if self.page_size is None:
            return dict(self.params)
        if self.resource.paging == "offset":
            return {**self.params, "offset": str(self.offset)}
        params = {**self.params, "page": str(page)}
        if self.resource.paging == "full":
            params["pageSize"] = str(self.page_size)
        return params

    def records_of(self, body: Any) -> list[dict[str, Any]]:
        return list((body or {}).get(self.resource.list_key) or [])

    def is_last_page(self, page: int, body: Any, records: list[dict[str, Any]]) -> bool:
        """Stop on a short page, or when Xero's pagination says this was the last one."""
        if self.page_size is None:
            return True
        if self.resource.paging == "offset":  # next call starts after the last number read
            numbers = [r.get(self.resource.offset_field) for r in records]
            self.offset = max([self.offset, *(n for n in numbers if isinstance(n, int))])
            return len(records) < self.page_size
        pagination = (body or {}).get("pagination") if isinstance(body, dict) else None
        if isinstance(pagination, dict) and pagination.get("pageCount") is not None:
            return page >= int(pagination["pageCount"])
        return len(records) < self.page_size


# --- writes ------------------------------------------------------------------------------


def check_records(resource: Resource, records: list[dict[str, Any]], *, update: bool) -> None:
    """Refuse what Xero would refuse anyway, before any write: clear, and nothing half-done."""
    if not records:
        raise XeroInputError(f"records: nothing to write to {resource.name}")
    for index, record in enumerate(records):
        if resource.type_filter:
            given = record.get("Type")
            if given is None:
                record["Type"] = resource.type_filter
            elif str(given).upper() != resource.type_filter:
                raise XeroInputError(
                    f"records[{index}].Type: {resource.name} are "
                    f"{resource.type_filter}, got {given!r}"
                )
        record_id = record.get(resource.id_field)
        if record_id is not None and resource.id_field.endswith("ID"):
            record[resource.id_field] = validation.guid(
                record_id, f"records[{index}].{resource.id_field}"
            )
        if update and not (
            record.get(resource.id_field)
            or (resource.number_field and record.get(resource.number_field))
        ):
            key = resource.id_field + (
                f" or {resource.number_field}" if resource.number_field else ""
            )
            raise XeroInputError(f"records[{index}]: an update needs {key}")


def payload_hash(records: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class WriteChunk:
    """Up to ``batch_size`` records sent in one request under one Idempotency-Key."""

    offset: int  # index of the chunk's first record in the caller's input
    records: list[dict[str, Any]]
    idempotency_key: str
    ledger_key: str | None  # set when the caller gave a durable key
    payload_hash: str = field(default="")

    def __post_init__(self) -> None:
        self.payload_hash = payload_hash(self.records)


def plan_writes(
    resource: Resource,
    records: list[dict[str, Any]],
    *,
    method: str,
    tenant_id: str | None,
    idempotency_key: str | None,
    batch_size: int | None = None,
) -> list[WriteChunk]:
    """Chunk the records; derive one Idempotency-Key per chunk.

    With a caller's ``idempotency_key`` the chunk keys are deterministic (the same rerun
    gets the same keys) and recorded in the durable ledger; without one they are random,
    which still makes retries inside this call safe.
    """
    size = batch_size or resource.batch_size
    chunks = []
    for number, start in enumerate(range(0, len(records), size)):
        part = records[start : start + size]
        if idempotency_key:
            ledger_key = f"{tenant_id or '-'}:{method}:{resource.path}:{idempotency_key}:{number}"
            key = hashlib.sha256(ledger_key.encode()).hexdigest()
        else:
            ledger_key = None
            key = uuid.uuid4().hex
        chunks.append(WriteChunk(start, part, key, ledger_key))
    return chunks


def chunk_results(
    resource: Resource, chunk: WriteChunk, body: Any, positions: list[int] | None = None
) -> list[RecordResult]:
    """One result per record sent, from a ``summarizeErrors=false`` answer.

    :param positions: which of the chunk's records were sent (all of them by default), in
        the order they were sent; results carry the caller's input index.
    """
    if positions is None:
        positions = list(range(len(chunk.records)))
    items = (body or {}).get(resource.list_key) or [] if isinstance(body, dict) else []
    results = []
    for number, position in enumerate(positions):
        item = items[number] if number < len(items) else {}
        errors = [str(e.get("Message", "")) for e in item.get("ValidationErrors") or []]
        status = item.get("StatusAttributeString") or ("ERROR" if errors else "OK")
        ok = status != "ERROR" and bool(item)
        results.append(
            RecordResult(
                index=chunk.offset + position,
                ok=ok,
                record_id=item.get(resource.id_field) if ok else None,
                record=item if ok else None,
                errors=errors if item else ["Xero returned no result for this record"],
                status=status if item else "ERROR",
            )
        )
    return results


def results_to_ledger(results: list[RecordResult]) -> list[dict[str, Any]]:
    return [
        {
            "index": r.index,
            "ok": r.ok,
            "record_id": r.record_id,
            "errors": r.errors,
            "status": r.status,
        }
        for r in results
    ]


def results_from_ledger(rows: list[dict[str, Any]]) -> list[RecordResult]:
    return [
        RecordResult(
            index=row["index"],
            ok=row["ok"],
            record_id=row.get("record_id"),
            record=None,
            errors=list(row.get("errors") or []),
            status=row.get("status", "OK"),
        )
        for row in rows
    ]
