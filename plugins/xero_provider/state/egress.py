"""Data egress: how many bytes Xero sent, per app, organisation, resource and day.

Since March 2026 Xero prices apps on egress (developer.xero.com/pricing: each tier
includes some GB a month, Core 10, Plus 50, Advanced 250, then a charge per GB), so a
sync's cost is its bytes. The hook tallies every response in memory (``EgressTally``, no
I/O on the hot path) and adds the tally to a table in the token store's database when it
closes (``EgressLog``), where every process sharing the store adds to the same figures.

Two figures per call: ``bytes``, the body as decoded (what Xero's JSON weighs), and
``wire_bytes``, what came over the network (smaller when the answer was compressed).
Days and months are UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore

MB = 1_000_000

metadata = sa.MetaData()
egress_table = sa.Table(
    "xero_egress",
    metadata,
    sa.Column("client_id", sa.String(200), primary_key=True),
    sa.Column("tenant", sa.String(200), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, UTC
    sa.Column("resource", sa.String(100), primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("wire_bytes", sa.BigInteger, nullable=False),
)


@dataclass
class Counts:
    calls: int = 0
    bytes: int = 0
    wire_bytes: int = 0

    def add(self, other: Counts) -> None:
        self.calls += other.calls
        self.bytes += other.bytes
        self.wire_bytes += other.wire_bytes

    @property
    def mb(self) -> float:
        return self.bytes / MB


@dataclass
class EgressTally:
    """One hook's responses so far, per resource (thread-safe; no I/O)."""

    by_resource: dict[str, Counts] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, resource: str, body_bytes: int, wire_bytes: int) -> None:
        with self._lock:
            counts = self.by_resource.setdefault(resource, Counts())
            counts.calls += 1
            counts.bytes += body_bytes
            counts.wire_bytes += wire_bytes

    def take(self) -> dict[str, Counts]:
        """The tally so far, leaving it empty (what a flush adds to the log)."""
        with self._lock:
            taken, self.by_resource = self.by_resource, {}
        return taken

    @property
    def total(self) -> Counts:
        out = Counts()
        with self._lock:
            for counts in self.by_resource.values():
                out.add(counts)
        return out


@dataclass(frozen=True)
class Usage:
    """An organisation's egress today and this month (UTC), from the shared log."""

    today: Counts
    month: Counts

    def describe(self) -> str:
        return (
            f"today {self.today.mb:.2f} MB in {self.today.calls} calls, "
            f"this month {self.month.mb:.2f} MB in {self.month.calls} calls"
        )


class EgressLog:
    """The egress table in the token store's database."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store
        store.ensure_tables(metadata)

    def add(
        self,
        client_id: str,
        tenant: str,
        counts: Mapping[str, Counts],
        now: datetime | None = None,
    ) -> None:
        """Add a tally to today's row per resource (one transaction)."""
        if not counts:
            return
        day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
        table = egress_table
        with self.store.transaction(write=True) as conn:
            for resource, c in counts.items():
                insert = self.store.insert(table).values(
                    client_id=client_id,
                    tenant=tenant,
                    day=day,
                    resource=resource[:100],
                    calls=c.calls,
                    bytes=c.bytes,
                    wire_bytes=c.wire_bytes,
                )
                conn.execute(
                    insert.on_conflict_do_update(
                        index_elements=["client_id", "tenant", "day", "resource"],
                        set_={
                            "calls": table.c.calls + c.calls,
                            "bytes": table.c.bytes + c.bytes,
                            "wire_bytes": table.c.wire_bytes + c.wire_bytes,
                        },
                    )
                )

    def usage(self, client_id: str, tenant: str, now: datetime | None = None) -> Usage:
        """Today's and this month's totals for one organisation of one app."""
        when = now or datetime.now(UTC)
        today, month = when.strftime("%Y-%m-%d"), when.strftime("%Y-%m")
        table = egress_table
        query = sa.select(
            table.c.day,
            sa.func.sum(table.c.calls),
            sa.func.sum(table.c.bytes),
            sa.func.sum(table.c.wire_bytes),
        ).where(
            table.c.client_id == client_id,
            table.c.tenant == tenant,
            table.c.day.like(f"{month}-%"),
        )
        out_today, out_month = Counts(), Counts()
        with self.store.transaction(write=False) as conn:
            for day, calls, size, wire in conn.execute(query.group_by(table.c.day)):
                counts = Counts(int(calls), int(size), int(wire))
                out_month.add(counts)
                if day == today:
                    out_today.add(counts)
        return Usage(out_today, out_month)
