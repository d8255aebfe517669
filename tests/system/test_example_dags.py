"""The example DAGs in a real Airflow: a scheduler, a dag-processor and a triggerer run them,
tasks run in real worker processes (which forbid metadata-database access), first with
LocalExecutor on SQLite, then with CeleryExecutor on PostgreSQL and Redis with two workers.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.system.conftest import require_service
from tests.system.stack_helpers import (
    WAREHOUSE_DAGS,
    start_stack,
    warehouse_differences,
    warehouse_rows,
)
from xero_demo.demo import expected_dag_ids, run_all
from xero_demo.stack import AirflowStack, postgres_database, redis_broker
from xero_examples.automations import plan_allocations, split_emailable
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


def state(sandbox: SandboxServer, tenant: str) -> dict[str, list[dict]]:
    """The organisation's contacts, invoices and credit notes, straight from the sandbox."""
    return {
        name: sandbox.control("GET", f"/state/{tenant}/{name}").json()[name]
        for name in ("Contacts", "Invoices", "CreditNotes")
    }


def writes(sandbox: SandboxServer, method: str, suffix: str) -> Counter:
    """How many successful ``method`` calls each record got on ``.../{id}/<suffix>``."""
    return Counter(
        entry["path"].split("/")[-2]
        for entry in sandbox.requests()
        if entry["method"] == method
        and entry["path"].endswith("/" + suffix)
        and entry.get("status", 200) < 400
    )


def assert_automations_did_their_work(sandbox: SandboxServer, before: dict) -> None:
    """Notes, emails and allocations: each where the rules say, none twice."""
    notes = writes(sandbox, "PUT", "History")
    emails = writes(sandbox, "POST", "Email")
    submitted_bills = 0
    for tenant, records in before.items():
        contacts = {c["ContactID"]: c for c in records["Contacts"]}
        # every contact of the data got one note (archived ones too)
        assert {cid: notes[cid] for cid in contacts} == dict.fromkeys(contacts, 1)
        # every bill awaiting approval got one note
        submitted = [
            i["InvoiceID"]
            for i in records["Invoices"]
            if i["Type"] == "ACCPAY" and i["Status"] == "SUBMITTED"
        ]
        assert all(notes[i] == 1 for i in submitted)
        submitted_bills += len(submitted)
        # exactly the invoices Xero will email were emailed, once each
        send, skipped = split_emailable(records["Invoices"], contacts)
        assert {i: emails[i] for i in send} == dict.fromkeys(send, 1)
        assert not any(emails[s["InvoiceID"]] for s in skipped)
        # no credit left where an open document of the same contact could take it
        after = state(sandbox, tenant)
        allocations, _ = plan_allocations(after["CreditNotes"], after["Invoices"], date.today())
        assert allocations == [], allocations
    assert submitted_bills >= 1
    assert sum(writes(sandbox, "PUT", "Allocations").values()) >= 1


def local_warehouse(stack: AirflowStack) -> str:
    return f"sqlite:///{stack.home}/xero_warehouse.db"


def test_every_example_dag_runs_to_success_on_local_executor(
    local_stack: AirflowStack, sandbox_server: SandboxServer
) -> None:
    demo = sandbox_server.demo
    tenants = (demo.tenant_id, demo.second_tenant_id)
    before = {t: state(sandbox_server, t) for t in tenants}
    runs = run_all(local_stack, expected_dag_ids(local_stack), sandbox_server, timeout=900)
    states = {dag_id: [r["state"] for r in dag_runs] for dag_id, dag_runs in runs.items()}
    assert all(s == ["success"] * len(s) and s for s in states.values()), states
    assert_automations_did_their_work(sandbox_server, before)
    for tenant in (demo.tenant_id, demo.second_tenant_id):
        assert warehouse_differences(local_warehouse(local_stack), sandbox_server, tenant) == []
    # the quality check compared with Xero itself and reported each table
    run = runs[DEMO_DAG][0]["dag_run_id"]
    report = local_stack.xcom(DEMO_DAG, run, "quality_check")
    assert report["Contacts"]["rows"] > 0


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
        runs = run_all(stack, expected_dag_ids(stack), sandbox, timeout=900)
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
