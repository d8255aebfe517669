"""What a change feed is and which records a range of it holds (no I/O here).

A *feed* is one organisation's resource with fixed filters. A *position* in the feed is
``(ts, ids)``: an ``UpdatedDateUTC`` instant in milliseconds and the IDs already delivered
at exactly that instant. A record version ``(U, ID)`` comes *after* a position when
``U > ts`` or (``U == ts`` and ``ID`` is not in ``ids``). The records of a range
``(lower, upper]`` are those after ``lower`` and not after ``upper``: a window
``[start, end)`` is the range from ``(start, {})`` to ``(end, {})``.

Filters that can change on a record without moving it in time (statuses, types, the
contact's customer/supplier flags) are applied here, on the client, to the records the
range holds: a server-side filter on such a field would let a record leave the result
while pages are read, which shifts Xero's page offsets. Only the caller's ``where`` (and
the resource row's fixed ``Type``) is sent to Xero.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from xero_provider.formats import ms_of
from xero_provider.resources import Resource, get_resource

# Filters Xero offers per resource that a feed applies on the client:
# resource -> (field holding the type, allowed type values).
TYPE_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "BankTransactions": (
        "Type",
        (
            "RECEIVE",
            "SPEND",
            "RECEIVE-OVERPAYMENT",
            "SPEND-OVERPAYMENT",
            "RECEIVE-PREPAYMENT",
            "SPEND-PREPAYMENT",
            "RECEIVE-TRANSFER",
            "SPEND-TRANSFER",
        ),
    ),
    "CreditNotes": ("Type", ("ACCPAYCREDIT", "ACCRECCREDIT")),
    "Payments": (
        "PaymentType",
        (
            "ACCRECPAYMENT",
            "ACCPAYPAYMENT",
            "ARCREDITPAYMENT",
            "APCREDITPAYMENT",
            "AROVERPAYMENTPAYMENT",
            "ARPREPAYMENTPAYMENT",
            "APPREPAYMENTPAYMENT",
            "APOVERPAYMENTPAYMENT",
        ),
    ),
}
CONTACT_KINDS = {"customer": "IsCustomer", "supplier": "IsSupplier"}


def parse_ms(value: Any) -> int | None:
    """Milliseconds since the epoch from Xero's ``/Date(ms+0000)/`` or an ISO string."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value)
    millis = ms_of(text)
    if millis is not None:
        return millis
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def to_ms(value: datetime | str | int) -> int:
    """A timezone-aware datetime (or ISO string, or ms) as epoch milliseconds."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        ms = parse_ms(value)
        if ms is None:
            raise ValueError(f"not a timestamp: {value!r}")
        return ms
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone; give UTC times")
    return int(value.timestamp() * 1000)


def ms_to_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def floor_second(ms: int) -> int:
    return ms - ms % 1000


def ceil_second(ms: int) -> int:
    return ms if ms % 1000 == 0 else floor_second(ms) + 1000


@dataclass(frozen=True)
class Position:
    """A point in a feed: the instant ``ts`` (ms) and the IDs delivered at exactly ``ts``."""

    ts: int
    ids: frozenset[str] = field(default_factory=frozenset)

    def is_before(self, key: tuple[int, str]) -> bool:
        """True when the record version ``(U, ID)`` comes after this position."""
        updated, record_id = key
        return updated > self.ts or (updated == self.ts and record_id not in self.ids)

    def to_json(self) -> dict[str, Any]:
        return {"ts": self.ts, "ids": sorted(self.ids)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Position:
        if not isinstance(data, Mapping) or not isinstance(data.get("ts"), int):
            raise ValueError(f"position must be {{'ts': int, 'ids': [...]}}, got {data!r}")
        return cls(int(data["ts"]), frozenset(str(i) for i in data.get("ids") or ()))

    @classmethod
    def at(cls, when: datetime | str | int) -> Position:
        return cls(to_ms(when))

    def __str__(self) -> str:
        extra = f" (+{len(self.ids)} delivered at that instant)" if self.ids else ""
        return ms_to_iso(self.ts) + extra


def in_range(key: tuple[int, str], lower: Position, upper: Position) -> bool:
    """The record version lies after ``lower`` and not after ``upper``."""
    return lower.is_before(key) and not upper.is_before(key)


@dataclass(frozen=True)
class Feed:
    """One organisation's resource with fixed filters: what a sensor or trigger watches.

    :param resource: a resource table name (``Contacts``, ``Bills``, ...).
    :param where: a Xero ``where`` expression sent to Xero (only resources that take one).
    :param statuses: keep records in these statuses (checked on each record).
    :param types: keep records of these types (bank transactions, credit notes, payments).
    :param contact_kind: ``customer`` or ``supplier`` (contacts only; Xero's flags).
    """

    resource: str
    where: str | None = None
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    contact_kind: str | None = None

    @classmethod
    def build(
        cls,
        resource: str,
        *,
        where: str | None = None,
        statuses: Sequence[str] | str | None = None,
        types: Sequence[str] | str | None = None,
        contact_kind: str | None = None,
    ) -> Feed:
        """Check every filter against the resource before anything is read."""
        spec = get_resource(resource)
        if spec.updated_field is None or not spec.supports_modified_since:
            raise ValueError(f"resource: {spec.name} has no modification date to watch")
        if where is not None:
            if not isinstance(where, str):
                raise TypeError(f"where must be a string, got {type(where).__name__}")
            where = where.strip() or None
            if where and not spec.supports_where:
                raise ValueError(f"where: Xero's {spec.name} endpoint does not accept a filter")
            if where and len(where) > 2000:
                raise ValueError(f"where: {len(where)} characters; keep it under 2000")
            if where:
                _check_balanced(where)
        status_list = _names("statuses", statuses)
        if status_list and spec.status_field is None:
            raise ValueError(f"statuses: {spec.name} have no status")
        if status_list and spec.status_values:
            _check_known("statuses", spec.name, status_list, spec.status_values)
        type_list = _names("types", types)
        if type_list:
            if spec.name not in TYPE_FIELDS:
                raise ValueError(f"types: {spec.name} cannot be filtered by type")
            _check_known("types", spec.name, type_list, TYPE_FIELDS[spec.name][1])
        if contact_kind is not None:
            if spec.name != "Contacts":
                raise ValueError("contact_kind: only Contacts are customers or suppliers")
            if contact_kind not in CONTACT_KINDS:
                raise ValueError(f"contact_kind must be customer or supplier, got {contact_kind!r}")
        return cls(spec.name, where, status_list, type_list, contact_kind)

    @property
    def spec(self) -> Resource:
        return get_resource(self.resource)

    def key(self) -> str:
        """A stable digest of the filters: feeds with equal keys can share one read."""
        text = json.dumps([self.resource, self.where, self.statuses, self.types, self.contact_kind])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "where": self.where,
            "statuses": list(self.statuses),
            "types": list(self.types),
            "contact_kind": self.contact_kind,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Feed:
        return cls.build(
            data["resource"],
            where=data.get("where"),
            statuses=data.get("statuses"),
            types=data.get("types"),
            contact_kind=data.get("contact_kind"),
        )

    # --- records -----------------------------------------------------------------------

    def version(self, record: Mapping[str, Any]) -> tuple[int, str] | None:
        """``(U ms, ID)`` of a record, or None when it carries no usable timestamp."""
        spec = self.spec
        updated = parse_ms(record.get(spec.updated_field))
        record_id = record.get(spec.id_field)
        if updated is None or not record_id:
            return None
        return updated, str(record_id)

    def matches(self, record: Mapping[str, Any]) -> bool:
        """The client-side filters (see the module docstring for why they live here)."""
        spec = self.spec
        # A typed view (bills, sales invoices) may be read from its untyped source, one
        # read serving both (state/call_plan.py): keep only its own type.
        if spec.type_filter and str(record.get("Type") or spec.type_filter) != spec.type_filter:
            return False
        if self.statuses and str(record.get(spec.status_field) or "").upper() not in self.statuses:
            return False
        if self.types:
            type_field = TYPE_FIELDS[spec.name][0]
            if str(record.get(type_field) or "").upper() not in self.types:
                return False
        if self.contact_kind:
            return record.get(CONTACT_KINDS[self.contact_kind]) is True
        return True

    def select(
        self, records: Iterable[Mapping[str, Any]], lower: Position, upper: Position
    ) -> list[dict[str, Any]]:
        """The records of the range that pass the filters, ordered by ``(U, ID)``, each once."""
        chosen: dict[tuple[int, str], dict[str, Any]] = {}
        for record in records:
            key = self.version(record)
            if key is not None and in_range(key, lower, upper) and self.matches(record):
                chosen[key] = dict(record)
        return [chosen[k] for k in sorted(chosen)]


def _check_known(label: str, resource: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    """Refuse codes Xero never gives this resource: such a filter would never match.

    A near miss names its likely spelling (Xero writes AUTHORISED, not AUTHORIZED).
    """
    unknown = [v for v in values if v not in allowed]
    if not unknown:
        return
    hints = []
    for value in unknown:
        close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.75)
        if close:
            hints.append(f"{value!r}: did you mean {close[0]!r}?")
    what = "statuses" if label == "statuses" else "types"
    message = f"{label}: {unknown} are not {resource} {what}; choose from {list(allowed)}"
    raise ValueError(message + ("; " + " ".join(hints) if hints else ""))


def _check_balanced(where: str) -> None:
    """Refuse a ``where`` that closes the parentheses it is wrapped in.

    The feed sends ``(<where>) AND (<time bound>)``; ``A") OR ("1"=="1`` would otherwise
    turn the bound into an alternative and let records outside the range be counted.
    """
    depth, quoted = 0, False
    for position, char in enumerate(where):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"where: unbalanced ')' at position {position}")
    if quoted or depth:
        raise ValueError("where: unclosed quote or parenthesis")


def _names(label: str, values: Sequence[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    if not isinstance(values, Sequence):
        raise TypeError(f"{label} must be a list of strings, got {type(values).__name__}")
    out = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{label}: every entry must be a non-empty string, got {value!r}")
        if not re.fullmatch(r"[A-Za-z_-]{1,40}", value.strip()):
            raise ValueError(f"{label}: {value!r} is not a Xero code")
        out.append(value.strip().upper())
    return tuple(sorted(set(out)))


def advance(
    batch: Sequence[tuple[int, str]], lower: Position, upper: Position, truncated: bool
) -> Position:
    """The position after delivering ``batch`` (sorted keys) out of the range to ``upper``.

    A whole range delivered moves to ``upper``; a batch cut short stops at its last
    record's instant, remembering every ID delivered at that instant (ties included).
    """
    if not truncated or not batch:
        return upper
    last_ts = batch[-1][0]
    ids = {record_id for ts, record_id in batch if ts == last_ts}
    if last_ts == lower.ts:
        ids |= lower.ids
    return Position(last_ts, frozenset(ids))


def settled_upper(now: datetime, settle: timedelta) -> Position:
    """The newest position that may be read now: whole seconds, ``settle`` in the past."""
    return Position(floor_second(to_ms(now - settle)))
