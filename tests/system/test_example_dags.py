"""The example DAGs in a real Airflow: a scheduler, a dag-processor and a triggerer run them,
tasks run in real worker processes (which forbid metadata-database access), first with
LocalExecutor on SQLite, then with CeleryExecutor on PostgreSQL and Redis with two workers.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.system.conftest import require_service
from tests.system.stack_helpers import (
    WAREHOUSE_DAGS,
    start_stack,
    warehouse_differences,
    warehouse_rows,
)
from xero_demo.changes import Reaction, Writer, delay_table
from xero_demo.demo import expected_dag_ids, run_all, subscribe_webhooks
from xero_demo.stack import AirflowStack, postgres_database, redis_broker
from xero_sandbox.testing import SandboxServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
DEMO_DAG = "xero_warehouse_sync_demo"


@pytest.fixture(scope="module")
def local_stack(
    sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowStack]:
    sandbox_server.reset(demo=True)
    home = tmp_path_factory.mktemp("airflow_local")
    stack = start_stack(home, sandbox_server)
    try:
        yield stack
    finally:
        stack.stop()  # raises if any process of the stack survived
    assert not stack.leftovers()


def writes(sandbox: SandboxServer, method: str, suffix: str) -> Counter:
    """How many successful ``method`` calls each record got on ``.../{id}/<suffix>``."""
    return Counter(
        entry["path"].split("/")[-2]
        for entry in sandbox.requests()
        if entry["method"] == method
        and entry["path"].endswith("/" + suffix)
        and entry.get("status", 200) < 400
    )


def assert_bills_were_decided(sandbox: SandboxServer, answered: dict[str, str]) -> None:
    """Approved bills are AUTHORISED with a note naming the approver; rejected ones are
    back in DRAFT with a note giving the reason (answers given via the HITL REST API)."""
    demo = sandbox.demo
    writer = Writer(sandbox, [demo.tenant_id, demo.second_tenant_id])
    assert set(answered.values()) == {"Approve", "Reject"}, answered
    for tenant in (demo.tenant_id, demo.second_tenant_id):
        bills = sandbox.control("GET", f"/state/{tenant}/Invoices").json()["Invoices"]
        for bill in [b for b in bills if b["InvoiceID"] in answered]:
            path = f"Invoices/{bill['InvoiceID']}/History"
            notes = [h["Details"] for h in writer.get(tenant, path)["HistoryRecords"]]
            if answered[bill["InvoiceID"]] == "Approve":
                assert bill["Status"] == "AUTHORISED", bill
                assert "Approved in Airflow by admin." in notes, notes
            else:
                assert bill["Status"] == "DRAFT", bill
                assert any("Rejected in Airflow by admin: Amount looks wrong" in n for n in notes)


def assert_automations_did_their_work(sandbox: SandboxServer, reacted: list[Reaction]) -> None:
    """Each change made after unpausing reached a run nobody triggered, and that run did
    its work on it once: a note, an email or an allocation, none twice."""
    notes = writes(sandbox, "PUT", "History")
    emails = writes(sandbox, "POST", "Email")
    allocations = writes(sandbox, "PUT", "Allocations")
    assert reacted and {r.run_type for r in reacted} == {"scheduled"}, reacted
    feeds = Counter(r.change.feed for r in reacted)
    assert set(feeds) == {"contacts", "bills", "sales_invoices", "credit_notes"}, feeds
    for reaction in reacted:
        change = reaction.change
        if change.feed == "contacts":
            assert notes[change.record_id] == 1, reaction
        elif change.feed == "bills":  # the note-only automation's and the decision's
            assert notes[change.record_id] == 2, reaction
        elif change.feed == "sales_invoices":
            assert emails[change.record_id] == 1, reaction
        else:
            assert allocations[change.record_id] == 1, reaction
            note = sandbox.control("GET", f"/state/{change.tenant_id}/CreditNotes").json()
            (record,) = [n for n in note["CreditNotes"] if n["CreditNoteID"] == change.record_id]
            assert float(record["RemainingCredit"]) == 0, record


def local_warehouse(stack: AirflowStack) -> str:
    return f"sqlite:///{stack.home}/xero_warehouse.db"


def test_every_example_dag_runs_to_success_on_local_executor(
    local_stack: AirflowStack, sandbox_server: SandboxServer
) -> None:
    demo = sandbox_server.demo
    runs, reacted, answered = run_all(
        local_stack, expected_dag_ids(local_stack), sandbox_server, 900
    )
    states = {dag_id: [r["state"] for r in dag_runs] for dag_id, dag_runs in runs.items()}
    bad = {d: s for d, s in states.items() if not s or s != ["success"] * len(s)}
    assert not bad, bad
    assert_automations_did_their_work(sandbox_server, reacted)
    assert_bills_were_decided(sandbox_server, answered)
    for feed, row in delay_table(reacted).items():
        print(f"always on, {feed}: change -> run p50 {row['p50_s']} s, max {row['max_s']} s")
    for tenant in (demo.tenant_id, demo.second_tenant_id):
        assert warehouse_differences(local_warehouse(local_stack), sandbox_server, tenant) == []
    # the quality check compared with Xero itself and reported each table
    run = runs[DEMO_DAG][0]["dag_run_id"]
    report = local_stack.xcom(DEMO_DAG, run, "quality_check")
    assert report["Contacts"]["rows"] > 0


def webhook_runs(stack: AirflowStack, dag_id: str, contact_id: str) -> list[dict]:
    """The DAG's runs started by a webhook asset event naming ``contact_id``."""
    found = []
    for run in stack.runs(dag_id):
        path = f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
        for event in stack.api("GET", path)["asset_events"]:
            extra = event.get("extra") or {}
            if extra.get("source") == "xero_webhook" and contact_id in extra.get(
                "resource_ids", []
            ):
                found.append(run)
                break
    return found


