"""Webhooks the sandbox sends, the way Xero sends them.

Configured through the control API (``PUT /__sandbox/webhooks`` with ``url`` and ``key``),
a subscription first passes Xero's *intent to receive* check, then receives a signed POST
for every contact, invoice and credit note created or updated, batched and retried.

Sources (developer.xero.com/documentation/webhooks/configuring-your-server, and the
webhooks spec ``xero-webhooks.yaml``, v16.1.0):

* the body is ``{"events": [...], "firstEventSequence", "lastEventSequence", "entropy"}``;
  each event has ``resourceUrl``, ``resourceId``, ``eventDateUtc``, ``eventType``
  (CREATE/UPDATE), ``eventCategory`` (CONTACT/INVOICE/CREDITNOTE), ``tenantId``,
  ``tenantType``; credit note events also carry ``data`` with ``Type`` and ``Status``;
* ``x-xero-signature`` is the base64 HMAC-SHA256 of the raw body with the webhook key;
* intent to receive: a series of POSTs with ``"events": []`` and both sequences 0, some
  correctly and some incorrectly signed; the endpoint must answer 200 to every correctly
  signed one and 401 to every incorrectly signed one, within 5 seconds, with no body;
* a delivery needs a 200 within 5 seconds; otherwise Xero retries "with decreasing
  frequency for up to 24 hours", after which the webhook is disabled.

The batch window, the largest batch and the retry delays are not published; they are
settings here (defaults below), so tests can run the whole 24-hour schedule in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import httpx

CATEGORIES = {"Contacts": "CONTACT", "Invoices": "INVOICE", "CreditNotes": "CREDITNOTE"}
_ID_FIELDS = {"CONTACT": "ContactID", "INVOICE": "InvoiceID", "CREDITNOTE": "CreditNoteID"}
RESPONSE_SECONDS = 5.0
# Decreasing frequency over 24 hours: 1, 5, 15, 30 minutes, then hourly (24h in total).
DEFAULT_RETRY_DELAYS = [60.0, 300.0, 900.0, 1800.0] + [3600.0] * 23
MAX_LOG = 500


def sign(key: str, body: bytes) -> str:
    """Xero's ``x-xero-signature``: base64 of HMAC-SHA256(key, raw body)."""
    digest = hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def entropy() -> str:
    """A random string like Xero's (``FXNGWLCCGVANWHKILRUB``)."""
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


