"""Quotes and purchase orders."""

from __future__ import annotations

from typing import Any

from xero_provider.exceptions import RecordResult
from xero_provider.formats import parse_ms_date
from xero_provider.hooks.xero import XeroHook
from xero_provider.operators.generic import XeroCreateOperator, XeroUpdateOperator
from xero_provider.operators.validation import PURCHASE_ORDER_CREATE, QUOTE_CREATE, QUOTE_UPDATE

_TEXTS = ("Title", "Summary", "Reference", "Terms")


class XeroCreateQuoteOperator(XeroCreateOperator):
    """Create quotes (``Contact``, ``Date``, ``LineItems``; DRAFT unless ``Status`` SENT)."""

    resource_name = "Quotes"
    schema = QUOTE_CREATE


class XeroUpdateQuoteOperator(XeroUpdateOperator):
    """Update quotes by ``QuoteID``, only while DRAFT (the resource table's editable status).

    Each quote's status is read first; one that is no longer DRAFT is refused before any
    write, naming the record. Xero wants ``Contact`` and ``Date`` on every quote update and
    clears the descriptive texts an update leaves out (XeroAPI/xero-mcp-server PR #309, as
    emulated by the sandbox): what the record omits of those is taken from the quote read.
    """

    resource_name = "Quotes"
    schema = QUOTE_UPDATE

    def send(
        self, hook: XeroHook, todo: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        current = getattr(self, "_current", {})
        merged = []
        for index, row in todo:
            found = current.get(str(row.get("QuoteID")).lower()) or {}
            merged.append((index, {**_kept(found), **row}))
        return super().send(hook, merged, key)


def _kept(quote: dict[str, Any]) -> dict[str, Any]:
    """What an update must resend: the contact, the dates and the descriptive texts."""
    out: dict[str, Any] = {}
    if isinstance(quote.get("Contact"), dict) and quote["Contact"].get("ContactID"):
        out["Contact"] = {"ContactID": quote["Contact"]["ContactID"]}
    for name in ("Date", "ExpiryDate"):
        day = _day(quote.get(f"{name}String") or quote.get(name))
        if day:
            out[name] = day
    for name in _TEXTS:
        if quote.get(name):
            out[name] = quote[name]
    return out


class XeroCreatePurchaseOrderOperator(XeroCreateOperator):
    """Create purchase orders (``Contact``, ``LineItems``)."""

    resource_name = "PurchaseOrders"
    schema = PURCHASE_ORDER_CREATE


def _day(value: Any) -> str | None:
    """``YYYY-MM-DD`` from Xero's ``2026-01-31T00:00:00`` or ``/Date(ms+zzzz)/`` (the day
    in the value's own offset)."""
    if not isinstance(value, str) or not value:
        return None
    when = parse_ms_date(value)
    return when.date().isoformat() if when is not None else value[:10]
