"""``make demo`` and ``make airflow``: the sandbox and a real Airflow, with the example DAGs.

``python -m xero_demo.demo`` starts the Xero sandbox (demo data) and Airflow on SQLite
(api-server, scheduler, dag-processor, triggerer; LocalExecutor) in ``.airflow/demo``,
loads ``airflow_settings.yaml``, authorises the demo connections against the sandbox,
subscribes the sandbox's webhooks to the stack, unpauses the always-on automations and
makes changes in the sandbox for them (measuring how soon runs nobody triggered receive
them), unpauses the other example DAGs (the scheduler starts the warehouse syncs' due
interval; a DAG with no run due is triggered through the REST API), waits for the
scheduler to run them, prints a summary, and stops everything it started.

``--keep-running`` (``make airflow``) stops after the set-up and keeps the stack up for a
person to use the UI, until Ctrl-C. It resumes the home the last demo or ``make airflow``
left (Airflow's database with its runs, and the sandbox's state, which is kept in
``sandbox.db`` beside it), so the runs the demo made are still there; ``--fresh`` starts
over. ``make demo`` always starts over: its summary counts only its own runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xero_demo.bring_up import connect
from xero_demo.changes import (
    APPROVAL_DAG,
    FEEDS,
    SENSOR_TASKS,
    Change,
    Reaction,
    Writer,
    answer,
    delay_table,
    make_changes,
    pending_requests,
    reactions,
)
from xero_demo.stack import AirflowStack, StackConfig
from xero_sandbox.testing import SandboxServer, free_port

REPO = Path(__file__).resolve().parents[2]


def port_or_free(preferred: int) -> int:
    """``preferred`` when nothing listens there, else any free port.

    The probe reuses addresses as the servers themselves do (uvicorn sets SO_REUSEADDR):
    a stack stopped a moment ago leaves its connections in TIME_WAIT, which would make a
    plain probe call the port busy and move the UI to a random port on a quick restart.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def demo_organisations() -> list:
    """The organisations of ``airflow_settings.yaml``'s connections, as the DAGs see them."""
    from xero_demo.settings import airflow_import_files, read_settings
    from xero_examples.organisations import from_connections

    files = airflow_import_files(read_settings(REPO / "airflow_settings.yaml"))
    return from_connections(
        (conn_id, json.loads(body.get("extra") or "{}"))
        for conn_id, body in files["connections"].items()
        if body.get("conn_type") == "xero"
    )


DEMO_START_FROM = "2000-01-01T00:00:00Z"  # the automations' first run takes every demo change
ASSET_TOUCH_GAP = 20.0  # seconds between contact changes while waiting for asset-DAG runs
REJECT_REASON = "Amount looks wrong"  # the scripted approver's reason for a rejection


def touch_contacts(sandbox: SandboxServer, tenant_ids: list[str], made: dict[str, str]) -> None:
    """Create, then update, one contact per organisation through the API: a change for
    the asset DAGs' watchers. ``made`` keeps the contact IDs between calls."""
    writer = Writer(sandbox, tenant_ids)
    for tenant in tenant_ids:
        website = f"https://example.com/{time.time_ns()}"
        if tenant in made:
            contact, method = {"ContactID": made[tenant], "Website": website}, "POST"
        else:
            contact, method = {"Name": "Asset Demo Ltd", "Website": website}, "PUT"
        (written,) = writer.put(tenant, "Contacts", [contact], method=method)
        made[tenant] = written["ContactID"]


def subscribe_webhooks(stack: AirflowStack, sandbox: SandboxServer) -> dict[str, Any]:
    """Point the sandbox's webhooks at the stack's ``/xero/webhooks``, as a Xero app's
    Webhooks settings would, and pass Xero's intent-to-receive check (else raise)."""
    body = {"url": f"{stack.url}/xero/webhooks", "key": stack.webhook_key, "batch_seconds": 1}
    answer = sandbox.control("PUT", "/webhooks", json=body).json()
    if answer.get("status") != "OK":
        raise RuntimeError(f"the stack failed Xero's intent to receive: {answer}")
    return answer


