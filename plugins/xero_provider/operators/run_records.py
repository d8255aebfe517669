"""Which records of a run were already written, under which chunk key, and with what result.

The hook's write ledger knows *chunks*. A retry, a clear or a rerun of an operator must
know *records*, for two reasons:

* checks that read Xero's current state (the amount due of an invoice, a quote's status)
  would otherwise see this run's own earlier write and refuse it: a payment of 100 on an
  invoice with 115 due is "more than the 15 due" once it has been made;
* chunks made by position shift once part of a batch exists (an upsert's creates become
  updates), so a chunk key must follow the records it holds, not their place in a plan.

So each keyed run keeps one index row in the ledger's table: per record identity (the
record's content and which occurrence of that content it is in the input), the chunk key
it went out under, what was sent (until the outcome is known) and the outcome. A record
with an outcome is never checked or sent again; one sent without a recorded outcome is
sent again in its original chunk, under the original key, so the hook's reconciliation
settles it; every other record is checked against Xero and written in new chunks whose
keys are derived from their identities.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xero_provider.exceptions import RecordResult, XeroInputError
from xero_provider.hooks.serialise import json_value
from xero_provider.state.write_ledger import WriteLedger


def identities(rows: list[Any]) -> dict[int, str]:
    """A stable identity per row (``None`` rows skipped): its content's digest and which
    occurrence of that content it is, so two identical payments stay two records."""
    seen: Counter[str] = Counter()
    out: dict[int, str] = {}
    for index, row in enumerate(rows):
        if row is None:
            continue
        try:
            value = json_value(row, "record")
        except XeroInputError:
            value = repr(row)
        digest = hashlib.sha256(
            json.dumps(value, sort_keys=True, default=str).encode()
        ).hexdigest()[:32]
        seen[digest] += 1
        out[index] = f"{digest}.{seen[digest]}"
    return out


def chunk_key(run_key: str, op: str, members: list[str]) -> str:
    """The key of a chunk: the run, the operation and the identities it holds."""
    digest = hashlib.sha256("\n".join(members).encode()).hexdigest()[:20]
    return f"{run_key}/{op}/{digest}"


@dataclass(frozen=True)
class Recorded:
    """One record of an earlier try: its chunk, what was sent, and the outcome if known."""

    chunk: str
    op: str
    position: int
    payload: Any
    result: dict[str, Any] | None

    def as_result(self, index: int) -> RecordResult:
        row = self.result or {}
        return RecordResult(
            index=index,
            ok=bool(row.get("ok")),
            record_id=row.get("record_id"),
            record=None,
            errors=list(row.get("errors") or []),
            status=row.get("status") or "OK",
        )


class RunRecords:
    """The index of one run key (one ledger row), read once and saved after each change."""

    def __init__(self, ledger: WriteLedger, key: str) -> None:
        self.ledger = ledger
        self.key = key
        self.entries: dict[str, dict[str, Any]] = dict(ledger.load_index(key))

    @classmethod
    def open(cls, hook: Any, resource: str, run_key: str | None) -> RunRecords | None:
        """The index for this run, organisation and resource (None without a run key)."""
        if not run_key:
            return None
        ledger, tenant = hook.write_ledger()
        return cls(ledger, f"{tenant}:{resource}:{run_key}:records")

    def get(self, identity: str) -> Recorded | None:
        entry = self.entries.get(identity)
        if not isinstance(entry, Mapping):
            return None
        return Recorded(
            chunk=str(entry.get("chunk")),
            op=str(entry.get("op")),
            position=int(entry.get("position", 0)),
            payload=entry.get("payload"),
            result=entry.get("result"),
        )

    def intend(self, chunk: str, op: str, items: list[tuple[str, Any]]) -> None:
        """Before a chunk is sent: its members, in order, with what is sent for each."""
        for position, (identity, payload) in enumerate(items):
            self.entries[identity] = {
                "chunk": chunk,
                "op": op,
                "position": position,
                "payload": json_value(payload, "record"),
                "result": None,
            }
        self.ledger.save_index(self.key, self.entries)

    def record(self, outcomes: list[tuple[str, RecordResult]]) -> None:
        """After Xero answered: each member's outcome (the payload is no longer kept)."""
        for identity, result in outcomes:
            entry = self.entries.get(identity)
            if entry is None:
                continue
            entry["payload"] = None
            entry["result"] = {
                "ok": result.ok,
                "record_id": result.record_id,
                "errors": list(result.errors or []),
                "status": result.status,
            }
        self.ledger.save_index(self.key, self.entries)
