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
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from xero_provider.formats import parse_ms_date
from xero_provider.resources import RESOURCES, Resource

CHILD_KEYS = ("LineItems", "Allocations", "Payments", "CreditNotes", "Prepayments",
              "Overpayments", "Phones", "Addresses", "ContactPersons", "TaxComponents")  # fmt: skip
TOTAL_KEYS = ("Total", "Amount")


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


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
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


class Warehouse:
    """The warehouse database: tables, upserts, and the figures the quality check compares.

    :param url: SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg2://...``).
    """

    def __init__(self, url: str) -> None:
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
            sa.Column("record", sa.Text, nullable=False),
        )
        self.tables = {r.name: self._resource_table(r) for r in sync_resources()}

    def _resource_table(self, resource: Resource) -> sa.Table:
        return sa.Table(
            table_name(resource),
            self.metadata,
            sa.Column("tenant_id", sa.String(64), primary_key=True),
            sa.Column("xero_id", sa.String(64), primary_key=True),
            sa.Column("number", sa.String(255)),
            sa.Column("status", sa.String(64)),
            sa.Column("updated_utc", sa.DateTime()),  # naive UTC on both dialects
            sa.Column("total", sa.Numeric(20, 4)),
            sa.Column("record", sa.Text, nullable=False),
            sa.Column("loaded_at", sa.DateTime(), nullable=False),
            sa.Column("run_id", sa.String(250)),
        )

    def create_tables(self) -> None:
        """Create missing tables (idempotent; safe from parallel tasks)."""
        self.metadata.create_all(self.engine, checkfirst=True)

    def table(self, resource: Resource) -> sa.Table:
        try:
            return self.tables[resource.name]
        except KeyError:
            raise ValueError(f"{resource.name} is not a warehouse table") from None

    def rows(self, resource: Resource, tenant_id: str, records: Iterable[dict], run_id: str):
        """The warehouse rows for ``records`` (a pandas DataFrame), and their children."""
        import pandas as pd

        now = datetime.now(UTC)
        rows, children = [], []
        for record in records:
            xero_id = record.get(resource.id_field)
            if not xero_id:
                raise ValueError(f"{resource.name} record without {resource.id_field}: {record}")
            updated = resource.updated_field and record.get(resource.updated_field)
            number = record.get(resource.number_field) if resource.number_field else None
            status = record.get(resource.status_field) if resource.status_field else None
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "xero_id": str(xero_id),
                    "number": None if number is None else str(number),
                    "status": status,
                    "updated_utc": _naive_utc(parse_xero_date(updated)) if updated else None,
                    "total": record_total(record),
                    "record": json.dumps(record, sort_keys=True, default=str, ensure_ascii=False),
                    "loaded_at": _naive_utc(now),
                    "run_id": run_id,
                }
            )
            for kind in CHILD_KEYS:
                for position, child in enumerate(record.get(kind) or []):
                    if not isinstance(child, dict):
                        continue
                    child_id = next((v for k, v in child.items() if k.endswith("ID")), None)
                    children.append(
                        {
                            "tenant_id": tenant_id,
                            "resource": resource.name,
                            "parent_id": str(xero_id),
                            "kind": kind,
                            "position": position,
                            "child_id": None if child_id is None else str(child_id),
                            "record": json.dumps(
                                child, sort_keys=True, default=str, ensure_ascii=False
                            ),
                        }
                    )
        return pd.DataFrame(rows, columns=[c.name for c in self.table(resource).columns]), children

    def upsert(
        self, resource: Resource, tenant_id: str, records: Iterable[dict], run_id: str
    ) -> int:
        """Insert or update ``records`` (one transaction); return how many rows were written.

        A row is replaced only by a version at least as new as the stored one.
        """
        frame, children = self.rows(resource, tenant_id, records, run_id)
        if frame.empty:
            return 0
        table = self.table(resource)
        written = 0

        def insert_or_update(_pd_table, conn, keys, data_iter) -> int:
            nonlocal written
            values = [dict(zip(keys, row, strict=True)) for row in data_iter]
            for value in values:  # pandas hands NaN/NaT for missing values
                for key in ("total", "updated_utc", "number", "status"):
                    if value[key] is not None and value[key] != value[key]:
                        value[key] = None
                if hasattr(value["updated_utc"], "to_pydatetime"):
                    value["updated_utc"] = value["updated_utc"].to_pydatetime()
            statement = _insert(conn, table).values(values)
            newer = sa.or_(
                table.c.updated_utc.is_(None),
                statement.excluded.updated_utc.is_(None),
                statement.excluded.updated_utc >= table.c.updated_utc,
            )
            update = {c: statement.excluded[c] for c in keys if c not in ("tenant_id", "xero_id")}
            result = conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["tenant_id", "xero_id"], set_=update, where=newer
                )
            )
            written += max(result.rowcount or 0, 0)
            return result.rowcount

        with self.engine.begin() as conn:
            frame.to_sql(
                table.name,
                conn,
                if_exists="append",
                index=False,
                method=insert_or_update,
                chunksize=500,
            )
            self._replace_children(conn, resource, tenant_id, frame["xero_id"].tolist(), children)
        return written

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

    def watermark(self, resource: Resource, tenant_id: str) -> datetime | None:
        """The newest ``UpdatedDateUTC`` stored for this organisation's resource."""
        table = self.table(resource)
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.max(table.c.updated_utc)).where(table.c.tenant_id == tenant_id)
            ).scalar()
        if isinstance(value, str):  # SQLite returns text for aggregates
            value = datetime.fromisoformat(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def figures(self, resource: Resource, tenant_id: str) -> dict[str, Any]:
        """What the quality check compares: IDs, row count, sum of totals (non-deleted)."""
        table = self.table(resource)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.xero_id, table.c.status, table.c.total).where(
                    table.c.tenant_id == tenant_id
                )
            ).all()
        return summarise((r.xero_id, r.status, _decimal(r.total)) for r in rows)

    def dispose(self) -> None:
        self.engine.dispose()


