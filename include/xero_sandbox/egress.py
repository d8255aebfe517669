"""Data egress: the bytes of every Accounting API answer, per app, organisation and month.

Xero prices apps on egress since March 2026 (developer.xero.com/pricing: included GB a
month per tier, then a charge per GB) and shows it on the developer dashboard; the
sandbox counts the response body bytes it sends, which is what a client receives before
any transport compression.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any


class EgressMeter:
    """Thread-safe byte counts keyed by (client_id, tenant_id, "YYYY-MM")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes: dict[tuple[str, str, str], int] = {}
        self._calls: dict[tuple[str, str, str], int] = {}

    def reset(self) -> None:
        with self._lock:
            self._bytes.clear()
            self._calls.clear()

    def add(self, client_id: str, tenant_id: str, when: datetime, size: int) -> None:
        key = (client_id, (tenant_id or "").lower(), when.strftime("%Y-%m"))
        with self._lock:
            self._bytes[key] = self._bytes.get(key, 0) + size
            self._calls[key] = self._calls.get(key, 0) + 1

    def report(self, client_id: str | None = None, month: str | None = None) -> dict[str, Any]:
        """``{client_id: {month: {"bytes", "calls", "organisations": {tenant: bytes},
        "organisation_calls": {tenant: calls}}}}`` (calls per organisation: what Xero's day
        limit counts, per app and organisation)."""
        out: dict[str, Any] = {}
        with self._lock:
            for (app, tenant, when), size in sorted(self._bytes.items()):
                if (client_id and app != client_id) or (month and when != month):
                    continue
                entry = out.setdefault(app, {}).setdefault(
                    when, {"bytes": 0, "calls": 0, "organisations": {}, "organisation_calls": {}}
                )
                entry["bytes"] += size
                entry["calls"] += self._calls[(app, tenant, when)]
                entry["organisations"][tenant] = entry["organisations"].get(tenant, 0) + size
                calls = entry["organisation_calls"]
                calls[tenant] = calls.get(tenant, 0) + self._calls[(app, tenant, when)]
        return out
