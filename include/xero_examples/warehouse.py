"""Load Xero records into a SQL warehouse: one table per resource, upserted by Xero ID.

Every resource table has the same columns (tenant, Xero ID, number, status, updated time,
total, the whole record as JSON), so one generic loader serves every row of the provider's
resource table. Nested lists (line items, allocations, payments, ...) also go to
``xero_children``, replaced with their parent. Nothing is ever deleted: Xero reports
deleted and voided records with a status (``DELETED``, ``VOIDED``, ``ARCHIVED``), and the
status column keeps it. An upsert only replaces a row with a version at least as new
(``UpdatedDateUTC``), so reruns and backfills of old intervals are safe.

Works on SQLite (default) and PostgreSQL: both have ``INSERT ... ON CONFLICT``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from xero_provider.formats import parse_ms_date
from xero_provider.resources import RESOURCES, Resource

CHILD_KEYS = ("LineItems", "JournalLines", "Allocations", "Payments", "CreditNotes",
              "Prepayments", "Overpayments", "Phones", "Addresses", "ContactPersons",
              "TaxComponents")  # fmt: skip
TOTAL_KEYS = ("Total", "Amount")
CHILD_AMOUNT_KEYS = ("LineAmount", "Amount", "NetAmount")  # a child's own amount
DATE_KEYS = ("Date", "JournalDate")  # the document's (accounting) date


class ExactAmount(sa.types.TypeDecorator):
    """An amount kept exactly: NUMERIC(20, 4) on PostgreSQL; decimal text on SQLite,
    whose NUMERIC columns would store a binary float."""

    impl = sa.Numeric(20, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(48))
        return dialect.type_descriptor(sa.Numeric(20, 4))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(str(value))


AMOUNT = ExactAmount()


def sync_resources() -> list[Resource]:
    """Every resource the hook can read, once: typed views (Bills = ACCPAY Invoices) are
    skipped when the table also has the whole endpoint, which already holds their rows."""
    whole = {r.path for r in RESOURCES.values() if r.type_filter is None}
    return [r for r in RESOURCES.values() if r.type_filter is None or r.path not in whole]


def table_name(resource: Resource) -> str:
    """``Contacts`` -> ``xero_contacts``, ``BankTransactions`` -> ``xero_bank_transactions``."""
    return "xero_" + re.sub(r"(?<!^)(?=[A-Z])", "_", resource.name).lower()


def parse_xero_date(value: Any) -> datetime | None:
    """Xero's ``/Date(ms+0000)/`` or an ISO string as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    when = parse_ms_date(text)
    if when is not None:
        return when.astimezone(UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _naive_utc(value: datetime | None) -> datetime | None:
    """UTC without tzinfo: SQLite keeps no offsets, so both dialects store the same."""
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def aware_utc(value: Any) -> datetime | None:
    """A stored naive-UTC value (SQLite may hand back text) as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _decimal(value: Any) -> Decimal | None:
    """Exactly the number Xero sent: ``str()`` of a JSON float is its shortest repr, which
    is the text Xero wrote for amounts of up to 15 significant digits."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def record_total(record: dict[str, Any]) -> Decimal | None:
    for key in TOTAL_KEYS:
        if key in record:
            return _decimal(record[key])
    return None


def record_version(resource: Resource, record: dict[str, Any]) -> datetime | None:
    """The record's version: its ``UpdatedDateUTC`` (or the resource's dated field)."""
    updated = resource.updated_field and record.get(resource.updated_field)
    return _naive_utc(parse_xero_date(updated)) if updated else None


def _record_date(record: dict[str, Any]) -> date | None:
    for key in DATE_KEYS:
        if record.get(key):
            try:
                return parse_xero_date(record[key]).date()
            except ValueError:
                return None
    return None


def _child_id(kind: str, child: dict[str, Any]) -> Any:
    """``LineItems`` -> ``LineItemID``; else the first field named ``...ID``."""
    own = kind[:-1] + "ID"
    if child.get(own):
        return child[own]
    return next((v for k, v in child.items() if k.endswith("ID")), None)


def _child_account(child: dict[str, Any]) -> Any:
    account = child.get("Account")
    if isinstance(account, dict) and account.get("AccountID"):
        return account["AccountID"]
    return child.get("AccountID") or child.get("AccountCode")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


class Warehouse:
    """The warehouse database: tables, upserts, sync positions and the figures the quality
    check compares.

    :param url: SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg2://...``).
    :param history: keep every version of the resources in :data:`HISTORY_RESOURCES` in
        ``<table>_history`` (type 2: valid_from, valid_to, is_current).
    """

    def __init__(self, url: str, *, history: bool = False) -> None:
        args = {"timeout": 60} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, connect_args=args, pool_pre_ping=True)
        self.metadata = sa.MetaData()
        self.children = sa.Table(
            "xero_children",
            self.metadata,
            sa.Column("tenant_id", sa.String(64), primary_key=True),
            sa.Column("resource", sa.String(64), primary_key=True),
            sa.Column("parent_id", sa.String(64), primary_key=True),
            sa.Column("kind", sa.String(64), primary_key=True),
            sa.Column("position", sa.Integer, primary_key=True),
            sa.Column("child_id", sa.String(64)),
            sa.Column("account", sa.String(64)),  # AccountID (or AccountCode) of a line
            sa.Column("quantity", AMOUNT),
            sa.Column("unit_amount", AMOUNT),
            sa.Column("amount", AMOUNT),  # LineAmount, Amount or NetAmount
            sa.Column("record", sa.Text, nullable=False),
        )
        self.positions = sa.Table(
            "xero_sync_positions",
            self.metadata,
            sa.Column("tenant_id", sa.String(64), primary_key=True),
            sa.Column("resource", sa.String(64), primary_key=True),
            sa.Column("position_utc", sa.DateTime()),  # next read starts here (inclusive)
            sa.Column("run_id", sa.String(250)),
            sa.Column("committed_at", sa.DateTime(), nullable=False),
            # When the last read that ran to the end started: every change before it is in.
            sa.Column("covered_until", sa.DateTime()),
        )
        # When the quality check last compared the warehouse with Xero and found it equal:
        # the check reads every resource, so it runs on its own cadence, not every run.
        self.comparisons = sa.Table(
            "xero_quality_checks",
            self.metadata,
            sa.Column("tenant_id", sa.String(64), primary_key=True),
            sa.Column("compared_at", sa.DateTime(), nullable=False),
            sa.Column("run_id", sa.String(250)),
        )
        from xero_examples.slices import Reads, define_tables

        # A read cut into slices over several task tries: its cursor and listed IDs.
        self.reads = Reads(self.engine, *define_tables(self.metadata))
        self.tables = {r.name: self._resource_table(r) for r in sync_resources()}
        self.history_tables: dict[str, sa.Table] = {}
        if history:
            from xero_examples.warehouse_history import HISTORY_RESOURCES, history_table

            self.history_tables = {
                r.name: history_table(self.metadata, table_name(r))
                for r in sync_resources()
                if r.name in HISTORY_RESOURCES
            }

    def _resource_table(self, resource: Resource) -> sa.Table:
        return sa.Table(
            table_name(resource),
            self.metadata,
            sa.Column("tenant_id", sa.String(64), primary_key=True),
            sa.Column("xero_id", sa.String(64), primary_key=True),
            sa.Column("number", sa.String(255)),
            sa.Column("status", sa.String(64)),
            sa.Column("updated_utc", sa.DateTime()),  # naive UTC on both dialects
            sa.Column("doc_date", sa.Date()),  # Date (JournalDate for journals)
            sa.Column("total", AMOUNT),
            sa.Column("record", sa.Text, nullable=False),
            sa.Column("loaded_at", sa.DateTime(), nullable=False),
            sa.Column("run_id", sa.String(250)),
            # Set by the ID sweep when Xero no longer lists the record (see deletions.py).
            sa.Column("deleted_utc", sa.DateTime()),
        )

    def create_tables(self) -> None:
        """Create missing tables (idempotent; safe from parallel tasks)."""
        self.metadata.create_all(self.engine, checkfirst=True)

    def table(self, resource: Resource) -> sa.Table:
        try:
            return self.tables[resource.name]
        except KeyError:
            raise ValueError(f"{resource.name} is not a warehouse table") from None

    def rows(
        self, resource: Resource, tenant_id: str, records: Iterable[dict], run_id: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The warehouse rows for ``records`` and their children; when a batch holds one
        record twice, only its newest version. Checked whole before any write."""
        now = _naive_utc(datetime.now(UTC))
        newest: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for record in records:
            xero_id = record.get(resource.id_field)
            if not xero_id:
                raise ValueError(f"{resource.name} record without {resource.id_field}: {record}")
            number = record.get(resource.number_field) if resource.number_field else None
            row = {
                "tenant_id": tenant_id,
                "xero_id": str(xero_id),
                "number": None if number is None else str(number),
                "status": record.get(resource.status_field) if resource.status_field else None,
                "updated_utc": record_version(resource, record),
                "doc_date": _record_date(record),
                "total": record_total(record),
                "record": _json(record),
                "loaded_at": now,
                "run_id": run_id,
                "deleted_utc": None,
            }
            kept = newest.get(row["xero_id"])
            if kept is None or _at_least_as_new(row["updated_utc"], kept[0]["updated_utc"]):
                newest[row["xero_id"]] = (row, record)
        rows, children = [], []
        for xero_id in sorted(newest):  # one lock order for every writer (no deadlocks)
            row, record = newest[xero_id]
            rows.append(row)
            children += self._children(resource, tenant_id, xero_id, record)
        return rows, children

    @staticmethod
    def _children(
        resource: Resource, tenant_id: str, xero_id: str, record: dict[str, Any]
    ) -> list[dict[str, Any]]:
        children = []
        for kind in CHILD_KEYS:
            for position, child in enumerate(record.get(kind) or []):
                if not isinstance(child, dict):
                    continue
                child_id = _child_id(kind, child)
                account = _child_account(child)
                amount = next((child[k] for k in CHILD_AMOUNT_KEYS if k in child), None)
                children.append(
                    {
                        "tenant_id": tenant_id,
                        "resource": resource.name,
                        "parent_id": xero_id,
                        "kind": kind,
                        "position": position,
                        "child_id": None if child_id is None else str(child_id),
                        "account": None if account is None else str(account),
                        "quantity": _decimal(child.get("Quantity")),
                        "unit_amount": _decimal(child.get("UnitAmount")),
                        "amount": _decimal(amount),
                        "record": _json(child),
                    }
                )
        return children

    def upsert(
        self, resource: Resource, tenant_id: str, records: Iterable[dict], run_id: str
    ) -> int:
        """Insert or update ``records`` (one transaction); return how many rows were written.

        A row is replaced only by a version at least as new as the stored one, and only
        when something changed (:func:`changed`): re-reading what is stored (the
        If-Modified-Since second a read resumes at, an unpaged list read whole, a sweep)
        writes nothing. Its
        children (lines, payments, phones, ...) are replaced in the same transaction only
        when the row was: the database's row lock (PostgreSQL) or write lock (SQLite)
        makes a concurrent writer wait, then re-check the version, so two writers never
        leave one version's row with another version's children.
        """
        rows, children = self.rows(resource, tenant_id, records, run_id)
        if not rows:
            return 0
        table = self.table(resource)
        written: list[str] = []
        with self.engine.begin() as conn:
            for start in range(0, len(rows), 500):
                statement = _insert(conn, table).values(rows[start : start + 500])
                newer = changed(table, statement.excluded)
                update = {
                    c.name: statement.excluded[c.name]
                    for c in table.columns
                    if c.name not in ("tenant_id", "xero_id")
                }
                statement = statement.on_conflict_do_update(
                    index_elements=["tenant_id", "xero_id"], set_=update, where=newer
                ).returning(table.c.xero_id)
                written += conn.execute(statement).scalars().all()
            chosen = set(written)
            self._replace_children(
                conn,
                resource,
                tenant_id,
                sorted(chosen),
                [c for c in children if c["parent_id"] in chosen],
            )
            if resource.name in self.history_tables:
                from xero_examples.warehouse_history import record_versions

                record_versions(
                    conn,
                    self.history_tables[resource.name],
                    [r for r in rows if r["xero_id"] in chosen],
                )
        return len(written)

    def _replace_children(
        self, conn, resource: Resource, tenant_id: str, parent_ids: list[str], children: list
    ) -> None:
        table = self.children
        for start in range(0, len(parent_ids), 500):
            conn.execute(
                table.delete().where(
                    table.c.tenant_id == tenant_id,
                    table.c.resource == resource.name,
                    table.c.parent_id.in_(parent_ids[start : start + 500]),
                )
            )
        for start in range(0, len(children), 500):
            conn.execute(table.insert(), children[start : start + 500])

    def mark_missing(
        self, resource: Resource, tenant_id: str, listed: set[str], when: datetime
    ) -> int:
        """After a whole read: mark rows Xero no longer lists as deleted (``deleted_utc``,
        and status ``DELETED`` where the resource has one); return how many.

        Xero hides DELETED accounts from its list and forgets deleted items (GET by ID
        answers 404), so a whole read's IDs are the only way their deletion shows. ``when``
        is when the read began: a row stored at a newer version (another writer, during
        the read) is not judged by it.
        """
        table = self.table(resource)
        judged = sa.or_(table.c.updated_utc.is_(None), table.c.updated_utc < _naive_utc(when))
        values: dict[str, Any] = {"deleted_utc": _naive_utc(when)}
        if resource.status_field:
            values["status"] = "DELETED"
        with self.engine.begin() as conn:
            stored = conn.execute(
                sa.select(table.c.xero_id).where(
                    table.c.tenant_id == tenant_id, table.c.deleted_utc.is_(None), judged
                )
            ).scalars()
            gone = sorted(set(stored) - listed)
            for start in range(0, len(gone), 500):
                conn.execute(
                    table.update()
                    .where(table.c.tenant_id == tenant_id)
                    .where(table.c.xero_id.in_(gone[start : start + 500]))
                    .where(table.c.deleted_utc.is_(None))
                    .values(**values)
                )
        return len(gone)

    # --- sync positions --------------------------------------------------------------------

    def position(self, resource: Resource, tenant_id: str) -> datetime | None:
        """Where the next incremental read of this resource starts (None: read everything).

        Only :meth:`commit_position` moves it, after the range before it is stored whole;
        rows other writers (the contact asset DAG) store do not move it.
        """
        table = self.positions
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(table.c.position_utc).where(
                    table.c.tenant_id == tenant_id, table.c.resource == resource.name
                )
            ).scalar()
        return aware_utc(value)

    def commit_position(
        self,
        resource: Resource,
        tenant_id: str,
        position: datetime | None,
        run_id: str,
        *,
        covered_until: datetime | None = None,
    ) -> None:
        """Move the position forward to ``position`` (never back: a backfill that re-read
        older changes does not undo a later run's progress). ``covered_until``: a read that
        started then ran to its end (what the quality check's staleness test looks at)."""
        table = self.positions
        now = _naive_utc(datetime.now(UTC))
        with self.engine.begin() as conn:
            statement = _insert(conn, table).values(
                tenant_id=tenant_id,
                resource=resource.name,
                position_utc=_naive_utc(position),
                run_id=run_id,
                committed_at=now,
                covered_until=_naive_utc(covered_until),
            )
            new = statement.excluded
            forward = sa.case(
                (table.c.position_utc.is_(None), new.position_utc),
                (new.position_utc > table.c.position_utc, new.position_utc),
                else_=table.c.position_utc,
            )
            done = new.covered_until if covered_until else table.c.covered_until
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["tenant_id", "resource"],
                    set_={
                        "position_utc": forward,
                        "run_id": new.run_id,
                        "committed_at": new.committed_at,
                        "covered_until": done,
                    },
                )
            )

    def last_complete_reads(self, tenant_id: str) -> dict[str, datetime | None]:
        """When the last read of each resource that ran to its end started (None: never)."""
        table = self.positions
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.resource, table.c.covered_until).where(
                    table.c.tenant_id == tenant_id
                )
            ).all()
        known = {r.resource: aware_utc(r.covered_until) for r in rows}
        return {r.name: known.get(r.name) for r in sync_resources()}

    def last_comparison(self, tenant_id: str) -> datetime | None:
        """When the quality check last found this organisation equal to Xero (None: never)."""
        table = self.comparisons
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(table.c.compared_at).where(table.c.tenant_id == tenant_id)
            ).scalar()
        return aware_utc(value)

    def record_comparison(self, tenant_id: str, when: datetime, run_id: str) -> None:
        """Remember a comparison that found no difference (a red one is repeated next run)."""
        table = self.comparisons
        with self.engine.begin() as conn:
            statement = _insert(conn, table).values(
                tenant_id=tenant_id, compared_at=_naive_utc(when), run_id=run_id
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["tenant_id"],
                    set_={"compared_at": statement.excluded.compared_at, "run_id": run_id},
                )
            )

    def watermark(self, resource: Resource, tenant_id: str) -> datetime | None:
        """The newest ``UpdatedDateUTC`` stored for this organisation's resource (by any
        writer: not where a sync may resume; see :meth:`position`)."""
        table = self.table(resource)
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.max(table.c.updated_utc)).where(table.c.tenant_id == tenant_id)
            ).scalar()
        return aware_utc(value)

    def figures(
        self, resource: Resource, tenant_id: str, leave_out: set[str] = frozenset()
    ) -> dict[str, Any]:
        """What the quality check compares, over rows Xero still lists (see
        :func:`summarise`); ``leave_out``: IDs changed since the last whole read."""
        table = self.table(resource)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.xero_id, table.c.status, table.c.total, table.c.updated_utc)
                .where(table.c.tenant_id == tenant_id)
                .where(table.c.deleted_utc.is_(None))
            ).all()
        return summarise(
            (r.xero_id, r.status, _decimal(r.total), aware_utc(r.updated_utc))
            for r in rows
            if r.xero_id not in leave_out
        )

    def dispose(self) -> None:
        self.engine.dispose()


