"""The soak's verdict: after the stream stopped and the last runs finished, do Xero (the
sandbox), the warehouse and the automations' effects agree?

Checks, each a list of problems (empty: it holds):

* warehouse: every resource of the sync equals the sandbox's, per organisation (IDs,
  versions, statuses, totals, counts: ``xero_examples.warehouse.compare``);
* delivered: every change the stream logged reached the automation that watches it (the
  sensors' outputs, read through the REST API);
* exactly once, from the records' History in the sandbox: one contact note per contact
  change, one "sent for approval" note per submitted bill, one email per sales invoice;
  each answered bill decided once (approved: AUTHORISED or since paid, with one approval
  note; rejected: back in DRAFT with one rejection note);
* allocations: no credit note allocated above its total or twice to one document, every
  soak credit note fully used (its bill always has more due), no invoice due below zero;
* rate limits: no 429 the soak did not inject.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from xero_demo.stack import AirflowStack
from xero_sandbox.testing import SandboxServer
from xero_soak import config
from xero_soak.chaos import Tally
from xero_soak.stream import Change


@dataclass
class Verdict:
    checks: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not any(self.checks.values())

    def report(self) -> str:
        lines = ["Soak figures:"]
        lines += [f"  {key}: {value}" for key, value in self.counts.items()]
        lines.append("Checks:")
        for name, problems in self.checks.items():
            lines.append(f"  {name}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
            lines += [f"    - {p}" for p in problems[:20]]
        lines.append(f"VERDICT: {'PASS' if self.passed else 'FAIL'}")
        return "\n".join(lines)


def _records(sandbox: SandboxServer, tenant: str, path: str) -> list[dict[str, Any]]:
    body = sandbox.control("GET", f"/state/{tenant}/{path}").json()
    (records,) = [v for k, v in body.items() if k != "count"]
    return records


def warehouse_problems(
    url: str, sandbox: SandboxServer, tenants: list[str], skip: set[str] = frozenset()
) -> list[str]:
    """Differences between the warehouse and the sandbox; a resource in ``skip`` (the app's
    tier lacks it, so the sync skipped it) must have no rows at all."""
    from xero_examples.warehouse import Warehouse, compare, sync_resources, xero_figures

    warehouse = Warehouse(url)
    problems = []
    try:
        for tenant in tenants:
            for resource in sync_resources():
                if resource.name in skip:
                    rows = warehouse.figures(resource, tenant)["count"]
                    if rows:
                        problems.append(f"{tenant[:8]} {resource.name}: not in the tier, {rows}")
                    continue
                theirs = xero_figures(resource, _records(sandbox, tenant, resource.path))
                ours = warehouse.figures(resource, tenant)
                found = compare(resource, theirs, ours)
                if theirs["count"] != ours["count"]:
                    found.append(f"{resource.name}: {theirs['count']} vs {ours['count']} rows")
                problems += [f"{tenant[:8]} {p}" for p in found]
    finally:
        warehouse.dispose()
    return problems


def all_runs(stack: AirflowStack, dag_id: str) -> list[dict[str, Any]]:
    """Every run of ``dag_id``, oldest first."""
    return stack.runs(dag_id)


def delivered_ids(stack: AirflowStack, dag_id: str, task_id: str, id_field: str) -> set[str]:
    """IDs of every record the DAG's sensor handed to its run, over all its runs."""
    found: set[str] = set()
    for run in all_runs(stack, dag_id):
        for ti in stack.task_instances(dag_id, run["dag_run_id"]):
            if ti["task_id"] != task_id or ti["state"] != "success":
                continue
            records = stack.xcom(dag_id, run["dag_run_id"], task_id) or []
            found |= {str(r.get(id_field)).lower() for r in records if isinstance(r, dict)}
    return found


def _notes(history: dict[str, list[dict]], record_id: str, field_: str, text: str) -> int:
    return sum(1 for h in history.get(record_id.lower(), []) if text in str(h.get(field_)))


