"""Run the example DAGs on a Xero app of a given tier, and check the tier was in force.

Since 2 March 2026 a Xero app's tier sets its day limit per organisation (Starter 1,000
calls, else 5,000) and gates endpoints (Journals only on Advanced and above): sources in
``xero_provider.tiers`` and the sandbox's ``tiers.py``. The system tests and the soak move
the sandbox's demo app to a tier before the DAGs run, then read the sandbox's app record
and its per-organisation call counts (its egress report, like Xero's developer dashboard)
to show the run stayed within the tier.
"""

from __future__ import annotations

from typing import Any

from xero_sandbox.testing import SandboxServer


def set_app_tier(sandbox: SandboxServer, tier: str, client_id: str | None = None) -> dict:
    """Move the app (the demo web app by default) to ``tier``; returns its app record."""
    client_id = client_id or sandbox.demo.web_client_id
    return sandbox.control("PUT", f"/apps/{client_id}", json={"tier": tier}).json()


def app_tier(sandbox: SandboxServer, client_id: str | None = None) -> str:
    """The tier the sandbox holds for the app now (its app record)."""
    client_id = client_id or sandbox.demo.web_client_id
    (app,) = [a for a in sandbox.control("GET", "/apps").json() if a["client_id"] == client_id]
    return app["tier"]


def gated_resources(tier: str) -> set[str]:
    """Names of the warehouse's resources an app on ``tier`` may not read (the resource
    table's ``min_tier``): the sync skips them with a note, and nothing compares them."""
    from xero_examples.warehouse import sync_resources
    from xero_provider.tiers import TIERS, at_least

    return {
        r.name for r in sync_resources() if r.min_tier and not at_least(TIERS[tier], r.min_tier)
    }


def calls_per_organisation(sandbox: SandboxServer, client_id: str | None = None) -> dict[str, int]:
    """Accounting API calls the app made per organisation since the sandbox was reset
    (its egress report, summed over months): against a run shorter than a day, the day's
    calls that Xero's per-organisation day limit counts."""
    client_id = client_id or sandbox.demo.web_client_id
    report = sandbox.control("GET", "/egress", params={"client_id": client_id}).json()
    calls: dict[str, int] = {}
    for month in report.get(client_id, {}).get("months", {}).values():
        for tenant, n in month.get("organisation_calls", {}).items():
            calls[tenant] = calls.get(tenant, 0) + n
    return calls


def day_refusals(sandbox: SandboxServer) -> int:
    """429s the sandbox answered because an organisation's day limit was spent."""
    return int(sandbox.control("GET", "/limits").json()["refused"].get("day", 0))


def tier_usage(sandbox: SandboxServer, tier: str, client_id: str | None = None) -> dict[str, Any]:
    """The app's tier as the sandbox holds it, each organisation's calls against the
    day limit the sandbox applies to it (Starter's for a Starter app or a Starter-plan
    organisation, as ``accounting_api`` decides), and the day-limit refusals: what a run's
    report prints per tier."""
    limits = sandbox.control("GET", "/limits").json()["settings"]
    starter_orgs = {
        o["tenant_id"].lower()
        for o in sandbox.control("GET", "/organisations").json()
        if str(o["tier"]).upper() == "STARTER"
    }
    per_org = {}
    for tenant, calls in sorted(calls_per_organisation(sandbox, client_id).items()):
        starter = tier == "starter" or tenant in starter_orgs
        limit = limits["per_day_starter"] if starter else limits["per_day"]
        per_org[tenant] = {"calls": calls, "day_limit": limit}
    return {
        "tier": app_tier(sandbox, client_id),
        "organisations": per_org,
        "day_refusals": day_refusals(sandbox),
    }


def skip_notes(stack: Any, dag_id: str, run_id: str, resources: set[str]) -> dict[str, str]:
    """Each gated resource's note in the warehouse sync run's result ("" when its task
    succeeded without skipping it: the tier was not in force). A task that did not succeed
    (a soak's kill) has no result and is left out."""
    from xero_examples.warehouse import table_name
    from xero_provider.resources import get_resource

    states = {t["task_id"]: t["state"] for t in stack.task_instances(dag_id, run_id)}
    notes = {}
    for name in sorted(resources):
        task_id = f"sync_{table_name(get_resource(name))[5:]}"
        if states.get(task_id) != "success":
            continue
        result = stack.xcom(dag_id, run_id, task_id) or {}
        notes[name] = str(result.get("skipped") or "")
    return notes


def tier_problems(usage: dict[str, Any], notes: dict[str, dict[str, str]], tier: str) -> list:
    """What shows the run was not on ``tier`` within its limits: the sandbox holding another
    tier, an organisation past its day limit or refused for it, a gated resource read."""
    problems = []
    if usage["tier"] != tier:
        problems.append(f"the sandbox holds the app on {usage['tier']}, not {tier}")
    for tenant, row in usage["organisations"].items():
        if row["calls"] > row["day_limit"]:
            problems.append(f"{tenant}: {row['calls']} calls, over the day limit {row}")
    if usage["day_refusals"]:
        problems.append(f"{usage['day_refusals']} calls refused for the day limit")
    from xero_provider.resources import get_resource
    from xero_provider.tiers import TIERS

    for run, by_resource in notes.items():
        for name, note in by_resource.items():
            needed = TIERS[get_resource(name).min_tier].title
            if f"needs a Xero app on the {needed} tier" not in note:
                problems.append(f"{run}: {name} not skipped with the tier's note ({note!r})")
    return problems