def run_always_on(
    stack: AirflowStack,
    sandbox: SandboxServer,
    dag_ids: list[str],
    timeout: float,
    rounds: int = 2,
    gap: float = 20.0,
) -> list[Reaction]:
    """Unpause the automations (nothing else), make changes in the sandbox, and wait
    until each change was received by a run nobody triggered; return who got what, when.
    """
    deadline = time.monotonic() + timeout
    keys = {o.key: o.tenant_id for o in demo_organisations()}
    feed_of = {f"{p}{k}": f for f, p in FEEDS.items() for k in keys}
    approvals = [d for d in dag_ids if d not in feed_of]  # xero_bill_approval_<org>
    for dag_id in dag_ids:
        stack.unpause(dag_id)

    def all_waiting() -> bool:
        for dag_id in dag_ids:
            running = [r for r in stack.runs(dag_id) if r["state"] == "running"]
            if not running:
                return False
            task = SENSOR_TASKS[feed_of[dag_id]][0] if dag_id in feed_of else "bill_submitted"
            tis = stack.task_instances(dag_id, running[0]["dag_run_id"])
            if not any(t["task_id"] == task and t["state"] == "deferred" for t in tis):
                return False
        return True

    stack.wait(all_waiting, deadline - time.monotonic(), "the automations to wait", interval=2)
    org_keys = sorted({d.rsplit("_", 1)[-1] for d in dag_ids})
    tenants = [keys[k] for k in org_keys]
    writer = Writer(sandbox, tenants)
    changes: list[Change] = []
    for round_number in range(rounds):
        for tenant in tenants:
            changes += make_changes(writer, tenant, f"{round_number}-{time.time_ns()}")
        if round_number < rounds - 1:
            time.sleep(gap)
    key_of = {t.lower(): k for k, t in keys.items()}
    dag_for = {c: FEEDS[c.feed] + key_of[c.tenant_id.lower()] for c in changes}

    seen: dict = {}

    def all_received() -> list[Reaction] | None:
        done = reactions(stack, changes, dag_for, seen)
        return done if len(done) == len(changes) else None

    reacted = stack.wait(
        all_received, deadline - time.monotonic(), "every change to reach its automation", 3
    )
    answered = answer_approvals(stack, approvals, changes, deadline)
    return reacted, answered


def answer_approvals(
    stack: AirflowStack, dag_ids: list[str], changes: list[Change], deadline: float
) -> dict[str, str]:
    """Be the person: through Airflow's HITL REST API approve each organisation's first
    submitted bill and reject the others (with a reason). Returns InvoiceID -> option."""
    bills = [c.record_id for c in changes if c.feed == "bills"]
    first = {}
    for change in changes:
        if change.feed == "bills":
            first.setdefault(change.tenant_id, change.record_id)
    answered: dict[str, str] = {}
    if not dag_ids:
        return answered

    def asked() -> list[dict]:
        """Requests about the demo's bills waiting for an answer (a run asks about the
        bills it received; the next run, with the rest, starts once these are answered;
        a bill is asked again when its decide task died, issue 24)."""
        pending = [d for dag_id in dag_ids for d in pending_requests(stack, dag_id)]
        return [d for d in pending if any(b in (d.get("body") or "") for b in bills)]

    while len(answered) < len(bills):
        for detail in stack.wait(asked, deadline - time.monotonic(), "approval requests", 3):
            (bill,) = [b for b in bills if b in detail["body"]]
            # asked again: the same answer as before
            option = answered.get(bill) or ("Approve" if bill in first.values() else "Reject")
            answer_as_the_demo(stack, detail, option)
            answered[bill] = option
    return answered


def answer_as_the_demo(stack: Any, detail: dict[str, Any], option: str) -> None:
    """Answer one approval request with ``option``; a rejection gives the demo's reason."""
    answer(stack, detail, option, "" if option == "Approve" else REJECT_REASON)


def answer_again(stack: Any, dag_ids: list[str], answered: dict[str, str]) -> int:
    """Answer each bill asked again with the answer it had; return how many were.

    A ``decide`` task can be retried after its answer: when Airflow fails to record its end
    ("Failed to report terminal task state to supervisor", seen on a busy machine), the
    retry asks again (issue 24), and a person would answer again. Requests about other
    bills are left alone."""
    again = 0
    for dag_id in dag_ids:
        for detail in pending_requests(stack, dag_id):
            bills = [b for b in answered if b in (detail.get("body") or "")]
            if len(bills) == 1:
                answer_as_the_demo(stack, detail, answered[bills[0]])
                again += 1
    return again


