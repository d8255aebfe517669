"""What to send for a read or a write, and how to read the answers (no I/O here).

The sync and async hooks drive these plans with their own clients, so paging, filter
building, chunking, idempotency keys and result mapping exist exactly once.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from xero_provider.exceptions import RecordResult
from xero_provider.resources import Resource


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
    parts = [c for c in clauses if c]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({c})" for c in parts)


def _any_of(field_name: str, values: Sequence[str], guid: bool) -> str:
    quoted = [f'Guid("{v}")' if guid else json.dumps(v) for v in values]
    return " OR ".join(f"{field_name}=={q}" for q in quoted)


@dataclass
class ListPlan:
    """Query parameters and headers for listing a resource, and the paging to apply."""

    resource: Resource
    params: dict[str, str]
    headers: dict[str, str]
    page_size: int | None
    offset: int = 0  # paging "offset": the last number read so far

    @classmethod
    def build(
        cls,
        resource: Resource,
        *,
        where: str | None = None,
        order: str | None = None,
        modified_since: datetime | date | str | None = None,
        statuses: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        page_size: int | None = None,
        extra_params: Mapping[str, Any] | None = None,
    ) -> ListPlan:
        """Check the filters against what Xero supports for the resource, then plan."""
        params: dict[str, str] = {}
        clauses = [resource.type_where, where]
        if statuses:
            statuses = [s.upper() for s in statuses]
            if resource.statuses_param:
                params[resource.statuses_param] = ",".join(statuses)
            elif resource.status_param and len(statuses) == 1:
                params[resource.status_param] = statuses[0]
            elif resource.supports_where and resource.status_field:
                clauses.append(_any_of(resource.status_field, statuses, guid=False))
            else:
                raise ValueError(
                    f"statuses: {resource.name} can be filtered by one status at a time, "
                    f"got {list(statuses)}"
                )
        if ids:
            if resource.ids_param:
                params["IDs"] = ",".join(ids)
            elif resource.supports_where:
                clauses.append(_any_of(resource.id_field, list(ids), guid=True))
            else:
                raise ValueError(f"ids: {resource.name} cannot be filtered by ID in a list call")
        combined = and_where(*clauses)
        if combined:
            if not resource.supports_where:
                raise ValueError(
                    f"where: Xero's {resource.name} endpoint does not accept a where filter; "
                    "use statuses or modified_since instead"
                )
            params["where"] = combined
        if order:
            params["order"] = order
        if extra_params:
            params.update({k: str(v) for k, v in extra_params.items()})
        headers = {}
        if modified_since is not None:
            if not resource.supports_modified_since:
                raise ValueError(f"modified_since: {resource.name} has no modification date")
            headers["If-Modified-Since"] = xero_datetime(modified_since)
        size = resource.page_size
        if size is not None and page_size is not None:
            if page_size < 1:
                raise ValueError(f"page_size must be at least 1, got {page_size}")
            size = min(page_size, size) if resource.paging == "full" else size
        return cls(resource, params, headers, size)

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


def normalise_records(records: Any) -> list[dict[str, Any]]:
    """One dict, a list of dicts, or a pandas DataFrame, as a list of JSON-ready dicts."""
    if hasattr(records, "to_dict") and hasattr(records, "columns"):
        rows = records.to_dict(orient="records")
    elif isinstance(records, Mapping):
        rows = [dict(records)]
    elif isinstance(records, Iterable) and not isinstance(records, str | bytes):
        rows = list(records)
    else:
        raise TypeError(
            f"records must be a dict, a list of dicts or a DataFrame, got {type(records).__name__}"
        )
    out = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"records[{index}] must be a dict, got {type(row).__name__}")
        out.append({str(k): _json_ready(v) for k, v in row.items() if not _is_missing(v)})
    return out


def _is_missing(value: Any) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        return value.item()  # numpy scalars
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items() if not _is_missing(v)}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return value


def check_records(resource: Resource, records: list[dict[str, Any]], *, update: bool) -> None:
    """Refuse what Xero would refuse anyway, before any write: clear, and nothing half-done."""
    if not records:
        raise ValueError(f"records: nothing to write to {resource.name}")
    for index, record in enumerate(records):
        if resource.type_filter:
            given = record.get("Type")
            if given is None:
                record["Type"] = resource.type_filter
            elif str(given).upper() != resource.type_filter:
                raise ValueError(
                    f"records[{index}].Type: {resource.name} are "
                    f"{resource.type_filter}, got {given!r}"
                )
        if update and not (
            record.get(resource.id_field)
            or (resource.number_field and record.get(resource.number_field))
        ):
            key = resource.id_field + (
                f" or {resource.number_field}" if resource.number_field else ""
            )
            raise ValueError(f"records[{index}]: an update needs {key}")


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


def chunk_results(resource: Resource, chunk: WriteChunk, body: Any) -> list[RecordResult]:
    """One result per record of the chunk, from a ``summarizeErrors=false`` answer."""
    items = (body or {}).get(resource.list_key) or [] if isinstance(body, dict) else []
    results = []
    for position, _ in enumerate(chunk.records):
        item = items[position] if position < len(items) else {}
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