def test_a_sandbox_webhook_starts_the_contact_asset_dag(
    local_stack: AirflowStack, sandbox_server: SandboxServer
) -> None:
    """A contact created in the sandbox -> the sandbox's signed delivery -> the running
    api-server's /xero/webhooks -> an asset event on the example DAG's asset -> a run
    (nobody triggered it) that upserts the contact into the warehouse."""
    dag_id = "xero_contact_changes_asset_demo"
    tenant = sandbox_server.demo.tenant_id
    subscription = subscribe_webhooks(local_stack, sandbox_server)
    assert subscription["status"] == "OK"  # Xero's intent to receive passed
    local_stack.unpause(dag_id)
    try:
        writer = Writer(sandbox_server, [tenant])
        (made,) = writer.put(tenant, "Contacts", [{"Name": f"Webhook Demo {time.time_ns()}"}])
        changed_at = time.time()
        contact = made["ContactID"]
        deadline = time.monotonic() + 300
        runs: list[dict] = []
        while not runs and time.monotonic() < deadline:
            time.sleep(1)
            runs = webhook_runs(local_stack, dag_id, contact)
        assert runs, local_stack.log_tail("api-server")
        run = runs[0]
        assert run["run_type"] == "asset_triggered"
        assert local_stack.wait_for_run(dag_id, run["dag_run_id"]) == "success"
        queued = datetime.fromisoformat(run["queued_at"].replace("Z", "+00:00")).timestamp()
        print(f"webhook: contact change -> run queued in {queued - changed_at:.1f} s")
        written = local_stack.xcom(dag_id, run["dag_run_id"], "upsert_changed_contacts")
        assert written["ids"] >= 1 and written["written"] >= 1
        rows = sa_rows(local_warehouse(local_stack), "xero_contacts", contact)
        assert rows == 1
    finally:
        local_stack.unpause(dag_id, paused=True)
        sandbox_server.control("DELETE", "/webhooks")


