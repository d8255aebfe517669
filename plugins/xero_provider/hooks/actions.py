"""Per-record calls (no I/O here): ``{Resource}/{ID}[/{action}]`` with one body each.

Some Xero writes take one record per request: deleting a payment (``POST
/Payments/{id}``), emailing an invoice (``POST /Invoices/{id}/Email``), a history note
(``PUT /{R}/{id}/History``), a credit-note allocation (``PUT /CreditNotes/{id}/Allocations``).
Each such call is planned as a one-record :class:`WriteChunk`, so it gets its own
Idempotency-Key and its own entry in the durable ledger exactly like a batch chunk.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xero_provider.exceptions import RecordResult, XeroError
from xero_provider.hooks.planning import WriteChunk
from xero_provider.hooks.reconcile import REPLAY_SAFE_SECONDS
from xero_provider.resources import Resource

# Record IDs and actions go into the URL path: refuse anything that could change it.
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class ActionCall:
    """One request of a per-record action: where it goes and its chunk (key, ledger)."""

    path: str
    record_id: str
    chunk: WriteChunk


def action_path(resource: Resource, record_id: str, action: str | None) -> str:
    """``{path}/{id}[/{action}]``; an ID or action that is not a plain path segment is refused."""
    for name, value in (("record id", record_id), ("action", action)):
        if value is None and name == "action":
            continue
        if not isinstance(value, str) or not _SAFE_SEGMENT.match(value):
            raise ValueError(f"{name} {value!r} is not a valid Xero {resource.name} path segment")
    return f"{resource.path}/{record_id}" + (f"/{action}" if action else "")


def plan_actions(
    resource: Resource,
    items: Sequence[tuple[str, Any]],
    *,
    method: str,
    action: str | None,
    tenant_id: str | None,
    idempotency_key: str | None,
) -> list[ActionCall]:
    """One call per ``(record_id, body)``; deterministic keys when the caller gives one."""
    calls = []
    for index, (record_id, body) in enumerate(items):
        path = action_path(resource, record_id, action)
        if idempotency_key:
            ledger_key = f"{tenant_id or '-'}:{method}:{path}:{idempotency_key}:{index}"
            key = hashlib.sha256(ledger_key.encode()).hexdigest()
        else:
            ledger_key, key = None, uuid.uuid4().hex
        calls.append(ActionCall(path, record_id, WriteChunk(index, [body], key, ledger_key)))
    return calls


def action_result(call: ActionCall, body: Any, list_key: str | None, id_field: str) -> RecordResult:
    """A success: the first record of ``list_key`` in the answer (None for a 204)."""
    record = None
    if isinstance(body, dict) and list_key:
        records = body.get(list_key) or []
        record = records[0] if records else None
    record_id = call.record_id
    if isinstance(record, dict) and record.get(id_field):
        record_id = record[id_field]
    return RecordResult(
        index=call.chunk.offset, ok=True, record_id=record_id, record=record, status="OK"
    )


def refused_result(call: ActionCall, error: XeroError) -> RecordResult:
    """Xero refused this one record (400 or 404): its messages, not an exception."""
    messages = [p.message for p in error.problems] or [error.message]
    return RecordResult(
        index=call.chunk.offset,
        ok=False,
        record_id=call.record_id,
        record=None,
        errors=messages,
        status="ERROR",
    )


def replay_is_safe(intended_at: datetime, now: datetime | None = None) -> bool:
    """Whether a call sent at ``intended_at`` (outcome unknown) may go again under its key:
    only while Xero still replays the first answer instead of acting twice."""
    now = now or datetime.now(UTC)
    if intended_at.tzinfo is None:
        intended_at = intended_at.replace(tzinfo=UTC)
    return (now - intended_at).total_seconds() < REPLAY_SAFE_SECONDS


def unreconciled_result(call: ActionCall) -> RecordResult:
    """Sent before, outcome never recorded, and too late to resend under the same key."""
    return RecordResult(
        index=call.chunk.offset,
        ok=False,
        record_id=call.record_id,
        record=None,
        errors=[
            f"sent before without a recorded answer, longer ago than Xero replays a key "
            f"({int(REPLAY_SAFE_SECONDS)} s): check {call.path} in Xero, then rerun under a "
            "new idempotency key if it did not happen"
        ],
        status="UNRECONCILED",
    )
