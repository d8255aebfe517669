"""``python -m tests.benchmarks.reaction_calls``: what one reaction costs in Xero calls.

A real Airflow (:func:`tests.system.stack_helpers.start_stack`: the demo's stack, every
example DAG, the demo connections authorised against the sandbox) runs the four
always-on automations of the demo organisation (contact notes, bill notes, invoice
emails, credit note allocation). Once each waits (its sensor deferred), one change per
automation is made through the Accounting API (:func:`xero_demo.changes.make_changes`:
a contact, a SUBMITTED bill, a sales invoice, a credit note), and every call the
automations make from then until each one's reaction run has finished is counted from the
sandbox's request log (the writer's own calls, told apart by their access token, are
not counted), sorted into:

* ``polls``: list reads of a watched feed up to its sensor's trigger firing (the
  trigger's log line "Trigger fired event");
* ``second_reads``: list reads of the feed after that, until the reaction run ended (the
  task reading the range again: what handover removed);
* ``organisation``: ``GET /Organisation`` (the short code for "Open in Xero" links);
* ``other_reads``: reads the DAGs need for their work (contacts' email addresses, the
  documents a credit can settle, the credit note's current figures);
* ``writes``: the notes, the email, the allocation.

Two rounds: the first after start (the organisation's short code is not known yet), the
second as it is from then on. A feed's reads after its reaction run ended belong to the
next run's wait and are not counted. Figures go to ``bench/reaction_calls.json``.
The count before this change was measured the same way on ``make airflow`` (issue 20):
23 calls for the four reactions: 4 polls, 4 second reads, 6 ``GET Organisation``, plus
the DAGs' own reads and writes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "reaction_calls.json"
SENSOR_TASK = {
    "contacts": "contact_changed",
    "bills": "bill_changed",
    "sales_invoices": "sales_invoice_changed",
    "credit_notes": "credit_note_changed",
}
FEED_PATH = {  # the list path each feed polls, and its Type filter
    "contacts": ("Contacts", None),
    "bills": ("Invoices", '"ACCPAY"'),
    "sales_invoices": ("Invoices", '"ACCREC"'),
    "credit_notes": ("CreditNotes", None),
}


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def kind(entry: dict[str, Any]) -> tuple[str, str | None]:
    """The call's category, and the feed it polls (feed reads only)."""
    path = entry["path"].removeprefix("/api.xro/2.0/")
    if entry["method"] != "GET":
        return "writes", None
    if path == "Organisation":
        return "organisation", None
    params = parse_qs(entry.get("query") or "")
    where = params.get("where", [""])[0]
    if "/" not in path and "UpdatedDateUTC<DateTime" in where.replace(" ", ""):
        for feed, (feed_path, type_filter) in FEED_PATH.items():
            if path == feed_path and (type_filter is None or type_filter in where):
                return "feed_reads", feed
    return "other_reads", None


def fired_at(stack: Any, dag_id: str, run_id: str, task_id: str) -> float | None:
    """When the triggerer logged "Trigger fired event" for the run's sensor."""
    import glob
    import re

    folder = stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    for path in glob.glob(str(folder / "attempt=*.log.trigger.*.log")):
        for line in Path(path).read_text(errors="replace").splitlines():
            if '"Trigger fired event"' in line:
                return _epoch(json.loads(line)["timestamp"])
    pattern = re.compile(
        r"^(\S+Z) \[info\s*\] Trigger fired event .*?" + re.escape(f"/{run_id}/{task_id}/")
    )
    own = stack.home / "stack-logs" / "triggerer.log"
    for line in own.read_text(errors="replace").splitlines():
        match = pattern.match(line)
        if match:
            return _epoch(match.group(1))
    return None


def _shape(entry: dict[str, Any]) -> str:
    """``METHOD path`` with record IDs as ``{id}``: which endpoint, not which record."""
    import re

    path = re.sub(r"[0-9a-fA-F-]{36}", "{id}", entry["path"].removeprefix("/api.xro/2.0/"))
    return f"{entry['method']} {path}"


def _waiting(stack: Any, dag_ids: dict[str, str]) -> bool:
    """Every automation has a running run whose sensor is deferred."""
    for feed, dag_id in dag_ids.items():
        running = [r for r in stack.runs(dag_id) if r["state"] == "running"]
        if not running:
            return False
        tis = stack.task_instances(dag_id, running[0]["dag_run_id"])
        if not any(t["task_id"] == SENSOR_TASK[feed] and t["state"] == "deferred" for t in tis):
            return False
    return True


