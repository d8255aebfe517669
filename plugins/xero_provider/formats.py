"""Xero's small wire forms, each written once: GUIDs, ``/Date(ms+zzzz)/`` dates and the
key a connection's calls are counted under.

``/Date(1518685950940+0000)/`` is Microsoft's JSON date: the number is milliseconds since
1970-01-01 in UTC, and the optional ``+zzzz`` is the offset of the local time it was
written in (Microsoft's DataContractJsonSerializer documentation, "Stand-Alone JSON
Serialization"; Xero sends ``+0000`` or no offset, per the OpenAPI examples in
``xero_accounting.yaml``). So the offset never moves the instant; it only says which
local calendar day a date-only field means.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
MS_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{4})?\)/$")


def is_guid(value: Any) -> bool:
    """Whether ``value`` is text in Xero's GUID form, exactly (no surrounding spaces)."""
    return isinstance(value, str) and GUID.match(value) is not None


def parse_ms_date(value: Any) -> datetime | None:
    """Xero's ``/Date(ms+zzzz)/`` as an aware datetime at that instant, in the offset's
    zone (UTC without one); None for anything else."""
    match = MS_DATE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    instant = datetime.fromtimestamp(int(match["ms"]) / 1000, UTC)
    offset = match["offset"]
    if not offset or offset[1:] == "0000":
        return instant
    minutes = int(offset[1:3]) * 60 + int(offset[3:5])
    zone = timezone(timedelta(minutes=-minutes if offset[0] == "-" else minutes))
    return instant.astimezone(zone)


def ms_of(value: Any) -> int | None:
    """The milliseconds since the epoch in a ``/Date()/`` value (the instant, whatever
    the offset); None for anything else."""
    match = MS_DATE.match(value) if isinstance(value, str) else None
    return int(match["ms"]) if match else None


def tenant_key(tenant_id: str | None, client_id: str) -> str:
    """What a connection's calls, slots and positions are kept under: its organisation,
    or ``app:<client id>`` for app-level calls (``/connections``) with none."""
    return tenant_id or f"app:{client_id}"