def sa_rows(url: str, table: str, record_id: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text(f'SELECT COUNT(*) FROM "{table}" WHERE xero_id = :id')
            return conn.execute(query, {"id": record_id}).scalar()
    finally:
        engine.dispose()


def test_the_demo_stack_loads_the_plugin_and_tests_connections(
    local_stack: AirflowStack,
) -> None:
    """`make airflow`'s configuration: the Xero plugin is listed (so its Admin menu entry
    and connect page are there) and the connection list's Test button works."""
    plugins = local_stack.api("GET", "/plugins")["plugins"]
    xero = [p for p in plugins if "xero" in p["name"].lower()]
    assert xero, [p["name"] for p in plugins]
    stored = local_stack.api("GET", "/connections/xero_default")
    body = {  # what the list's Test icon sends: hidden host empty, port 0
        "connection_id": "xero_default",
        "conn_type": "xero",
        "extra": stored.get("extra") or "{}",
        "host": "",
        "login": stored.get("login") or "",
        "password": stored.get("password") or "",
        "port": 0,
        "schema": "",
    }
    answer = local_stack.api("POST", "/connections/test", json=body)
    assert answer["status"] is True, answer


def test_backfill_of_three_intervals_rewrites_nothing_twice(
    local_stack: AirflowStack, sandbox_server: SandboxServer
) -> None:
    url = local_warehouse(local_stack)
    before = warehouse_rows(url)
    assert before > 0, "the first test loads the warehouse"
    body = {
        "dag_id": DEMO_DAG,
        "from_date": "2026-11-01T02:00:00Z",
        "to_date": "2026-11-03T02:00:00Z",
        "reprocess_behavior": "none",
        "max_active_runs": 1,
        "dag_run_conf": {},
    }
    backfill = local_stack.api("POST", "/backfills", json=body)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        runs = [r for r in local_stack.runs(DEMO_DAG) if r["run_type"] == "backfill"]
        if len(runs) == 3 and all(r["state"] in ("success", "failed") for r in runs):
            break
        time.sleep(2)
    assert sorted(r["logical_date"][:10] for r in runs) == [
        "2026-11-01",
        "2026-11-02",
        "2026-11-03",
    ], backfill
    assert {r["state"] for r in runs} == {"success"}
    assert warehouse_rows(url) == before
    assert warehouse_differences(url, sandbox_server, sandbox_server.demo.tenant_id) == []


def test_failed_task_cleared_and_rerun_creates_nothing_twice(
    local_stack: AirflowStack, sandbox_server: SandboxServer
) -> None:
    url = local_warehouse(local_stack)
    tenant = sandbox_server.demo.tenant_id
    # a new contact to load, and Xero refusing every contact read until the fault is lifted
    sandbox_server.control(
        "POST",
        "/seed",
        json={"records": {tenant: {"Contacts": [{"Name": "Rerun Test Ltd"}]}}},
    )
    fault = {"status": 403, "path": r"/Contacts", "methods": ["GET"], "fraction": 1.0}
    sandbox_server.control("POST", "/faults", json=fault)
    try:
        run_id = local_stack.trigger(DEMO_DAG, conf={"full_refresh": True})
        assert local_stack.wait_for_run(DEMO_DAG, run_id, timeout=600) == "failed"
    finally:
        sandbox_server.control("DELETE", "/faults")
    first = {t["task_id"]: t for t in local_stack.task_instances(DEMO_DAG, run_id)}
    assert first["sync_contacts"]["state"] == "failed"
    assert first["sync_invoices"]["state"] == "success"
    assert warehouse_differences(url, sandbox_server, tenant) != []  # the contact is missing

    local_stack.api(
        "POST",
        f"/dags/{DEMO_DAG}/clearTaskInstances",
        json={"dry_run": False, "only_failed": True, "dag_run_id": run_id, "reset_dag_runs": True},
    )
    assert local_stack.wait_for_run(DEMO_DAG, run_id, timeout=600) == "success"
    second = {t["task_id"]: t for t in local_stack.task_instances(DEMO_DAG, run_id)}
    assert second["sync_contacts"]["try_number"] > first["sync_contacts"]["try_number"]
    assert second["sync_invoices"]["try_number"] == first["sync_invoices"]["try_number"]
    assert warehouse_differences(url, sandbox_server, tenant) == []


@pytest.mark.parametrize("tier", ["starter", "core"])
def test_a_starter_or_core_app_syncs_the_warehouse_skipping_journals_with_a_note(
    local_stack: AirflowStack, sandbox_server: SandboxServer, tier: str
) -> None:
    """Since March 2026 Journals are Advanced-only (the Advanced app is the first test's):
    on a Starter or Core app the sync skips them (a note in the task's result), the
    quality check leaves them out, Starter's 1,000 calls a day suffice, nothing fails."""
    client_id = sandbox_server.demo.web_client_id
    local_stack.wait_for_dags([DEMO_DAG])
    local_stack.unpause(DEMO_DAG)  # also when this test runs on its own
    sandbox_server.control("PUT", f"/apps/{client_id}", json={"tier": tier})
    try:
        run_id = local_stack.trigger(DEMO_DAG, conf={"full_refresh": True, "lean": True})
        assert local_stack.wait_for_run(DEMO_DAG, run_id, timeout=600) == "success"
    finally:
        sandbox_server.control("PUT", f"/apps/{client_id}", json={"tier": "advanced"})
    tasks = {t["task_id"]: t["state"] for t in local_stack.task_instances(DEMO_DAG, run_id)}
    assert set(tasks.values()) == {"success"}, tasks
    journals = local_stack.xcom(DEMO_DAG, run_id, "sync_journals")
    assert "needs a Xero app on the Advanced tier" in journals["skipped"]
    report = local_stack.xcom(DEMO_DAG, run_id, "quality_check")
    assert report["Journals"] == {"skipped": "not in the app's Xero tier"}
    assert report["Invoices"]["rows"] > 0


def test_example_dags_on_celery_with_two_workers_on_postgres_and_redis(
    sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    try:
        with (
            postgres_database("xero_airflow") as metadata_url,
            postgres_database("xero_warehouse") as warehouse_url,
            redis_broker() as (broker, prefix),
        ):
            _run_on_celery(sandbox_server, tmp_path, metadata_url, warehouse_url, broker, prefix)
    except ImportError:
        raise
    except Exception as error:  # only a missing PostgreSQL/Redis may skip, never a failure
        if "could not connect" in str(error) or "Connection refused" in str(error):
            require_service("PostgreSQL and Redis", error)
        raise


def _run_on_celery(sandbox, tmp_path, metadata_url, warehouse_url, broker, prefix) -> None:
    import sqlalchemy as sa

    sandbox.reset(demo=True)
    target = sa.make_url(warehouse_url)
    warehouse_conn = {
        "conn_type": "postgres",
        "host": target.host,
        "port": target.port,
        "login": target.username,
        "schema": target.database,
    }
    stack = start_stack(
        tmp_path / "home",
        sandbox,
        executor="CeleryExecutor",
        database_url=metadata_url,
        broker_url=broker,
        broker_prefix=prefix,
        celery_workers=2,
        worker_concurrency=3,
        env={
            "AIRFLOW_CONN_XERO_WAREHOUSE": json.dumps(warehouse_conn),
            "XERO_TOKEN_STORE": metadata_url,  # one token store for every worker
        },
    )
    try:
        runs, _, _ = run_all(stack, expected_dag_ids(stack), sandbox, timeout=900)
        states = {dag_id: [r["state"] for r in dag_runs] for dag_id, dag_runs in runs.items()}
        assert all(s == ["success"] * len(s) and s for s in states.values()), states
        for dag_id in WAREHOUSE_DAGS:
            for run in runs[dag_id]:
                for ti in stack.task_instances(dag_id, run["dag_run_id"]):
                    assert ti["state"] == "success", ti
        executed = {
            name: stack.log_tail(name, 10_000_000).count("succeeded in")
            for name in ("worker-1", "worker-2")
        }
        assert all(n > 0 for n in executed.values()), (
            f"tasks per worker: {executed}\n{stack.log_tail('worker-1')}"
        )
        demo = sandbox.demo
        for tenant in (demo.tenant_id, demo.second_tenant_id):
            assert warehouse_differences(warehouse_url, sandbox, tenant) == []
    finally:
        stack.stop()
    assert not stack.leftovers()