def event_date(when: datetime) -> str:
    """``2024-06-21T01:15:39.902``: UTC, milliseconds, no zone (the spec's examples)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}"


@dataclass
class WebhookConfig:
    """One subscription; ``client_id`` limits events to organisations that app may use."""

    url: str
    key: str
    client_id: str | None = None
    categories: list[str] = field(default_factory=lambda: sorted(set(CATEGORIES.values())))
    batch_seconds: float = 1.0
    max_events: int = 100
    retry_delays: list[float] = field(default_factory=lambda: list(DEFAULT_RETRY_DELAYS))
    timeout_seconds: float = RESPONSE_SECONDS
    api_base: str = "https://api.xero.com"

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["key"] = "***"  # the signing key is a secret
        return data


@dataclass
class _Batch:
    body: bytes
    first: int
    last: int
    attempts: int = 0
    next_at: float = 0.0


class WebhookService:
    """Queues events, runs intent to receive, delivers signed batches from one thread."""

    def __init__(self, tenants_for: Callable[[str], set[str]] | None = None) -> None:
        # Called with each payload before it is sent (the spec check under --validate).
        self.check: Callable[[bytes], None] | None = None
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tenants_for = tenants_for
        self.reset()

    # ----------------------------------------------------------------- configuration

    def reset(self) -> None:
        with self._lock:
            self.config: WebhookConfig | None = None
            self.status = "NONE"  # NONE, PENDING, OK, FAILED (intent), DISABLED (retries)
            self.intent: list[dict[str, Any]] = []
            self._events: deque[tuple[float, dict[str, Any]]] = deque()  # (queued at, event)
            self._force = False
            self._batch: _Batch | None = None
            self._sequence = 0
            self.deliveries: list[dict[str, Any]] = []

    def configure(self, config: WebhookConfig, intent_requests: int = 4) -> dict[str, Any]:
        """Subscribe ``config.url`` and run intent to receive against it (synchronously)."""
        with self._lock:
            self.reset()
            self.config = config
            self.status = "PENDING"
        return self.run_intent(intent_requests)

    def run_intent(self, count: int = 4) -> dict[str, Any]:
        """Xero's intent-to-receive check: ``count`` POSTs, half signed wrongly, in random
        order; OK only when every answer is right (200 / 401, within 5 s, no body)."""
        config = self.config
        if config is None:
            raise ValueError("no webhook is configured")
        plan = [True] * max(1, count // 2) + [False] * max(1, count - count // 2)
        random.shuffle(plan)
        results = []
        for correct in plan:
            payload = {
                "events": [],
                "firstEventSequence": 0,
                "lastEventSequence": 0,
                "entropy": entropy(),
            }
            # Not spec-checked: Xero's docs send sequences 0 here, which the spec's
            # ``minimum: 1`` would refuse; the docs describe this request, so they win.
            body = json.dumps(payload, separators=(",", ":")).encode()
            signature = sign(config.key, body) if correct else sign(config.key + "x", body)
            outcome = self._post(config, body, signature)
            expected = 200 if correct else 401
            outcome.update(correctly_signed=correct, expected=expected)
            outcome["passed"] = outcome.get("status") == expected and not outcome.get("body")
            results.append(outcome)
        with self._lock:
            self.intent = results
            self.status = "OK" if all(r["passed"] for r in results) else "FAILED"
            if self.status == "OK":
                self._ensure_thread()
        return self.describe()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "status": self.status,
                "config": self.config.public() if self.config else None,
                "intent_to_receive": list(self.intent),
                "pending_events": len(self._events) + (self._batch is not None),
                "next_sequence": self._sequence + 1,
                "deliveries": list(self.deliveries[-100:]),
            }

    # ----------------------------------------------------------------------- events

    def record(
        self,
        tenant_id: str,
        tenant_type: str,
        resource: str,
        rendered: dict[str, Any],
        created: bool,
        when: datetime,
    ) -> None:
        """Queue the event for a committed write of ``resource`` (ignored when unsubscribed)."""
        category = CATEGORIES.get(resource)
        with self._lock:
            config = self.config
            if category is None or config is None or self.status != "OK":
                return
            if category not in config.categories:
                return
            limited = config.client_id and self._tenants_for is not None
            if limited and tenant_id not in self._tenants_for(config.client_id):
                return
            resource_id = rendered[_ID_FIELDS[category]]
            event: dict[str, Any] = {
                "resourceUrl": f"{config.api_base}/api.xro/2.0/{resource}/{resource_id}",
                "resourceId": resource_id,
                "tenantId": tenant_id,
                "tenantType": tenant_type,
                "eventCategory": category,
                "eventType": "CREATE" if created else "UPDATE",
                "eventDateUtc": event_date(when),
            }
            if category == "CREDITNOTE":
                event["data"] = {"Type": rendered.get("Type"), "Status": rendered.get("Status")}
            self._events.append((time.monotonic(), event))
        self._wake.set()

    def flush(self, wait_seconds: float = 10.0) -> dict[str, Any]:
        """Send what is queued now (tests); waits until the queue is empty or a try failed."""
        deadline = time.monotonic() + wait_seconds
        with self._lock:
            self._force = True
            if self._batch is not None:
                self._batch.next_at = 0.0
        self._wake.set()
        while time.monotonic() < deadline:
            with self._lock:
                idle = not self._events and self._batch is None
                failing = self._batch is not None and self._batch.attempts > 0
            if idle or failing:
                break
            time.sleep(0.02)
        return self.describe()

    # --------------------------------------------------------------------- delivery

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.2)
            self._wake.clear()
            try:
                self._step()
            except Exception as exc:
                with self._lock:
                    self._log({"error": f"{type(exc).__name__}: {exc}"[:300]})

    def _step(self) -> None:
        with self._lock:
            config = self.config
            if config is None or self.status != "OK":
                return
            if self._batch is None and self._events:
                # Batch: wait until the oldest event is batch_seconds old or the batch is full.
                due = self._events[0][0] + config.batch_seconds <= time.monotonic()
                if due or self._force or len(self._events) >= config.max_events:
                    self._batch = self._next_batch(config)
                    self._force = bool(self._events) and self._force
            batch = self._batch
            if batch is None or time.monotonic() < batch.next_at:
                return
        signature = sign(config.key, batch.body)
        outcome = self._post(config, batch.body, signature)
        with self._lock:
            if self._batch is not batch:
                return  # reset or reconfigured meanwhile
            batch.attempts += 1
            ok = outcome.get("status") == 200
            self._log(
                {
                    **outcome,
                    "firstEventSequence": batch.first,
                    "lastEventSequence": batch.last,
                    "attempt": batch.attempts,
                    "delivered": ok,
                }
            )
            if ok:
                self._batch = None
                if self._events:
                    self._wake.set()
                return
            if batch.attempts > len(config.retry_delays):
                self.status = "DISABLED"  # Xero disables the webhook after 24 hours
                return
            batch.next_at = time.monotonic() + config.retry_delays[batch.attempts - 1]

    def _next_batch(self, config: WebhookConfig) -> _Batch:
        """Up to ``max_events`` queued events as one payload with the next sequences."""
        events = []
        while self._events and len(events) < config.max_events:
            events.append(self._events.popleft()[1])
        first = self._sequence + 1
        self._sequence += len(events)
        body = json.dumps(
            {
                "events": events,
                "firstEventSequence": first,
                "lastEventSequence": self._sequence,
                "entropy": entropy(),
            },
            separators=(",", ":"),
        ).encode()
        if self.check is not None:
            self.check(body)
        return _Batch(body=body, first=first, last=self._sequence)

    def _post(self, config: WebhookConfig, body: bytes, signature: str) -> dict[str, Any]:
        started = time.monotonic()
        try:
            response = httpx.post(
                config.url,
                content=body,
                headers={"Content-Type": "application/json", "x-xero-signature": signature},
                timeout=config.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            return {"status": None, "error": type(exc).__name__, "body": ""}
        elapsed = time.monotonic() - started
        return {
            "status": response.status_code,
            "seconds": round(elapsed, 3),
            "body": response.text[:200],
        }

    def _log(self, entry: dict[str, Any]) -> None:
        self.deliveries.append(entry)
        del self.deliveries[:-MAX_LOG]
