"""Xero webhooks into Airflow asset events, so asset-scheduled DAGs run on Xero changes.

Xero's rules (developer.xero.com/documentation/webhooks/configuring-your-server): the
``x-xero-signature`` header is the base64 HMAC-SHA256 of the raw body under the app's
webhook key; answer 200 within 5 seconds, with no body and no cookies, for a correctly
signed payload and 401 for any other (the "intent to receive" check sends both kinds
with empty ``events``); Xero retries a delivery it did not get a 200 for, for up to 24
hours, so the same events can arrive twice: their sequence numbers
(``firstEventSequence``..``lastEventSequence``, openapi/xero-webhooks.yaml) and a
fingerprint of each event are recorded and a repeat is answered 200 without a second
asset event. (The fingerprint: nothing in Xero's docs says sequence numbers never start
again, e.g. when a webhook is saved anew; events that reuse a number but say something
else are new.) Every verified event, repeat or not, marks its feed changed for the daily
call plan: a mark only wakes a waiting trigger to read once.

Xero sends webhooks for contacts, invoices (sales invoices and bills alike) and credit
notes only. Each delivery becomes one asset event per organisation and resource,
``xero://<tenant id>/<Resource>``, listing the records that changed. An invoice event
does not say whether it is a sales invoice or a bill, so it goes to ``Invoices``
(and also to ``SalesInvoices``/``Bills`` when the event carries ``data.Type``); a
credit note event carries its type, which the asset event passes on.

Hostile or broken deliveries (issue 20): a body over :data:`MAX_BODY_BYTES` is refused
before it is read in full or its signature computed; a signed body that is not a Xero
payload (not JSON, no ``events`` list, sequence numbers outside the spec's 1..2**31-1) is
answered 400; an event is used only when it names a Xero tenant id (a UUID, spec
``tenantId: format: uuid``) that an Airflow ``xero`` connection or a Xero asset of this
Airflow knows, and a category Xero sends webhooks for: the rest is logged and ignored, so
an event can never mark the plan of another organisation (nor every organisation's, as
the app-level ``*`` row would).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from xero_provider.assets import SCHEME, asset_uri, xero_asset
from xero_provider.state.call_plan import mark_webhook
from xero_provider.state.connect_state import SeenSequences
from xero_provider.state.token_store import TokenStore

__all__ = ["SCHEME", "asset_uri", "sign", "signed_with", "xero_asset"]
CATEGORY_RESOURCES = {"CONTACT": "Contacts", "INVOICE": "Invoices", "CREDITNOTE": "CreditNotes"}
INVOICE_TYPES = {"ACCREC": "SalesInvoices", "ACCPAY": "Bills"}
# Xero's events are small: an event of the spec's shape (openapi/xero-webhooks.yaml) is
# about 330 bytes (the connect tests' 1,000-event burst is 321 KiB), so 1 MiB holds over
# 3,000 events, three times that burst, which is answered within Xero's 5 seconds. Xero
# documents no per-delivery maximum; a larger body is refused (413) before it is read,
# and its changes still arrive by the feeds' safety-net polls (state/call_plan.py).
MAX_BODY_BYTES = 1024 * 1024
MAX_SEQUENCE = 2**31 - 1  # the spec's maximum for first/lastEventSequence
TENANT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
log = logging.getLogger(__name__)


def sign(body: bytes, key: str) -> str:
    """The ``x-xero-signature`` Xero sends for ``body``."""
    digest = hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_with(body: bytes, signature: str | None, keys: list[str]) -> str | None:
    """The webhook key that signed ``body`` (constant-time compare), or None."""
    if not signature:
        return None
    given = signature.strip().encode("ascii", "replace")
    for key in keys:
        if hmac.compare_digest(sign(body, key).encode("ascii"), given):
            return key
    return None


class BadPayload(ValueError):
    """A correctly signed body that is not a Xero webhook payload."""


@dataclass
class Delivery:
    """One parsed delivery: its events with the sequence number each one has."""

    first: int
    last: int
    events: list[tuple[tuple[int, int, str], dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def parse(cls, body: bytes) -> Delivery:
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # not UTF-8 / not JSON / nested too deep
            raise BadPayload("the body is not JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            raise BadPayload("the payload has no 'events' list")
        first = _sequence(payload, "firstEventSequence")
        last = _sequence(payload, "lastEventSequence")
        events = [e for e in payload["events"] if isinstance(e, dict)]
        numbered = last - first + 1 == len(events) and first > 0
        delivery = cls(first, last)
        whole = fingerprint(events)
        for index, event in enumerate(events):
            # Events are numbered first..last in order when the counts agree; otherwise
            # the whole delivery shares its range (and one fingerprint) as one key.
            if numbered:
                key = (first + index, first + index, fingerprint([event]))
            else:
                key = (first, last, whole)
            delivery.events.append((key, event))
        return delivery


def fingerprint(events: list[dict[str, Any]]) -> str:
    """What events say (organisation, record, type, time), hashed: a retry repeats it."""
    fields = ("tenantId", "eventCategory", "eventType", "resourceId", "eventDateUtc")
    said = [[str(event.get(f) or "").lower() for f in fields] for event in events]
    return hashlib.sha256(json.dumps(said).encode("utf-8")).hexdigest()[:32]


def _sequence(payload: dict[str, Any], name: str) -> int:
    """A sequence number as the spec has it: an integer 1..2**31-1 (0 or absent: none,
    as in the intent-to-receive check); anything else is not a Xero payload."""
    value = payload.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQUENCE:
        raise BadPayload(f"'{name}' is not a sequence number from 0 to {MAX_SEQUENCE}")
    return value


def screen(events: list[dict[str, Any]], known: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The events to act on (a known organisation, a category Xero sends) and a short
    reason for each one ignored. ``known``: lower-case tenant ids (:func:`known_tenants`)."""
    kept, ignored = [], []
    for event in events:
        tenant = event.get("tenantId")
        tenant = tenant.strip().lower() if isinstance(tenant, str) else ""
        category = str(event.get("eventCategory") or "")[:40].upper()
        if not TENANT_ID.match(tenant):
            ignored.append(f"tenantId {str(event.get('tenantId'))[:40]!r} is not a Xero tenant id")
        elif tenant not in known:
            ignored.append(f"tenant {tenant} has no xero connection or asset here")
        elif category not in CATEGORY_RESOURCES:
            ignored.append(f"category {category!r} is not one Xero sends for records")
        else:
            kept.append(event)
    return kept, ignored