def run_all(
    stack: AirflowStack,
    dag_ids: list[str],
    sandbox: SandboxServer | None = None,
    timeout: float = 900,
) -> tuple[dict[str, list], list[Reaction], dict[str, str]]:
    """Run each DAG through the scheduler; wait until the runs that matter are finished.

    The automations (always on) are only unpaused; changes are then made in the sandbox
    and each must reach a run nobody triggered (:func:`run_always_on`). Other DAGs are
    unpaused: the scheduler starts a DAG whose scheduled run is due (the warehouse syncs'
    latest interval); the others are triggered through the REST API first.
    Asset-scheduled DAGs are unpaused (which starts their watchers in the triggerer), then
    a contact is changed in the sandbox until each has run. Returns the finished runs per
    DAG (an automation's next run, waiting for changes, is left out) and the automations'
    reactions.
    """
    details = {d: stack.api("GET", f"/dags/{d}/details") for d in dag_ids}
    by_asset = [d for d in dag_ids if details[d].get("asset_expression")]
    keys = {d.rsplit("_", 1)[-1] for d in dag_ids}
    prefixes = [*FEEDS.values(), APPROVAL_DAG]
    always_on = [d for d in dag_ids if any(d == f"{p}{k}" for p in prefixes for k in keys)]
    if (by_asset or always_on) and sandbox is None:
        raise ValueError("asset-scheduled and always-on DAGs need the sandbox to make changes")
    deadline = time.monotonic() + timeout
    runs: dict[str, list] = {}
    reacted: list[Reaction] = []
    answered: dict[str, str] = {}
    if always_on:  # first, so its new records do not land in the middle of a warehouse sync
        reacted, answered = run_always_on(stack, sandbox, always_on, timeout)
        approvals = [
            d for d in always_on if d.startswith(APPROVAL_DAG) and not d.startswith(FEEDS["bills"])
        ]
        for dag_id in always_on:
            wanted = {r.run_id for r in reacted if r.dag_id == dag_id}
            if dag_id in approvals:
                wanted = answered_runs(stack, dag_id)
            for run_id in sorted(wanted):
                stack.wait_for_run(
                    dag_id,
                    run_id,
                    timeout=max(deadline - time.monotonic(), 10),
                    meanwhile=lambda: answer_again(stack, approvals, answered),
                )
            runs[dag_id] = [r for r in stack.runs(dag_id) if r["dag_run_id"] in wanted]
            stack.unpause(dag_id, paused=True)  # no new run after the one waiting now
    for dag_id in dag_ids:
        if dag_id in by_asset or dag_id in always_on:
            continue
        if not unpausing_runs_it(details[dag_id]):
            params = details[dag_id].get("params") or {}
            conf = {"start_from": DEMO_START_FROM} if "start_from" in params else {}
            stack.trigger(dag_id, conf=conf)
        stack.unpause(dag_id)
    if by_asset:
        for dag_id in by_asset:
            stack.unpause(dag_id)
        tenants = [sandbox.demo.tenant_id, sandbox.demo.second_tenant_id]
        made: dict[str, str] = {}
        touched = -ASSET_TOUCH_GAP
        while not all(stack.runs(d) for d in by_asset):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no asset-triggered run of {by_asset} within {timeout}s")
            if time.monotonic() - touched >= ASSET_TOUCH_GAP:  # a change per gap, at most
                touch_contacts(sandbox, tenants, made)
                touched = time.monotonic()
            time.sleep(2)  # a run is seen within 2 s of starting, not at the gap's end
    # the asset DAGs last: a run for the last contact change may start after the loop
    # above ended, and by the time the syncs are done it has been created and is waited for
    for dag_id in [d for d in dag_ids if d not in by_asset] + by_asset:
        if dag_id not in always_on:
            runs[dag_id] = stack.wait_for_all_runs(
                dag_id, timeout=max(deadline - time.monotonic(), 10)
            )
    return runs, reacted, answered


