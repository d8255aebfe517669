"""Warehouse sync: every Xero resource the hook can read, into SQL, one task per resource.

One DAG per organisation (``xero_warehouse_sync_<key>``, from ``xero_organisations.json``).
Each run loads, for every row of the provider's resource table (contacts, invoices with
their line items, credit notes with allocations, payments, bank transactions and
transfers, quotes, purchase orders, journals, accounts, items, tax rates, and whatever
rows are added later), the records changed since the older of the interval's start and
the resource's committed position (``xero_sync_positions``). Paged lists are read oldest
change first (``order=UpdatedDateUTC ASC``) and the position moves only past stored pages,
so a run that fails part-way (a 500, the daily limit, a killed worker) leaves no gap: the
next run starts at the first change it did not store. Unpaged lists (accounts, items, bank
transfers with ``includeDeleted``, ...) are read whole every run, one call each.

Every ``sweep_every_days`` days (and with ``full_refresh``) the paged resources are read
whole too: the ID sweep. A record a whole read no longer lists (a DELETED account, a
deleted item, which Xero forgets) is marked deleted with when (``deleted_utc``), and
changes Xero does not date (a contact's ``IsSupplier``) are stored.

Unit amounts are read at 4 places (``unitdp=4``) and stored as NUMERIC. Rows are upserted
by Xero ID together with their nested lists (``xero_children``): a row and its children are
replaced only by a version at least as new, in one transaction, so this DAG and the
contact asset DAG can write at once. The Variable ``xero_warehouse_history`` (``true``)
also keeps every version (type 2) of invoices, contacts, payments, credit notes and bank
transactions in ``<table>_history``.

The warehouse is the Airflow connection named by the Variable ``xero_warehouse_conn_id``
(default ``xero_warehouse``; a ``postgres`` or ``sqlite`` connection), or a SQLite file in
``AIRFLOW_HOME`` when there is none.

The last task, the data quality check, fails when a resource was not read to the end for
``max_stale_hours``, and (every ``quality_check_every_days`` days) reads each resource
from Xero again and fails on any difference in IDs, versions, statuses, totals per record,
counts per status or the sum of totals, or when the warehouse's trial balance differs
from Xero's TrialBalance report.

Params: ``full_refresh`` reads everything; ``quality_check`` turns the check off for a run.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from xero_examples.dag_support import default_args, tags
from xero_examples.organisations import Organisation, organisations
from xero_examples.warehouse import open_warehouse, sync_resources, table_name


def build(org: Organisation):
    """The warehouse DAG for one organisation."""

    @dag(
        dag_id=f"xero_warehouse_sync_{org.key}",
        description=f"Xero -> SQL warehouse for {org.name or org.conn_id}",
        schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=tags(org, "warehouse"),
        params={
            "full_refresh": Param(False, type="boolean", description="read everything"),
            "quality_check": Param(True, type="boolean", description="compare with Xero"),
            "sweep_every_days": Param(
                7, type="integer", minimum=1, description="read paged resources whole"
            ),
            "quality_check_every_days": Param(
                1, type="integer", minimum=1, description="compare with Xero this often"
            ),
            "max_stale_hours": Param(
                36, type="integer", minimum=1, description="fail when older than this"
            ),
        },
        default_args=default_args(org),
        doc_md=__doc__,
    )
    def warehouse_sync() -> None:
        @task
        def create_tables() -> list[str]:
            """Create the warehouse tables that are missing."""
            warehouse = open_warehouse()
            try:
                warehouse.create_tables()
                return sorted(t.name for t in warehouse.metadata.sorted_tables)
            finally:
                warehouse.dispose()

        @task
        def sync(resource_name: str) -> dict:
            """Read the resource's changes from Xero and upsert them."""
            from xero_examples.sync import due, since_for, sync_resource
            from xero_provider.hooks import XeroHook
            from xero_provider.resources import get_resource

            context = get_current_context()
            params = context["params"]
            resource = get_resource(resource_name)
            warehouse = open_warehouse()
            hook = XeroHook(org.conn_id)
            sweep = due(context.get("logical_date"), params["sweep_every_days"])
            try:
                since = since_for(
                    warehouse,
                    resource,
                    org.tenant_id,
                    context.get("data_interval_start"),
                    params["full_refresh"] or sweep,
                )
                return sync_resource(
                    hook, warehouse, resource, org.tenant_id, context["run_id"], since
                )
            finally:
                hook.close()
                warehouse.dispose()

        @task(trigger_rule="all_done")
        def quality_check(results: list[dict]) -> dict:
            """Fail when a resource is stale or differs from Xero (see the DAG's doc)."""
            from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

            from xero_examples.quality import drift, stale
            from xero_examples.sync import due
            from xero_provider.hooks import XeroHook

            context = get_current_context()
            params = context["params"]
            if not params["quality_check"]:
                raise AirflowSkipException("quality_check param is off for this run")
            loaded = {r["resource"] for r in results if r}
            wanted = {r.name for r in sync_resources()}
            if loaded != wanted:
                raise AirflowFailException(f"sync tasks failed for {sorted(wanted - loaded)}")
            warehouse = open_warehouse()
            try:
                problems = stale(warehouse, org.tenant_id, params["max_stale_hours"])
                if not problems and due(
                    context.get("logical_date"), params["quality_check_every_days"]
                ):
                    hook = XeroHook(org.conn_id)
                    try:
                        problems, report = drift(hook, warehouse, org.tenant_id)
                    finally:
                        hook.close()
                else:
                    report = {"compared": False}
            finally:
                warehouse.dispose()
            if problems:
                raise AirflowFailException("warehouse differs from Xero: " + "; ".join(problems))
            return report

        tables = create_tables()
        results = []
        for resource in sync_resources():
            synced = sync.override(task_id=f"sync_{table_name(resource)[5:]}")(resource.name)
            tables >> synced
            results.append(synced)
        quality_check(results)

    return warehouse_sync()


for _org in organisations(Path(__file__).with_name("xero_organisations.json")):
    globals()[f"xero_warehouse_sync_{_org.key}"] = build(_org)