def judge(
    stack: AirflowStack,
    sandbox: SandboxServer,
    warehouse_url: str,
    org_keys: dict[str, str],  # tenant ID -> organisation key
    changes: list[Change],
    answered: dict[str, str],
    tally: Tally,
    skip: set[str] = frozenset(),
) -> Verdict:
    """The checks above; ``skip``: resources the app's tier lacks (none may be stored)."""
    verdict = Verdict()
    tenants = sorted(org_keys)
    verdict.checks["warehouse equals Xero"] = warehouse_problems(
        warehouse_url, sandbox, tenants, skip
    )

    missed: list[str] = []
    for feed, (prefix, task_id, id_field) in config.AUTOMATIONS.items():
        watched = "bills" if feed == "approvals" else feed
        for tenant, key in org_keys.items():
            wanted = {
                c.record_id.lower() for c in changes if c.feed == watched and c.tenant_id == tenant
            }
            got = delivered_ids(stack, f"{prefix}{key}", task_id, id_field)
            missed += [f"{prefix}{key} never received {feed} {r}" for r in sorted(wanted - got)]
    verdict.checks["no change missed"] = missed

    once: list[str] = []
    history = {t: sandbox.control("GET", f"/history/{t}").json()["history"] for t in tenants}
    bills_now = {
        b["InvoiceID"].lower(): b for t in tenants for b in _records(sandbox, t, "Invoices")
    }
    for change in changes:
        h, rid = history[change.tenant_id], change.record_id
        if change.feed == "contacts":
            n = _notes(h, rid, "Details", config.CONTACT_NOTE)
            if n != 1:
                once.append(f"contact {rid}: {n} notes")
        elif change.feed == "sales_invoices":
            n = _notes(h, rid, "Changes", config.EMAIL_CHANGE)
            if n != 1:
                once.append(f"sales invoice {rid}: {n} emails")
        elif change.feed == "bills":
            n = _notes(h, rid, "Details", config.BILL_NOTE)
            if n != 1:
                once.append(f"bill {rid}: {n} 'sent for approval' notes")
            option = answered.get(rid.lower())
            status = bills_now[rid.lower()]["Status"]
            approved = _notes(h, rid, "Details", config.APPROVED_NOTE)
            rejected = _notes(h, rid, "Details", config.REJECTED_NOTE)
            silent = _notes(h, rid, "Details", config.NO_DECISION_NOTE)
            if option is None:
                once.append(f"bill {rid}: never put to the approver (status {status})")
            elif option == "Approve" and (
                status not in ("AUTHORISED", "PAID") or approved != 1 or rejected or silent
            ):
                once.append(f"bill {rid} approved: {status}, notes {approved}/{rejected}/{silent}")
            elif option == "Reject" and (status != "DRAFT" or rejected != 1 or approved or silent):
                once.append(f"bill {rid} rejected: {status}, notes {approved}/{rejected}/{silent}")
    verdict.checks["every effect exactly once"] = once

    money: list[str] = []
    ours = {c.record_id.lower() for c in changes if c.feed == "credit_notes"}
    allocations = 0
    for tenant in tenants:
        for note in _records(sandbox, tenant, "CreditNotes"):
            allocs = note.get("Allocations") or []
            allocated = sum(Decimal(str(a.get("Amount") or 0)) for a in allocs)
            total, left = Decimal(str(note.get("Total"))), Decimal(str(note.get("RemainingCredit")))
            targets = Counter((a.get("Invoice") or {}).get("InvoiceID") for a in allocs)
            cid = note["CreditNoteID"]
            if left < 0 or allocated + left != total:
                money.append(
                    f"credit note {cid}: total {total}, allocated {allocated}, left {left}"
                )
            if any(n > 1 for n in targets.values()):
                money.append(f"credit note {cid} allocated twice to one document: {targets}")
            if cid.lower() in ours:
                allocations += len(allocs)
                if left != 0:
                    money.append(f"soak credit note {cid} still has {left} credit")
        for invoice in _records(sandbox, tenant, "Invoices"):
            if Decimal(str(invoice.get("AmountDue") or 0)) < 0:
                money.append(f"invoice {invoice['InvoiceID']} due {invoice['AmountDue']}")
    verdict.checks["allocations never above due"] = money
    verdict.checks["no 429 outside injected"] = [
        f"{e['method']} {e['path']} at {e['time']} (limit: {e.get('rate_limit_problem')})"
        for e in tally.uninjected_429
    ]

    feeds = Counter(c.feed for c in changes)
    verdict.counts.update(
        changes=dict(feeds),
        rounds=len({(c.tenant_id, c.round) for c in changes}),
        approvals=dict(Counter(answered.values())),
        allocations=allocations,
        **tally.figures(),
    )
    return verdict