def known_tenants() -> set[str]:
    """Tenant ids (lower case) this Airflow works on: those of its ``xero`` connections
    (metadata database and ``AIRFLOW_CONN_*`` variables) and of its Xero assets."""
    import sqlalchemy as sa
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session

    from xero_provider.connect import airflow_connections

    tenants = {c.tenant_id for c in airflow_connections.list_connections() if c.tenant_id}
    tenants.update(_environment_tenants())
    prefix = f"{SCHEME}://"
    with create_session() as session:
        uris = session.scalars(sa.select(AssetModel.uri).where(AssetModel.uri.startswith(prefix)))
        tenants.update(uri[len(prefix) :].split("/", 1)[0] for uri in uris)
    return {str(t).strip().lower() for t in tenants if t}


def _environment_tenants() -> set[str]:
    """Tenant ids of ``xero`` connections given as JSON in ``AIRFLOW_CONN_*`` variables."""
    found = set()
    for name, value in os.environ.items():
        if not name.startswith("AIRFLOW_CONN_") or not value.lstrip().startswith("{"):
            continue
        try:
            conn = json.loads(value)
            extra = conn.get("extra") or {}
            extra = json.loads(extra) if isinstance(extra, str) else extra
        except (ValueError, AttributeError):
            continue
        if conn.get("conn_type") == "xero" and isinstance(extra, dict) and extra.get("tenant_id"):
            found.add(str(extra["tenant_id"]))
    return found


def _targets(event: dict[str, Any]) -> list[str]:
    resource = CATEGORY_RESOURCES.get(str(event.get("eventCategory", "")).upper())
    if resource is None:
        return []
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    typed = INVOICE_TYPES.get(str(data.get("Type", "")).upper()) if resource == "Invoices" else None
    return [resource, typed] if typed else [resource]