def changed(table: sa.Table, new: Any) -> sa.ColumnElement[bool]:
    """When an upsert replaces a stored row: a newer version, or the same version (or
    none) carrying other content (a change Xero does not date, such as a contact's
    ``IsSupplier``, found by the sweep) or a row the sweep had marked deleted.

    An equal version with equal content is not written: Xero's If-Modified-Since is
    accurate to the second (developer.xero.com/documentation/api/requests-and-responses),
    so a read resuming at the newest stored second returns that second's records again.
    """
    stored = table.c
    not_older = sa.or_(
        stored.updated_utc.is_(None),
        new.updated_utc.is_(None),
        new.updated_utc >= stored.updated_utc,
    )
    return sa.or_(
        new.updated_utc > stored.updated_utc,
        sa.and_(
            not_older,
            sa.or_(stored.record != new.record, stored.deleted_utc.is_not(None)),
        ),
    )


def _at_least_as_new(candidate: datetime | None, stored: datetime | None) -> bool:
    return candidate is None or stored is None or candidate >= stored


def _insert(conn, table: sa.Table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ValueError(f"the warehouse supports SQLite and PostgreSQL, not {conn.dialect.name}")
    return insert(table)


Figure = tuple[str, str | None, Decimal | None, datetime | None]


def summarise(items: Iterable[Figure]) -> dict[str, Any]:
    """Per ID its (version, status, total); counts per status; the sum of totals
    (deleted and voided rows count but add 0)."""
    versions: dict[str, tuple[datetime | None, str | None, Decimal | None]] = {}
    for xero_id, status, amount, updated in items:
        versions[str(xero_id)] = (updated, status, amount)
    statuses: dict[str, int] = {}
    total = Decimal(0)
    for _, status, amount in versions.values():
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if amount is not None and status not in ("DELETED", "VOIDED"):
            total += amount
    return {
        "ids": set(versions),
        "count": len(versions),
        "total": total,
        "statuses": statuses,
        "versions": versions,
    }


def xero_figures(resource: Resource, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The same figures as :meth:`Warehouse.figures`, from records read from Xero."""
    status_field = resource.status_field
    return summarise(
        (
            str(r[resource.id_field]),
            r.get(status_field) if status_field else None,
            record_total(r),
            aware_utc(record_version(resource, r)),
        )
        for r in records
    )


def compare(resource: Resource, xero: dict[str, Any], warehouse: dict[str, Any]) -> list[str]:
    """Differences between Xero and the warehouse, as sentences (empty when equal): IDs,
    then each shared record's version, status and total, counts per status, the sum."""
    problems = []
    missing = xero["ids"] - warehouse["ids"]
    extra = warehouse["ids"] - xero["ids"]
    if missing:
        problems.append(f"{resource.name}: {len(missing)} in Xero but not in the warehouse")
    if extra:
        problems.append(f"{resource.name}: {len(extra)} in the warehouse but not in Xero")
    theirs, ours = xero.get("versions", {}), warehouse.get("versions", {})
    for label, index in (("older versions", 0), ("other statuses", 1), ("other totals", 2)):
        stale = sorted(i for i in theirs.keys() & ours.keys() if theirs[i][index] != ours[i][index])
        if stale:
            problems.append(
                f"{resource.name}: {len(stale)} with {label} than Xero (e.g. {stale[0]})"
            )
    if xero.get("statuses") != warehouse.get("statuses"):
        problems.append(
            f"{resource.name}: counts per status differ "
            f"(Xero {xero.get('statuses')}, warehouse {warehouse.get('statuses')})"
        )
    if xero["total"] != warehouse["total"]:
        problems.append(
            f"{resource.name}: totals differ (Xero {xero['total']}, warehouse {warehouse['total']})"
        )
    return problems


def open_warehouse() -> Warehouse:
    """The example DAGs' warehouse: the connection the Variable ``xero_warehouse_conn_id``
    names (default ``xero_warehouse``), else ``$AIRFLOW_HOME/xero_warehouse.db``; type 2
    history when the Variable ``xero_warehouse_history`` is ``true``."""
    import os

    from airflow.sdk import Variable

    conn_id = Variable.get("xero_warehouse_conn_id", default="xero_warehouse")
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    history = str(Variable.get("xero_warehouse_history", default="false")).lower() == "true"
    return Warehouse(warehouse_url(conn_id, home), history=history)


def warehouse_url(conn_id: str | None, airflow_home: str) -> str:
    """The SQLAlchemy URL of Airflow connection ``conn_id``; a SQLite file in AIRFLOW_HOME
    when there is no such connection.

    A ``postgres`` connection becomes ``postgresql+psycopg2://``; a ``sqlite`` connection's
    host is the file; any connection may instead set the extra ``sqlalchemy_url``.
    """
    default = f"sqlite:///{airflow_home}/xero_warehouse.db"
    if not conn_id:
        return default
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return default
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    if conn.conn_type == "sqlite":
        return f"sqlite:///{conn.host}"
    if conn.conn_type in ("postgres", "postgresql"):
        url = sa.URL.create(
            "postgresql+psycopg2",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        )
        return url.render_as_string(hide_password=False)
    raise ValueError(
        f"connection {conn_id!r} has type {conn.conn_type!r}; the warehouse needs a "
        "postgres or sqlite connection (or the extra 'sqlalchemy_url')"
    )
