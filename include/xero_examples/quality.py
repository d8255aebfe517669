"""The warehouse's quality check: is it stale, and does it differ from Xero anywhere?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from xero_examples.sync import read_options
from xero_examples.trial_balance import (
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


def stale(
    warehouse: Warehouse, tenant_id: str, max_hours: float, now: datetime | None = None
) -> list[str]:
    """The resources not read to the end within ``max_hours`` (no call to Xero): a run
    that keeps failing part-way turns the check red instead of leaving it green."""
    now = now or datetime.now(UTC)
    limit = now - timedelta(hours=max_hours)
    problems = []
    for name, completed in sorted(warehouse.last_complete_reads(tenant_id).items()):
        if completed is None:
            problems.append(f"{name}: never read to the end")
        elif completed < limit:
            problems.append(f"{name}: stale, last read to the end at {completed.isoformat()}")
    return problems


def drift(hook: Any, warehouse: Warehouse, tenant_id: str) -> tuple[list[str], dict[str, Any]]:
    """Read every resource from Xero and compare: IDs, each record's version, status and
    total, counts per status, the sum of totals; then today's trial balance.

    Records Xero changed after the resource's last whole read began are left out on both
    sides: they are news for the next run, not drift (other DAGs write to Xero meanwhile).
    """
    problems: list[str] = []
    report: dict[str, Any] = {}
    covered = warehouse.last_complete_reads(tenant_id)
    for resource in sync_resources():
        records = list(hook.iter_records(resource, **read_options(resource)))
        since = covered.get(resource.name)
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
    problems += trial_balance_differences(
        warehouse_trial_balance(warehouse, tenant_id, today), xero_trial_balance(hook, today)
    )
    report["trial_balance_date"] = today.isoformat()
    return problems, report
