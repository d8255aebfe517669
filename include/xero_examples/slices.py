"""A read that spans several task tries: where it is, and every ID it has listed.

A sync task that reads a bounded slice of pages per try (``pages_per_slice``) hands the
rest of its read to a later try instead of holding a worker slot (issue 23: a heavy
organisation must not starve the light ones). What a later slice needs is kept here, in
the warehouse, keyed by organisation, resource and run:

- the read's own cursor: the newest version (Journals: the highest number) it has stored.
  Not the resource's position (``xero_sync_positions``), which never moves back and may
  already be past the records a full read has yet to list;
- when the read began and from where (``since``): a whole read's deletion check judges
  rows by when it began, and the position's ``covered_until`` is that time too;
- every ID it has listed, so that a whole read cut into slices finds exactly the rows
  Xero no longer lists, and counts each record once however often a resumed slice
  re-reads the second it resumes at.

Order of writes per page: IDs, then rows, then the cursor. A worker killed between any
two of them leaves IDs of records Xero did list (harmless) and a cursor at or before the
stored rows (the next slice re-reads, never skips).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


def define_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The reads table and the listed-IDs table, in the warehouse's metadata."""
    reads = sa.Table(
        "xero_sync_reads",
        metadata,
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("since_utc", sa.DateTime()),  # None: a whole read
        sa.Column("started_utc", sa.DateTime(), nullable=False),
        sa.Column("cursor_utc", sa.DateTime()),  # newest version stored by this read
        sa.Column("cursor_number", sa.BigInteger()),  # Journals: highest number stored
        sa.Column("written", sa.Integer, nullable=False, default=0),
        sa.Column("slices", sa.Integer, nullable=False, default=0),
    )
    listed = sa.Table(
        "xero_sync_read_ids",
        metadata,
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("xero_id", sa.String(64), primary_key=True),
    )
    return reads, listed


@dataclass
class Read:
    """One run's read of one resource, as stored between its slices."""

    tenant_id: str
    resource: str
    run_id: str
    since: datetime | None
    started: datetime
    cursor: datetime | None = None
    cursor_number: int | None = None
    written: int = 0
    slices: int = 0


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` (PostgreSQL and SQLite, the warehouse's dialects)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _key(table: sa.Table, tenant_id: str, resource: str, run_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        table.c.tenant_id == tenant_id, table.c.resource == resource, table.c.run_id == run_id
    )


class Reads:
    """The reads under way in one warehouse (see the module doc)."""

    def __init__(self, engine: sa.Engine, reads: sa.Table, listed: sa.Table) -> None:
        self.engine, self.reads, self.listed = engine, reads, listed

    def begin(self, tenant_id: str, resource: str, run_id: str, since: datetime | None) -> Read:
        """This run's read of the resource: the one under way, else a new one from
        ``since`` (dropping what other runs left unfinished: their reads restart)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(self.reads).where(_key(self.reads, tenant_id, resource, run_id))
            ).first()
            if row is not None:
                return Read(
                    tenant_id,
                    resource,
                    run_id,
                    _aware(row.since_utc),
                    _aware(row.started_utc),
                    _aware(row.cursor_utc),
                    row.cursor_number,
                    row.written,
                    row.slices,
                )
            for table in (self.listed, self.reads):
                conn.execute(
                    table.delete().where(
                        table.c.tenant_id == tenant_id, table.c.resource == resource
                    )
                )
            read = Read(tenant_id, resource, run_id, since, datetime.now(UTC))
            conn.execute(
                self.reads.insert().values(
                    tenant_id=tenant_id,
                    resource=resource,
                    run_id=run_id,
                    since_utc=_naive(since),
                    started_utc=_naive(read.started),
                    written=0,
                    slices=0,
                )
            )
        return read

    def list_ids(self, read: Read, ids: set[str]) -> None:
        """Remember IDs this read has listed (before their rows are stored)."""
        if not ids:
            return
        key = {"tenant_id": read.tenant_id, "resource": read.resource, "run_id": read.run_id}
        rows = [{**key, "xero_id": i} for i in sorted(ids)]
        with self.engine.begin() as conn:
            for start in range(0, len(rows), 500):
                statement = _insert(conn, self.listed).values(rows[start : start + 500])
                conn.execute(statement.on_conflict_do_nothing())

    def advance(self, read: Read, written: int) -> None:
        """Store the read's cursor and count (after its rows are stored)."""
        read.written += written
        with self.engine.begin() as conn:
            conn.execute(
                self.reads.update()
                .where(_key(self.reads, read.tenant_id, read.resource, read.run_id))
                .values(
                    cursor_utc=_naive(read.cursor),
                    cursor_number=read.cursor_number,
                    written=self.reads.c.written + written,
                )
            )

    def end_slice(self, read: Read) -> None:
        """Count a slice that stopped with more to read."""
        read.slices += 1
        with self.engine.begin() as conn:
            conn.execute(
                self.reads.update()
                .where(_key(self.reads, read.tenant_id, read.resource, read.run_id))
                .values(slices=self.reads.c.slices + 1)
            )

    def ids(self, read: Read) -> set[str]:
        """Every ID this read has listed, across its slices."""
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    sa.select(self.listed.c.xero_id).where(
                        _key(self.listed, read.tenant_id, read.resource, read.run_id)
                    )
                ).scalars()
            )

    def finish(self, read: Read) -> None:
        """Forget a read that ran to its end (a rerun of its task starts a new one)."""
        with self.engine.begin() as conn:
            for table in (self.listed, self.reads):
                conn.execute(
                    table.delete().where(_key(table, read.tenant_id, read.resource, read.run_id))
                )
