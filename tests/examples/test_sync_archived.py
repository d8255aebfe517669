"""The warehouse sync step keeps archived records: it reads with ``include_archived``."""

from __future__ import annotations

import sqlalchemy as sa

from xero_examples.sync import read_options, sync_resource
from xero_examples.warehouse import Warehouse, sync_resources
from xero_provider.hooks import XeroHook
from xero_provider.resources import get_resource


def test_read_options_ask_for_archived_records_only_where_xero_takes_the_flag() -> None:
    asked = {r.name for r in sync_resources() if read_options(r)["include_archived"]}
    assert asked == {"Contacts", "Invoices", "TrackingCategories"}


def test_sync_stores_an_archived_contact_with_its_status(sandbox, monkeypatch, tmp_path) -> None:
    from tests.provider.connections import xero_connection

    contacts = get_resource("Contacts")
    hook = XeroHook(xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db"))
    warehouse = Warehouse(f"sqlite:///{tmp_path}/warehouse.db")
    warehouse.create_tables()
    try:
        active = next(c for c in hook.iter_records(contacts) if c["ContactStatus"] == "ACTIVE")
        [result] = hook.update(
            contacts, [{"ContactID": active["ContactID"], "ContactStatus": "ARCHIVED"}]
        )
        assert result.ok, result.errors
        tenant = sandbox.demo.tenant_id
        summary = sync_resource(hook, warehouse, contacts, tenant, "run-1")
        table = warehouse.table(contacts)
        with warehouse.engine.connect() as conn:
            statuses = dict(conn.execute(sa.select(table.c.xero_id, table.c.status)).all())
    finally:
        hook.close()
        warehouse.dispose()
    assert statuses[active["ContactID"]] == "ARCHIVED"
    assert summary["seen"] == len(statuses)
