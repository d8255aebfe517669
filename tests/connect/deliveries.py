"""Webhook deliveries shaped as Xero sends them (developer.xero.com/documentation/guides/
webhooks/overview: the payload's ``events``, ``firstEventSequence``, ``lastEventSequence``
and ``entropy``), for the webhook tests that post them in-process or to an api-server."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

RESOURCE_PATHS = {"CONTACT": "Contacts", "INVOICE": "Invoices", "CREDITNOTE": "CreditNotes"}


def event(tenant: Any, category: str = "CONTACT", **fields: Any) -> dict[str, Any]:
    """One event about a new resource of ``category``; ``fields`` override or add keys."""
    rid = fields.pop("resourceId", None) or str(uuid.uuid4())
    path = RESOURCE_PATHS.get(category, "Contacts")
    return {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/{path}/{rid}",
        "resourceId": rid,
        "eventDateUtc": "2026-12-01T10:00:00.000",
        "eventType": "UPDATE",
        "eventCategory": category,
        "tenantId": tenant,
        "tenantType": "ORGANISATION",
        **fields,
    }


def delivery(events: list[dict[str, Any]], first: int | None = None) -> bytes:
    """The body of one delivery: ``events`` numbered from ``first`` (random if None)."""
    if first is None:
        first = random.randint(10_000, 2_000_000_000 - len(events) - 1)
    body = {
        "events": events,
        "firstEventSequence": first,
        "lastEventSequence": first + len(events) - 1,
        "entropy": "QWERTYUIOPASDFGHJKLZ",
    }
    return json.dumps(body).encode()
