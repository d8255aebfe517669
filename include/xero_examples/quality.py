"""The warehouse's quality check: is it stale, and does it differ from Xero anywhere?"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from xero_examples.ledger import LinesMissing
from xero_examples.sync import last_number, read_options
from xero_examples.trial_balance import (
    documents_trial_balance,
    trial_balance_differences,
    warehouse_trial_balance,
    xero_trial_balance,
)
from xero_examples.warehouse import (
    Warehouse,
    aware_utc,
    compare,
    record_version,
    sync_resources,
    xero_figures,
)
from xero_provider.resources import Resource


def stale(
    warehouse: Warehouse,
    tenant_id: str,
    max_hours: float,
    now: datetime | None = None,
    skip: Collection[str] = (),
) -> list[str]:
    """The resources not read to the end within ``max_hours`` (no call to Xero): a run
    that keeps failing part-way turns the check red instead of leaving it green. ``skip``:
    resources the app's Xero tier does not serve (the sync skipped them with a note)."""
    now = now or datetime.now(UTC)
    limit = now - timedelta(hours=max_hours)
    problems = []
    for name, completed in sorted(warehouse.last_complete_reads(tenant_id).items()):
        if name in skip:
            continue
        if completed is None:
            problems.append(f"{name}: never read to the end")
        elif completed < limit:
            problems.append(f"{name}: stale, last read to the end at {completed.isoformat()}")
    return problems


def comparison_due(
    warehouse: Warehouse,
    tenant_id: str,
    every_hours: float,
    now: datetime | None = None,
    force: bool = False,
) -> bool:
    """Whether the quality check compares with Xero this run: when forced (a full
    refresh), when it never found the warehouse equal, or when it last did ``every_hours``
    ago or more. A comparison reads every resource, so it keeps its own cadence however
    often the sync runs; a red one is not recorded, so the next run compares again."""
    if force:
        return True
    last = warehouse.last_comparison(tenant_id)
    now = now or datetime.now(UTC)
    return last is None or now - last >= timedelta(hours=every_hours)


def compare_options(resource: Resource) -> dict[str, Any]:
    """What the check reads to compare: the sync's options (archived, deleted, exact
    amounts), with Xero's ``summaryOnly`` where the list takes it: the check compares
    IDs, versions, statuses and totals, never lines, addresses or payments."""
    return read_options(resource, lean=True)


def _unread_journals(
    hook: Any,
    warehouse: Warehouse,
    resource: Resource,
    tenant_id: str,
    since: datetime | None,
    report: dict[str, Any],
) -> list[str]:
    """Journals never change once posted and are stored gap-free by number (Xero's
    ``offset``), so the check reads only those numbered after the newest stored (one call
    when none is missing) and leaves their amounts to the trial balance, which compares
    every line's sum per account to the cent."""
    newest = last_number(warehouse, resource, tenant_id)
    unread = [
        r
        for r in hook.iter_records(resource, after_number=newest)
        if not (since and (version := aware_utc(record_version(resource, r))) and version >= since)
    ]
    report[resource.name] = {"rows": warehouse.figures(resource, tenant_id)["count"]}
    if not unread:
        return []
    return [f"{resource.name}: {len(unread)} in Xero after the warehouse's newest (#{newest})"]


def drift(
    hook: Any, warehouse: Warehouse, tenant_id: str, skip: Collection[str] = ()
) -> tuple[list[str], dict[str, Any]]:
    """Read every resource from Xero and compare: IDs, each record's version, status and
    total, counts per status, the sum of totals; then today's trial balance (from the
    journals, or from the documents when the app's tier has no Journals).

    Records Xero changed after the resource's last whole read began are left out on both
    sides: they are news for the next run, not drift (other DAGs write to Xero meanwhile).
    """
    problems: list[str] = []
    report: dict[str, Any] = {}
    covered = warehouse.last_complete_reads(tenant_id)
    for resource in sync_resources():
        if resource.name in skip:  # not in the app's Xero tier: nothing to compare
            report[resource.name] = {"skipped": "not in the app's Xero tier"}
            continue
        since = covered.get(resource.name)
        if resource.paging == "offset":
            problems += _unread_journals(hook, warehouse, resource, tenant_id, since, report)
            continue
        records = list(hook.iter_records(resource, **compare_options(resource)))
        recent = {
            str(r[resource.id_field])
            for r in records
            if since and (version := aware_utc(record_version(resource, r))) and version >= since
        }
        theirs = xero_figures(
            resource, (r for r in records if str(r[resource.id_field]) not in recent)
        )
        ours = warehouse.figures(resource, tenant_id, leave_out=recent)
        problems += compare(resource, theirs, ours)
        report[resource.name] = {"rows": ours["count"], "total": str(ours["total"])}
    today = datetime.now(UTC).date()
    if "Journals" in skip:  # the app's tier has no Journals: post the documents instead
        try:
            ours = documents_trial_balance(warehouse, tenant_id, today)
        except LinesMissing as missing:
            report["trial_balance_date"] = None
            report["trial_balance"] = f"not compared: {missing}"
            return problems, report
        report["trial_balance"] = "from documents and payments"
    else:
        ours = warehouse_trial_balance(warehouse, tenant_id, today)
        report["trial_balance"] = "from journals"
    problems += trial_balance_differences(ours, xero_trial_balance(hook, today))
    report["trial_balance_date"] = today.isoformat()
    return problems, report
