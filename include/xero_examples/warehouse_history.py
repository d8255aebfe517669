"""Type 2 history beside the current tables: every version of a record, with when it held.

``<table>_history`` has one row per (record, version): ``valid_from`` is the version's
``UpdatedDateUTC``, ``valid_to`` the next version's (None while current) and ``is_current``
marks the newest. Written in the upsert's transaction, only for rows the upsert wrote, so
history and the current table never disagree. Kept for what finance teams audit: invoices
and bills (one ``Invoices`` table), contacts, payments, credit notes, bank transactions.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from xero_examples.warehouse import AMOUNT

HISTORY_RESOURCES = frozenset(
    {"Invoices", "Contacts", "Payments", "CreditNotes", "BankTransactions"}
)


def history_table(metadata: sa.MetaData, current_name: str) -> sa.Table:
    """The history table of ``current_name`` (``xero_invoices`` -> ``xero_invoices_history``)."""
    return sa.Table(
        f"{current_name}_history",
        metadata,
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("xero_id", sa.String(64), primary_key=True),
        sa.Column("valid_from", sa.DateTime(), primary_key=True),  # this version's UpdatedDateUTC
        sa.Column("valid_to", sa.DateTime()),  # the next version's; None while current
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(64)),
        sa.Column("total", AMOUNT),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(250)),
    )


def record_versions(conn: Any, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Add each written row as a version: the same version again replaces its row (Xero
    changed a field without a new UpdatedDateUTC); a newer one closes the current one.

    Runs inside the upsert's transaction, after the current row was locked and written,
    so versions of one record are added one writer at a time.
    """
    for row in rows:
        version = row["updated_utc"]
        if version is None:  # an undated resource has no versions to keep
            continue
        key = (table.c.tenant_id == row["tenant_id"]) & (table.c.xero_id == row["xero_id"])
        values = {
            "status": row["status"],
            "total": row["total"],
            "record": row["record"],
            "run_id": row["run_id"],
        }
        same = conn.execute(
            table.update().where(key, table.c.valid_from == version).values(**values)
        )
        if same.rowcount:
            continue
        # The upsert writes only versions at least as new as the current row, so a new
        # version is the newest: it closes the current one.
        conn.execute(
            table.update()
            .where(key, table.c.is_current.is_(True))
            .values(is_current=False, valid_to=version)
        )
        conn.execute(
            table.insert().values(
                tenant_id=row["tenant_id"],
                xero_id=row["xero_id"],
                valid_from=version,
                valid_to=None,
                is_current=True,
                **values,
            )
        )