def group(events: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Events by (tenant id, resource), each reduced to what a DAG needs to fetch it."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        tenant = str(event.get("tenantId") or "").strip().lower()
        if not tenant:
            continue
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        brief = {
            "resource_id": event.get("resourceId"),
            "event_type": event.get("eventType"),
            "event_date_utc": event.get("eventDateUtc"),
            "sequence": event.get("_sequence"),
        }
        if data.get("Type"):
            brief["type"] = data.get("Type")
        if data.get("Status"):
            brief["status"] = data.get("Status")
        for resource in _targets(event):
            groups[(tenant, resource)].append(brief)
    return groups


@dataclass(frozen=True)
class Outcome:
    """What one delivery did (logged; never sent back to Xero, whose answer has no body)."""

    events: int
    new_events: int
    asset_events: int
    without_consumer: list[str]


def record(
    body: bytes, key: str, state_store: str | None = None, known: set[str] | None = None
) -> Outcome:
    """Turn a verified delivery into asset events, skipping sequence numbers seen before.

    :param known: the tenant ids events may name (default: :func:`known_tenants`).
    """
    delivery = Delivery.parse(body)
    if not delivery.events:
        # intent to receive, or an empty delivery: webhooks reach us (the call plan)
        mark_feeds({}, state_store)
        return Outcome(0, 0, 0, [])
    known = known_tenants() if known is None else known
    kept, ignored = screen([e for _, e in delivery.events], known)
    if ignored:
        shown = "; ".join(sorted(set(ignored))[:5])
        log.warning("Xero webhook: %d event(s) ignored: %s", len(ignored), shown)
    seen = SeenSequences(state_store)
    fresh = seen.claim(key, [k for k, _ in delivery.events])
    usable = {id(e) for e in kept}
    new = [
        {**event, "_sequence": k[0]}
        for k, event in delivery.events
        if k in fresh and id(event) in usable
    ]
    mark_feeds(group(kept), state_store)  # repeats too: a mark only wakes a read
    try:
        created, missing = _emit(group(new), delivery)
    except Exception:
        seen.release(key, fresh)  # so Xero's retry of this delivery is not taken as a repeat
        raise
    return Outcome(len(delivery.events), len(new), created, missing)


def mark_feeds(
    groups: dict[tuple[str, str], list[dict[str, Any]]], state_store: str | None
) -> None:
    """Tell the daily call plan (no Xero call): webhooks work, and these feeds changed.

    Waiting triggers of each organisation and feed see the mark within seconds and read
    Xero once; while deliveries keep coming, polling those feeds is only a safety net.
    """
    store = TokenStore(state_store)
    if not groups:
        mark_webhook(store, None, [])
        return
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for tenant, resource in groups:
        by_tenant[tenant].append(resource)
    for tenant, resources in sorted(by_tenant.items()):
        mark_webhook(store, tenant, resources)


def _emit(
    groups: dict[tuple[str, str], list[dict[str, Any]]], delivery: Delivery
) -> tuple[int, list[str]]:
    """One asset event per (tenant, resource), in one metadata-database transaction."""
    if not groups:
        return 0, []
    import sqlalchemy as sa
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session

    uris = {asset_uri(t, r): (t, r) for t, r in groups}
    created, missing = 0, []
    with create_session() as session:
        models = {
            m.uri: m
            for m in session.scalars(sa.select(AssetModel).where(AssetModel.uri.in_(list(uris))))
        }
        for uri, (tenant, resource) in sorted(uris.items()):
            model = models.get(uri)
            if model is None:
                missing.append(uri)  # no DAG uses this asset: nothing to trigger
                continue
            events = groups[(tenant, resource)]
            ids = sorted({str(e["resource_id"]) for e in events})
            extra = {
                "source": "xero_webhook",
                "tenant_id": tenant,
                "resource": resource,
                "first_sequence": delivery.first,
                "last_sequence": delivery.last,
                "resource_ids": ids,
                "events": events,
                # the shape an AssetWatcher's XeroChangesEventTrigger event has, so one
                # consumer (claim_batches, then read by ID) takes both kinds of event
                "payload": {
                    "source": "xero_webhook",
                    "resource": resource,
                    "batch_key": f"webhook:{tenant}:{resource}:{delivery.first}-{delivery.last}",
                    "ids": ids,
                    "count": len(ids),
                },
            }
            if asset_manager.register_asset_change(
                asset=model, extra=extra, source_is_api=True, session=session
            ):
                created += 1
    return created, missing
