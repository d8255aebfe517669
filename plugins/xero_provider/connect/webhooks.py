"""Xero webhooks into Airflow asset events, so asset-scheduled DAGs run on Xero changes.

Xero's rules (developer.xero.com/documentation/webhooks/configuring-your-server): the
``x-xero-signature`` header is the base64 HMAC-SHA256 of the raw body under the app's
webhook key; answer 200 within 5 seconds, with no body and no cookies, for a correctly
signed payload and 401 for any other (the "intent to receive" check sends both kinds
with empty ``events``); Xero retries a delivery it did not get a 200 for, for up to 24
hours, so the same events can arrive twice: their sequence numbers
(``firstEventSequence``..``lastEventSequence``, openapi/xero-webhooks.yaml) are recorded
and a repeat is answered 200 without a second asset event.

Xero sends webhooks for contacts, invoices (sales invoices and bills alike) and credit
notes only. Each delivery becomes one asset event per organisation and resource,
``xero://<tenant id>/<Resource>``, listing the records that changed. An invoice event
does not say whether it is a sales invoice or a bill, so it goes to ``Invoices``
(and also to ``SalesInvoices``/``Bills`` when the event carries ``data.Type``); a
credit note event carries its type, which the asset event passes on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from xero_provider.state.connect_state import SeenSequences

SCHEME = "xero"
CATEGORY_RESOURCES = {"CONTACT": "Contacts", "INVOICE": "Invoices", "CREDITNOTE": "CreditNotes"}
INVOICE_TYPES = {"ACCREC": "SalesInvoices", "ACCPAY": "Bills"}
MAX_BODY_BYTES = 10 * 1024 * 1024


def asset_uri(tenant_id: str, resource: str) -> str:
    """The asset a Xero resource of one organisation is, e.g. ``xero://<tenant>/Contacts``."""
    return f"{SCHEME}://{tenant_id.lower()}/{resource}"


def xero_asset(tenant_id: str, resource: str) -> Any:
    """An ``airflow.sdk.Asset`` to schedule a DAG on (``schedule=[xero_asset(t, "Contacts")]``)."""
    from airflow.sdk import Asset

    return Asset(uri=asset_uri(tenant_id, resource), name=f"xero_{tenant_id.lower()}_{resource}")


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
    events: list[tuple[tuple[int, int], dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def parse(cls, body: bytes) -> Delivery:
        try:
            payload = json.loads(body)
        except ValueError:
            raise BadPayload("the body is not JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            raise BadPayload("the payload has no 'events' list")
        try:
            first = int(payload.get("firstEventSequence") or 0)
            last = int(payload.get("lastEventSequence") or 0)
        except (TypeError, ValueError):
            raise BadPayload("the event sequence numbers are not integers") from None
        events = [e for e in payload["events"] if isinstance(e, dict)]
        numbered = last - first + 1 == len(events) and first > 0
        delivery = cls(first, last)
        for index, event in enumerate(events):
            # Events are numbered first..last in order when the counts agree; otherwise
            # the whole delivery shares its range as one key.
            key = (first + index, first + index) if numbered else (first, last)
            delivery.events.append((key, event))
        return delivery


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
        tenant = str(event.get("tenantId") or "").lower()
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


def record(body: bytes, key: str, state_store: str | None = None) -> Outcome:
    """Turn a verified delivery into asset events, skipping sequence numbers seen before."""
    delivery = Delivery.parse(body)
    if not delivery.events:
        return Outcome(0, 0, 0, [])  # intent to receive, or an empty delivery
    seen = SeenSequences(state_store)
    fresh = seen.claim(key, [k for k, _ in delivery.events])
    new = [{**event, "_sequence": k[0]} for k, event in delivery.events if k in fresh]
    try:
        created, missing = _emit(group(new), delivery)
    except Exception:
        seen.release(key, fresh)  # so Xero's retry of this delivery is not taken as a repeat
        raise
    return Outcome(len(delivery.events), len(new), created, missing)


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
            extra = {
                "source": "xero_webhook",
                "tenant_id": tenant,
                "resource": resource,
                "first_sequence": delivery.first,
                "last_sequence": delivery.last,
                "resource_ids": sorted({str(e["resource_id"]) for e in events}),
                "events": events,
            }
            if asset_manager.register_asset_change(
                asset=model, extra=extra, source_is_api=True, session=session
            ):
                created += 1
    return created, missing
