"""Warehouse sync: every Xero resource the hook can read, into SQL, one task per resource.

One DAG per organisation (``xero_warehouse_sync_<key>``, one per ``xero`` connection).
When the organisations outnumber the task slots (every run at 02:00), the scheduler
reads every organisation's first resource before anyone's second, and so on
(``interleaved`` weights): no organisation waits for others' whole syncs. A sync task
reads at most ``pages_per_slice`` pages a try, then gives its worker slot back and
continues a few seconds later where it stopped (``next_slice``; its place and the IDs it
listed are kept in ``xero_sync_reads``): an organisation with many pages reads them in
many short steps among the others' instead of holding slots for the whole read.
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
``max_stale_hours`` (no call to Xero). On its own cadence (``quality_check_every_hours``,
default weekly, counted from the last comparison that found no difference; always with
``full_refresh``) it also reads each resource from Xero (``summaryOnly`` where Xero's list
takes it: it compares no lines) and fails on any difference in IDs, versions, statuses,
totals per record, counts per status or the sum of totals, or when the warehouse's trial
balance (from its journals, or from its documents and payments on a tier without
Journals) differs from Xero's TrialBalance report.

An incremental run with nothing changed costs one call per resource and rewrites no row:
an upsert skips a record whose version and content equal the stored row's.

Params: ``full_refresh`` reads everything; ``quality_check`` turns the check off for a run;
``lean`` reads Xero's summaryOnly lists; ``journals`` off leaves Journals unread (the
trial balance is then checked from the documents and payments, as on tiers without them).
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from xero_examples.dag_support import (
    MAX_ACTIVE_TASKS,
    PAGES_PER_SLICE,
    default_args,
    interleaved,
    next_slice,
    tags,
)
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
            "quality_check_every_hours": Param(
                168,
                type="integer",
                minimum=1,
                description="compare with Xero this often (reads every resource; a full "
                "refresh always compares)",
            ),
            "max_stale_hours": Param(
                36, type="integer", minimum=1, description="fail when older than this"
            ),
            "pages_per_slice": Param(
                PAGES_PER_SLICE,
                type="integer",
                minimum=0,
                description="pages a sync task reads before it gives its worker slot to "
                "others' tasks and continues later (0: the whole read at once)",
            ),
            "lean": Param(
                False,
                type="boolean",
                description="less egress: Xero's summaryOnly lists (no contact addresses, "
                "no invoice line items or payments)",
            ),
            "journals": Param(
                True,
                type="boolean",
                description="read Journals (Advanced tier and above); off: the trial balance "
                "is checked from documents and payments (needs invoice lines: lean off), "
                "about 40% less egress",
            ),
        },
        default_args=default_args(org),
        max_active_tasks=MAX_ACTIVE_TASKS,
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
            from xero_examples.sync import (
                LEDGER_FROM_DOCUMENTS,
                due,
                since_for,
                skipped_for_tier,
                sync_resource,
            )
            from xero_provider.hooks import XeroHook
            from xero_provider.resources import get_resource

            context = get_current_context()
            params = context["params"]
            resource = get_resource(resource_name)
            if resource.paging == "offset" and not params.get("journals", True):
                return skipped_for_tier(resource, None, LEDGER_FROM_DOCUMENTS)
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
                result = sync_resource(
                    hook,
                    warehouse,
                    resource,
                    org.tenant_id,
                    context["run_id"],
                    since,
                    lean=params.get("lean", False),
                    max_pages=params.get("pages_per_slice", PAGES_PER_SLICE),
                )
            finally:
                hook.close()
                warehouse.dispose()
            return next_slice(result)  # more to read: give the slot back, continue later

        @task(trigger_rule="all_done")
        def quality_check(results: list[dict]) -> dict:
            """Fail when a resource is stale or differs from Xero (see the DAG's doc)."""
            from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

            from xero_examples.quality import comparison_due, drift, stale
            from xero_provider.hooks import XeroHook

            context = get_current_context()
            params = context["params"]
            if not params["quality_check"]:
                raise AirflowSkipException("quality_check param is off for this run")
            loaded = {r["resource"] for r in results if r}
            skipped = {r["resource"] for r in results if r and r.get("skipped")}  # app tier
            wanted = {r.name for r in sync_resources()}
            if loaded != wanted:
                raise AirflowFailException(f"sync tasks failed for {sorted(wanted - loaded)}")
            warehouse = open_warehouse()
            try:
                problems = stale(warehouse, org.tenant_id, params["max_stale_hours"], skip=skipped)
                report: dict = {"compared": False}
                if not problems and comparison_due(
                    warehouse,
                    org.tenant_id,
                    params["quality_check_every_hours"],
                    force=params["full_refresh"],
                ):
                    started = datetime.now(UTC)
                    hook = XeroHook(org.conn_id)
                    try:
                        problems, report = drift(hook, warehouse, org.tenant_id, skip=skipped)
                    finally:
                        hook.close()
                    if not problems:
                        warehouse.record_comparison(org.tenant_id, started, context["run_id"])
                elif not problems:
                    last = warehouse.last_comparison(org.tenant_id)
                    report["last_compared"] = last.isoformat() if last else None
            finally:
                warehouse.dispose()
            if problems:
                raise AirflowFailException("warehouse differs from Xero: " + "; ".join(problems))
            return report

        # Each step's weight falls along the DAG (interleaved): with every organisation's
        # run at 02:00 and more organisations than task slots, every organisation's first
        # resource is read before anyone's second, and all finish in the last wave.
        resources = sync_resources()
        tables = create_tables.override(**interleaved(0))()
        results = []
        for step, resource in enumerate(resources, 1):
            synced = sync.override(task_id=f"sync_{table_name(resource)[5:]}", **interleaved(step))(
                resource.name
            )
            tables >> synced
            results.append(synced)
        quality_check.override(**interleaved(len(resources) + 1))(results)

    return warehouse_sync()


for _org in organisations():
    globals()[f"xero_warehouse_sync_{_org.key}"] = build(_org)