def unpausing_runs_it(details: dict[str, Any], now: datetime | None = None) -> bool:
    """Whether unpausing the DAG (its ``GET /dags/{id}/details``) makes the scheduler start
    a run: a paused DAG whose next scheduled run is already due (a new warehouse sync's
    latest interval, with ``catchup=False``). A triggered run would then only repeat it
    (a whole sync more); one whose interval already ran (a resumed home) is triggered."""
    due = details.get("next_dagrun_run_after")
    if not details.get("is_paused") or not due:
        return False
    moment = now or datetime.now(UTC)
    return datetime.fromisoformat(str(due).replace("Z", "+00:00")) <= moment


def answered_runs(stack: AirflowStack, dag_id: str) -> set[str]:
    """The runs of an approval DAG that asked a person something."""
    listed = stack.api("GET", f"/dags/{dag_id}/dagRuns/~/hitlDetails", params={"limit": 100})
    return {d["task_instance"]["dag_run_id"] for d in listed.get("hitl_details", [])}


def summary(stack: AirflowStack, sandbox: SandboxServer, runs: dict[str, list]) -> dict[str, Any]:
    """Runs by state, records seen, notes added, emails sent, warehouse rows."""
    import sqlalchemy as sa

    states = Counter(run["state"] for dag_runs in runs.values() for run in dag_runs)
    seen = 0
    for dag_id, dag_runs in runs.items():
        if not dag_id.startswith("xero_warehouse_sync_"):
            continue
        for run in dag_runs:
            for ti in stack.task_instances(dag_id, run["dag_run_id"]):
                if ti["task_id"].startswith("sync_") and ti["state"] == "success":
                    seen += stack.xcom(dag_id, run["dag_run_id"], ti["task_id"])["seen"]
    requests = sandbox.requests()
    notes = sum(
        1 for r in requests if r.get("method") == "PUT" and str(r.get("path")).endswith("/History")
    )
    emails = sum(
        1 for r in requests if r.get("method") == "POST" and str(r.get("path")).endswith("/Email")
    )
    rows = 0
    warehouse = stack.home / "xero_warehouse.db"
    if warehouse.exists():
        engine = sa.create_engine(f"sqlite:///{warehouse}")
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                if table != "xero_children":
                    rows += conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar()
        engine.dispose()
    return {
        "runs": dict(states),
        "records_seen": seen,
        "notes_added": notes,
        "emails_sent": emails,
        "warehouse_rows": rows,
        "xero_calls_per_organisation": day_calls(sandbox),
    }


def day_calls(sandbox: SandboxServer) -> str:
    """Each organisation's Accounting API calls through the demo app (the demo's own
    writes included) against its day limit, with the app's Xero tier."""
    from xero_demo.app_tiers import app_tier, tier_usage

    usage = tier_usage(sandbox, app_tier(sandbox))
    calls = ", ".join(
        f"{tenant[:8]} {row['calls']} of {row['day_limit']} a day"
        for tenant, row in usage["organisations"].items()
    )
    return f"{calls} ({usage['tier']} app)"


def prepare_home(home: Path, resume: bool) -> bool:
    """Create ``home``; keep what a previous stack left there only when ``resume`` is asked
    and both Airflow's and the sandbox's state are there (one without the other would
    leave Airflow's connections and runs pointing at records the sandbox does not have).
    Returns whether the earlier state was kept."""
    kept = resume and (home / "airflow.db").exists() and (home / "sandbox.db").exists()
    if home.exists() and not kept:
        password = home / "admin_password.txt"
        saved = password.read_text() if password.exists() else None
        shutil.rmtree(home)
        home.mkdir(parents=True)
        if saved is not None:  # the login a person already knows stays the same
            password.write_text(saved)
            password.chmod(0o600)
    home.mkdir(parents=True, exist_ok=True)
    return kept


def stack_config(home: Path, api_port: int | None) -> StackConfig:
    """The demo's Airflow: the example DAGs, the Xero plugin (connect page in the Admin
    menu, webhooks) and the connection Test button enabled, as a newcomer expects."""
    return StackConfig(
        home=home,
        dags_folder=REPO / "dags",
        api_port=api_port,
        env={
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        },
    )