def one_round(stack: Any, sandbox: Any, writer: Any, tenant: str, dag_ids: dict, tag: str):
    """Make one change per automation; count the calls until each reaction run ended."""
    from xero_demo.changes import make_changes, reactions

    stack.wait(lambda: _waiting(stack, dag_ids), 600, "the automations to wait", interval=2)
    since = sandbox.requests()[-1]["seq"]
    changes = make_changes(writer, tenant, tag)
    writer_token = next(
        e.get("token_id") for e in reversed(sandbox.requests(since=since)) if e["method"] == "PUT"
    )
    dag_for = {c: dag_ids[c.feed] for c in changes}
    seen: dict = {}
    found = stack.wait(
        lambda: (lambda r: r if len(r) == len(changes) else None)(
            reactions(stack, changes, dag_for, seen)
        ),
        900,
        "every change to reach its automation",
        interval=5,
    )
    ended: dict[str, float] = {}

    def all_ended() -> bool:
        for reaction in found:
            run = next(r for r in stack.runs(reaction.dag_id) if r["dag_run_id"] == reaction.run_id)
            if run["state"] not in ("success", "failed"):
                return False
            ended[reaction.change.feed] = _epoch(run["end_date"])
        return True

    stack.wait(all_ended, 900, "the reaction runs to end", interval=3)
    fired = {
        r.change.feed: fired_at(stack, r.dag_id, r.run_id, SENSOR_TASK[r.change.feed])
        for r in found
    }
    per_feed: dict[str, dict[str, int]] = {feed: {} for feed in dag_ids}
    unattributed: dict[str, int] = {}
    endpoints: dict[str, int] = {}
    last = max(ended.values())
    for entry in sandbox.requests(since=since):
        if not entry["path"].startswith("/api.xro/2.0/") or entry.get("token_id") == writer_token:
            continue
        at = _epoch(entry["time"])
        category, feed = kind(entry)
        if feed is not None:
            if at <= ended[feed]:  # later: the next run's wait
                category = "polls" if fired[feed] is None or at <= fired[feed] else "second_reads"
                per_feed[feed][category] = per_feed[feed].get(category, 0) + 1
                endpoints[_shape(entry)] = endpoints.get(_shape(entry), 0) + 1
        elif at <= last:
            unattributed[category] = unattributed.get(category, 0) + 1
            endpoints[_shape(entry)] = endpoints.get(_shape(entry), 0) + 1
    totals: dict[str, int] = dict(unattributed)
    for counts in per_feed.values():
        for category, n in counts.items():
            totals[category] = totals.get(category, 0) + n
    states = {r.change.feed: r.run_id for r in found}
    return {
        "calls": sum(totals.values()),
        "by_kind": totals,
        "by_feed": per_feed,
        "by_endpoint": dict(sorted(endpoints.items())),
        "trigger_fired_found": sum(1 for v in fired.values() if v is not None),
        "reaction_runs": states,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="xero-reaction-") as scratch:
        os.environ["AIRFLOW_HOME"] = str(Path(scratch) / "airflow_home")
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        from tests.system.stack_helpers import start_stack
        from xero_demo.changes import FEEDS, Writer
        from xero_demo.demo import demo_organisations
        from xero_sandbox.testing import SandboxServer

        with SandboxServer(seed_demo=True) as sandbox:
            tenant = sandbox.demo.tenant_id
            (org,) = [o for o in demo_organisations() if o.tenant_id.lower() == tenant.lower()]
            dag_ids = {feed: prefix + org.key for feed, prefix in FEEDS.items()}
            print("starting Airflow", file=sys.stderr)
            stack = start_stack(Path(scratch) / "home", sandbox)
            try:
                for dag_id in dag_ids.values():
                    stack.unpause(dag_id)
                writer = Writer(sandbox, [tenant])
                rounds = []
                for number in range(args.rounds):
                    print(f"round {number + 1}", file=sys.stderr)
                    figures = one_round(
                        stack, sandbox, writer, tenant, dag_ids, f"r{number}-{time.time_ns()}"
                    )
                    print(json.dumps(figures), file=sys.stderr)
                    rounds.append(figures)
            finally:
                stack.stop()
    report = {
        "what": "Xero calls the four automations make for one contact, bill, sales invoice "
        "and credit note, from the change until each reaction run ended (sandbox request log)",
        "before_issue_20": {
            "calls": 23,
            "by_kind": {"polls": 4, "second_reads": 4, "organisation": 6, "other": 9},
            "source": "issue 20, measured on make airflow before handover and kept short codes",
        },
        "rounds": rounds,
        "duration_s": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