def _insert(conn, table: sa.Table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ValueError(f"the warehouse supports SQLite and PostgreSQL, not {conn.dialect.name}")
    return insert(table)


def summarise(items: Iterable[tuple[str, str | None, Decimal | None]]) -> dict[str, Any]:
    """IDs, count and total over (id, status, total); deleted/voided rows count but add 0."""
    ids: set[str] = set()
    total = Decimal(0)
    for xero_id, status, amount in items:
        ids.add(str(xero_id))
        if amount is not None and status not in ("DELETED", "VOIDED"):
            total += amount
    return {"ids": ids, "count": len(ids), "total": total}


def xero_figures(resource: Resource, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The same figures as :meth:`Warehouse.figures`, from records read from Xero."""
    status_field = resource.status_field
    return summarise(
        (
            str(r[resource.id_field]),
            r.get(status_field) if status_field else None,
            record_total(r),
        )
        for r in records
    )


def compare(resource: Resource, xero: dict[str, Any], warehouse: dict[str, Any]) -> list[str]:
    """Differences between Xero and the warehouse, as sentences (empty when equal)."""
    problems = []
    missing = xero["ids"] - warehouse["ids"]
    extra = warehouse["ids"] - xero["ids"]
    if missing:
        problems.append(f"{resource.name}: {len(missing)} in Xero but not in the warehouse")
    if extra:
        problems.append(f"{resource.name}: {len(extra)} in the warehouse but not in Xero")
    if xero["total"] != warehouse["total"]:
        problems.append(
            f"{resource.name}: totals differ (Xero {xero['total']}, warehouse {warehouse['total']})"
        )
    return problems


def open_warehouse() -> Warehouse:
    """The example DAGs' warehouse: the connection the Variable ``xero_warehouse_conn_id``
    names (default ``xero_warehouse``), else ``$AIRFLOW_HOME/xero_warehouse.db``."""
    import os

    from airflow.sdk import Variable

    conn_id = Variable.get("xero_warehouse_conn_id", default="xero_warehouse")
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    return Warehouse(warehouse_url(conn_id, home))


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