def register_redirect_uri(sandbox: SandboxServer, stack: AirflowStack) -> str:
    """The connect page's redirect URI on the port the UI really got, registered for the
    sandbox's demo apps as a developer would for their app at developer.xero.com: so a
    stack moved off 8080 (something else held it) still connects. Returns the URI."""
    uri = f"{stack.url}/xero/callback"
    for client_id in (sandbox.demo.web_client_id, sandbox.demo.pkce_client_id):
        sandbox.control("POST", f"/apps/{client_id}/redirect_uris", json={"redirect_uri": uri})
    return uri


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xero_demo.demo", description=__doc__)
    parser.add_argument("--keep-running", action="store_true", help="keep the stack up (UI)")
    parser.add_argument("--home", default=str(REPO / ".airflow" / "demo"))
    parser.add_argument("--port", type=int, default=8080, help="UI port (a free one if taken)")
    parser.add_argument(
        "--fresh", action="store_true", help="with --keep-running: start over, drop earlier runs"
    )
    args = parser.parse_args(argv)

    home = Path(args.home)
    resumed = prepare_home(home, resume=args.keep_running and not args.fresh)
    sandbox = SandboxServer(
        seed_demo=True,
        db=home / "sandbox.db",
        port=port_or_free(5050),
        log_file=home / "sandbox.log",
    )
    stack = AirflowStack(stack_config(home, port_or_free(args.port)))
    password_file = home / "admin_password.txt"
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        print(f"Starting the Xero sandbox on {sandbox.url} ...", flush=True)
        sandbox.start()
        state = "resuming the runs and records kept there" if resumed else "a new home"
        print(f"Starting Airflow (SQLite, LocalExecutor) in {home}: {state} ...", flush=True)
        stack.start()
        counts, dag_ids = connect(stack, sandbox.url)
        print(f"Loaded airflow_settings.yaml: {counts}", flush=True)
        subscribe_webhooks(stack, sandbox)
        print(f"Sandbox webhooks -> {stack.url}/xero/webhooks (intent to receive: OK)")
        # the password stays in its file (0600), out of terminals and CI logs
        login = f"user {stack.config.admin_user}, password in {password_file}"
        if args.keep_running:
            redirect = register_redirect_uri(sandbox, stack)
            print(f"\nAirflow UI: {stack.url}  ({login})", flush=True)
            print(
                f"Admin > Xero connections signs in with the redirect URI {redirect} (registered"
                " for the sandbox's demo apps; register yours for a real Xero app).",
                flush=True,
            )
            print(f"DAGs: {', '.join(dag_ids)}\nCtrl-C stops everything.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while not stop["now"]:
                    time.sleep(1)
            return 0
        print(f"Running {len(dag_ids)} DAGs through the scheduler: {', '.join(dag_ids)}")
        runs, reacted, answered = run_all(stack, dag_ids, sandbox)
        figures = summary(stack, sandbox, runs)
        print("\nSummary")
        for dag_id, dag_runs in runs.items():
            print(f"  {dag_id}: {', '.join(r['state'] + ' ' + r['run_type'] for r in dag_runs)}")
        started_by = Counter(r.run_type for r in reacted)
        print(f"\nAlways on: {len(reacted)} changes made after unpausing, received by runs")
        print(f"  started by: {dict(started_by)} (none triggered by hand)")
        print("  delay from a change to the run receiving it, per feed:")
        for feed, row in delay_table(reacted).items():
            # Xero's webhooks cover contacts and invoices (bills, sales invoices): their
            # delivery wakes the waiting trigger; credit notes wait for the planned poll.
            driver = "polled on the call plan" if feed == "credit_notes" else "webhook"
            print(
                f"    {feed} ({driver}): p50 {row['p50_s']} s, max {row['max_s']} s "
                f"({row['changes']})"
            )
        print(f"  bill approvals answered through the HITL REST API: {Counter(answered.values())}")
        for key, value in figures.items():
            print(f"  {key.replace('_', ' ')}: {value}")
        print(
            f"\nThe UI was at {stack.url} ({login}). `make airflow` brings this stack back"
            " with these runs and keeps it up (`make airflow-fresh` starts over)."
        )
        failed = figures["runs"].get("failed", 0)
        if failed:
            print(f"{failed} run(s) failed: logs under {home / 'logs'}", file=sys.stderr)
        return 1 if failed else 0
    finally:
        print("Stopping Airflow and the sandbox ...", flush=True)
        stack.stop()
        sandbox.stop()
        print("Stopped: no Airflow process left.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
