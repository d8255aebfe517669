"""One Xero organisation (tenant): its records, history notes and an undo journal.

Every mutation goes through :meth:`Organisation.put` or :meth:`Organisation.add_history`,
so a batch written with ``summarizeErrors=true`` can be rolled back whole when one of
its elements fails, as Xero does.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Organisation:
    """A tenant's data. ``tables`` maps a resource name to its records by ID."""

    tenant_id: str
    name: str
    short_code: str = "!sandbox"
    country_code: str = "NZ"
    base_currency: str = "NZD"
    tier: str = "STANDARD"  # STARTER orgs get Xero's smaller daily limit
    tenant_type: str = "ORGANISATION"
    # Behave as a very large organisation: Xero refuses a where/order it cannot optimise.
    high_volume: bool = False
    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _journal: list[tuple[str, str, Any]] | None = field(default=None, repr=False)
    # Told of each committed change: (org, resource, record, previous or None).
    # The ledger's journals and the webhooks use it.
    listener: Callable[[Organisation, str, dict[str, Any], dict[str, Any] | None], None] | None = (
        field(default=None, repr=False)
    )

    def table(self, resource: str) -> dict[str, dict[str, Any]]:
        return self.tables.setdefault(resource, {})

    def get(self, resource: str, record_id: str) -> dict[str, Any] | None:
        """A record by ID (IDs compare case-insensitively, as Xero's GUIDs do)."""
        return self.table(resource).get(record_id.lower())

    def put(self, resource: str, record_id: str, record: dict[str, Any]) -> None:
        """Store a record (a new dict: records are replaced, never edited in place)."""
        key = record_id.lower()
        table = self.table(resource)
        previous = table.get(key)
        if self._journal is not None:
            self._journal.append(("put", f"{resource}\0{key}", previous))
        table[key] = record
        if self._journal is None:
            self._notify([("put", f"{resource}\0{key}", previous)])

    def add_history(self, record_id: str, entry: dict[str, Any]) -> None:
        key = record_id.lower()
        if self._journal is not None:
            self._journal.append(("history", key, len(self.history.get(key, []))))
        self.history.setdefault(key, []).append(entry)

    def next_number(self, sequence: str, prefix: str) -> str:
        """The next document number in a sequence (INV-0001, QU-0001, ...)."""
        if self._journal is not None:
            self._journal.append(("counter", sequence, self.counters.get(sequence, 0)))
        self.counters[sequence] = self.counters.get(sequence, 0) + 1
        return f"{prefix}{self.counters[sequence]:04d}"

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Undo every put/history/counter change if the block raises."""
        with self.lock:
            outer = self._journal
            self._journal = []
            try:
                yield
            except BaseException:
                self._rollback(self._journal)
                self._journal = outer
                raise
            else:
                committed = self._journal
                if outer is not None:
                    outer.extend(committed)
                self._journal = outer
                if outer is None:
                    self._notify(committed)

    def _notify(self, journal: list[tuple[str, str, Any]]) -> None:
        """Tell the listener of each record a committed journal changed (last state once)."""
        if self.listener is None:
            return
        first_seen: dict[str, Any] = {}
        for kind, key, previous in journal:
            if kind == "put" and key not in first_seen:
                first_seen[key] = previous
        for key, previous in first_seen.items():
            resource, record_id = key.split("\0", 1)
            record = self.table(resource).get(record_id)
            if record is not None:
                self.listener(self, resource, record, previous)

    def _rollback(self, journal: list[tuple[str, str, Any]]) -> None:
        for kind, key, previous in reversed(journal):
            if kind == "put":
                resource, record_id = key.split("\0", 1)
                if previous is None:
                    self.table(resource).pop(record_id, None)
                else:
                    self.table(resource)[record_id] = previous
            elif kind == "history":
                del self.history[key][previous:]
            elif kind == "counter":
                self.counters[key] = previous

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the data, for the control API's state dump."""
        return copy.deepcopy({"tables": self.tables, "history": self.history})


def new_id() -> str:
    """A fresh Xero-style GUID."""
    return str(uuid.uuid4())
