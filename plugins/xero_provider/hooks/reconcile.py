"""Settle a keyed chunk whose outcome was never recorded, before sending anything again.

The process died after sending the chunk and before recording Xero's answer. Xero may or
may not have created the records, and once its Idempotency-Key window (about 6 minutes,
API_NOTES.md) is over a resend would create them twice. So, for a create:

* each record with a natural key (a contact's ``Name``, which Xero keeps unique; an
  invoice, credit note, quote or purchase order number; an item ``Code``; a bank
  transaction's or payment's ``Reference``) is looked up in Xero: found means written
  (result status ``RECONCILED``), not found means it may be sent again;
* a record without one cannot be told apart from an existing one. It is sent again
  under the chunk's *same* Idempotency-Key only while the intent is younger than
  :data:`REPLAY_SAFE_SECONDS` (well inside Xero's window, so Xero replays rather than
  creates); otherwise it is not sent and its result says ``UNRECONCILED``: nothing is
  silently duplicated.

Updates name their records by ID and set the same values again, so an update chunk is
simply sent again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from xero_provider.exceptions import RecordResult
from xero_provider.hooks.planning import ListPlan, WriteChunk
from xero_provider.resources import Resource

# Well inside Xero's ~6 minute Idempotency-Key window: a resend under the same key replays.
REPLAY_SAFE_SECONDS = 120.0
# Natural keys per resource (resource table name -> field); values must be unique enough
# that "a record with this value exists" means "this record was written".
NATURAL_KEYS: dict[str, str] = {
    "Contacts": "Name",
    "Invoices": "InvoiceNumber",
    "SalesInvoices": "InvoiceNumber",
    "Bills": "InvoiceNumber",
    "CreditNotes": "CreditNoteNumber",
    "Items": "Code",
    "BankTransactions": "Reference",
    "Payments": "Reference",
}
MAX_LOOKUP_VALUES = 40  # values per where filter (the query must stay under ~2,000 chars)


def _quoted(value: str) -> str:
    return json.dumps(value)  # Xero's filter strings use C#-style escapes, as JSON does


@dataclass
class Reconciliation:
    """What to look up, and after the lookup which records to send and which are settled."""

    resource: Resource
    chunk: WriteChunk
    intent_age_seconds: float
    update: bool
    lookups: list[ListPlan] = field(default_factory=list)
    key_field: str | None = None
    _by_value: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def plan(
        cls, resource: Resource, chunk: WriteChunk, intent_at: datetime, *, update: bool
    ) -> Reconciliation:
        age = (datetime.now(UTC) - intent_at).total_seconds()
        self = cls(resource, chunk, age, update)
        key_field = NATURAL_KEYS.get(resource.name)
        if update or key_field is None or not resource.supports_where:
            return self
        self.key_field = key_field
        for position, record in enumerate(chunk.records):
            value = record.get(key_field)
            if isinstance(value, str) and value.strip():
                self._by_value.setdefault(value, []).append(position)
        values = list(self._by_value)
        for start in range(0, len(values), MAX_LOOKUP_VALUES):
            part = values[start : start + MAX_LOOKUP_VALUES]
            where = " OR ".join(f"{key_field}=={_quoted(v)}" for v in part)
            self.lookups.append(ListPlan.build(resource, where=where))
        return self

    @property
    def replay_is_safe(self) -> bool:
        return self.intent_age_seconds < REPLAY_SAFE_SECONDS

    def settle(self, found: list[dict[str, Any]]) -> tuple[list[int], list[RecordResult], bool]:
        """From the records the lookups returned: (positions to send, settled results,
        whether to reuse the chunk's Idempotency-Key for the send)."""
        if self.update:
            return list(range(len(self.chunk.records))), [], True
        existing: dict[str, dict[str, Any]] = {}
        for record in found:
            value = record.get(self.key_field or "")
            if isinstance(value, str):
                existing.setdefault(value, record)
        settled: list[RecordResult] = []
        send: list[int] = []
        for position, record in enumerate(self.chunk.records):
            index = self.chunk.offset + position
            value = record.get(self.key_field) if self.key_field else None
            if isinstance(value, str) and value in existing:
                match = existing[value]
                settled.append(
                    RecordResult(
                        index=index,
                        ok=True,
                        record_id=match.get(self.resource.id_field),
                        record=match,
                        status="RECONCILED",
                    )
                )
            elif isinstance(value, str) and value.strip():
                send.append(position)  # looked up and absent: the earlier send did not land
            elif self.replay_is_safe:
                send.append(position)
            else:
                settled.append(
                    RecordResult(
                        index=index,
                        ok=False,
                        errors=[
                            f"cannot reconcile: an earlier run sent this record "
                            f"{int(self.intent_age_seconds)} s ago and died before recording "
                            f"Xero's answer, and {self.resource.name} records without "
                            f"{self.key_field or 'a natural key'} cannot be looked up; check "
                            "Xero, then write what is missing under a new idempotency_key"
                        ],
                        status="UNRECONCILED",
                    )
                )
        # Same key only if everything is resent and Xero may still replay the first answer.
        same_key = self.replay_is_safe and len(send) == len(self.chunk.records) and not settled
        return send, settled, same_key
