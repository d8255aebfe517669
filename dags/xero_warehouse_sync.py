"""Warehouse sync: every Xero resource the hook can read, into SQL, one task per resource.

One DAG per organisation (``xero_warehouse_sync_<key>``, from ``xero_organisations.json``).
Each run loads, for every row of the provider's resource table (contacts, invoices with
their line items, credit notes with allocations, payments, bank transactions and
transfers, quotes, purchase orders, accounts, items, tax rates, and whatever rows are
added later), the records changed since the older of the interval's start and the newest
``UpdatedDateUTC`` already stored: a failed or skipped run leaves no gap, and a backfill of
old intervals just re-reads more. Resources Xero cannot filter by date are read whole.

Archived contacts and invoices are read too (the hook's ``include_archived``). Rows are
upserted by Xero ID (a row is replaced only by a version at least as new), nested lists go
to ``xero_children``, and deleted, voided or archived records stay with their status.
Reruns, clears and backfills write the same rows again, never twice.

The warehouse is the Airflow connection named by the Variable ``xero_warehouse_conn_id``
(default ``xero_warehouse``; a ``postgres`` or ``sqlite`` connection), or a SQLite file in
``AIRFLOW_HOME`` when there is none.

The last task, the data quality check, reads each resource from Xero again and fails if the
IDs or the sum of totals (deleted and voided excluded) differ from the warehouse.

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
            "lean": Param(
                False,
                type="boolean",
                description="less egress: Xero's summaryOnly lists (no contact addresses, "
                "no invoice line items or payments)",
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
            from xero_examples.sync import since_for, sync_resource
            from xero_provider.hooks import XeroHook
            from xero_provider.resources import get_resource

            context = get_current_context()
            params = context["params"]
            resource = get_resource(resource_name)
            warehouse = open_warehouse()
            hook = XeroHook(org.conn_id)
            try:
                since = since_for(
                    warehouse,
                    resource,
                    org.tenant_id,
                    context.get("data_interval_start"),
                    params["full_refresh"],
                )
                return sync_resource(
                    hook,
                    warehouse,
                    resource,
                    org.tenant_id,
                    context["run_id"],
                    since,
                    lean=params.get("lean", False),
                )
            finally:
                hook.close()
                warehouse.dispose()

        @task(trigger_rule="all_done")
        def quality_check(results: list[dict]) -> dict:
            """Fail unless every resource's IDs and totals in the warehouse equal Xero's."""
            from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

            from xero_examples.sync import read_options
            from xero_examples.warehouse import compare, xero_figures
            from xero_provider.hooks import XeroHook

            if not get_current_context()["params"]["quality_check"]:
                raise AirflowSkipException("quality_check param is off for this run")
            loaded = {r["resource"] for r in results if r}
            skipped = {r["resource"] for r in results if r and r.get("skipped")}  # app tier
            wanted = {r.name for r in sync_resources()}
            if loaded != wanted:
                raise AirflowFailException(f"sync tasks failed for {sorted(wanted - loaded)}")
            warehouse = open_warehouse()
            hook = XeroHook(org.conn_id)
            problems, report = [], {}
            try:
                for resource in sync_resources():
                    if resource.name in skipped:
                        report[resource.name] = {"skipped": "not in the app's Xero tier"}
                        continue
                    ours = warehouse.figures(resource, org.tenant_id)
                    lean = get_current_context()["params"].get("lean", False)
                    records = hook.iter_records(resource, **read_options(resource, lean))
                    theirs = xero_figures(resource, records)
                    problems += compare(resource, theirs, ours)
                    report[resource.name] = {"rows": ours["count"], "total": str(ours["total"])}
            finally:
                hook.close()
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
