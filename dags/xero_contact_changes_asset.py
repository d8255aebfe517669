"""Event-driven: Xero contact changes -> an asset event -> this DAG upserts them.

One asset and one DAG per organisation. The asset ``xero://<tenant>/Contacts``
(``xero_provider.assets.xero_asset``: the name Xero's webhooks reach too) has an
``AssetWatcher`` whose ``XeroChangesEventTrigger`` polls Xero in the triggerer (every
``poll_interval`` seconds) and fires one asset event per batch of changed contacts, from
a position it keeps in the provider's store and commits only once Airflow stored the event,
so a triggerer restart never loses a batch. A triggerer killed between storing an event and
committing its position emits that batch again (same ``batch_key``); the task claims each
batch once (``claim_batches``), so the replay's run skips it and says so in its log. Each
event starts a run of this DAG (no schedule to tune, no sensor slot
held), which reads the contacts by ID and upserts them into the warehouse's
``xero_contacts`` table: the warehouse follows Xero within a minute between the nightly
syncs. The watcher starts when the DAG is unpaused, from the changes after that moment.

Where Xero's webhooks are set up (``/xero/webhooks``, see the README), each delivery for a
contact is an asset event on the same asset, so a run starts within seconds of the change
and the watcher's polling is only the safety net. A change seen by both arrives twice;
the upsert is idempotent, so the second run rewrites the same row.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Asset, AssetWatcher, dag, task

from xero_examples.dag_support import MAX_ACTIVE_TASKS, default_args, tags
from xero_examples.organisations import Organisation, organisations
from xero_provider.assets import xero_asset
from xero_provider.triggers import XeroChangesEventTrigger


def contacts_asset(org: Organisation) -> Asset:
    return xero_asset(
        org.tenant_id,
        "Contacts",
        watchers=[
            AssetWatcher(
                name=f"xero_contacts_{org.key}_watcher",
                trigger=XeroChangesEventTrigger(
                    resource="Contacts",
                    watermark=f"asset-contacts-{org.key}",
                    xero_conn_id=org.conn_id,
                    settle_seconds=5,
                    poll_interval=10,
                ),
            )
        ],
    )


def build(org: Organisation):
    asset = contacts_asset(org)

    @dag(
        dag_id=f"xero_contact_changes_asset_{org.key}",
        description=f"Contact changes (asset events) -> warehouse ({org.name or org.conn_id})",
        schedule=[asset],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=tags(org, "asset", "contacts", "warehouse"),
        default_args=default_args(org),
        max_active_tasks=MAX_ACTIVE_TASKS,
        doc_md=__doc__,
    )
    def contact_changes_asset() -> None:
        @task
        def upsert_changed_contacts(triggering_asset_events=None, run_id=None) -> dict:
            """Read the event's contacts by ID and upsert them (archived included)."""
            from xero_examples.warehouse import open_warehouse
            from xero_provider.batch_claims import claim_batches
            from xero_provider.hooks import XeroHook
            from xero_provider.resources import get_resource

            batches = claim_batches(
                triggering_asset_events,
                xero_conn_id=org.conn_id,
                consumer=f"xero_contact_changes_asset_{org.key}",
                run_id=run_id,
            )
            ids = sorted({i for batch in batches for i in batch.get("ids", [])})
            if not ids:
                return {"ids": 0, "written": 0}
            contacts = get_resource("Contacts")
            hook = XeroHook(org.conn_id)
            warehouse = open_warehouse()
            try:
                warehouse.create_tables()
                records = list(hook.iter_records(contacts, ids=ids, include_archived=True))
                written = warehouse.upsert(contacts, org.tenant_id, records, run_id)
            finally:
                hook.close()
                warehouse.dispose()
            return {"ids": len(ids), "written": written}

        upsert_changed_contacts()

    return contact_changes_asset()


for _org in organisations():
    globals()[f"xero_contact_changes_asset_{_org.key}"] = build(_org)
