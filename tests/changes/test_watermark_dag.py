"""Watermark polling through Airflow (``dag.test()``) against the sandbox: a run receives
the changes after the last delivered position; the position moves only when that run
succeeds, so a failed run's changes come again and a succeeded run's never do."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.changes.helpers import SETTLED, create, read_output, update
from tests.changes.test_window_dag import task_states
from xero_provider.hooks import XeroHook

SOURCE = """
import json
from datetime import datetime
from airflow.sdk import DAG, task
from xero_provider.sensors import XeroNewOrUpdatedContactSensor

with DAG("DAG_ID", schedule=None, start_date=datetime(2026, 1, 1), max_active_runs=1) as dag:
    changes = XeroNewOrUpdatedContactSensor(
        task_id="changes", xero_conn_id="{conn_id}", polling="watermark", settle_seconds=1,
        start_from="{start}", poke_interval=1, timeout=60, deferrable={deferrable},
        max_records={max_records})

    @task
    def handle(ids, dag_run=None):
        with open("{out}", "w") as f:
            json.dump(ids, f)
        if (dag_run.conf or {{}}).get("fail"):
            raise RuntimeError("downstream failed on purpose")

    handle(changes.output["ids"])
"""


def _dag(make_dag, conn_id, out, start, deferrable=True, max_records=1000):
    return make_dag(
        SOURCE.format(
            conn_id=conn_id,
            out=out,
            start=start.isoformat(),
            deferrable=deferrable,
            max_records=max_records,
        )
    )


def _run(dag, when: datetime, **conf):
    run = dag.test(logical_date=when, run_conf=conf or None)
    return run, task_states(dag.dag_id, run.run_id)


@pytest.mark.slow
def test_position_moves_only_when_the_receiving_run_succeeds(
    sandbox, conn_id, make_dag, tmp_path
) -> None:
    hook = XeroHook(conn_id)
    start = datetime.now(UTC)
    time.sleep(1.1)
    first = create(hook, "Contacts", [{"Name": "w1"}, {"Name": "w2"}])
    out = tmp_path / "ids.json"
    dag = _dag(make_dag, conn_id, out, start)
    base = datetime(2026, 6, 1, tzinfo=UTC)

    _, states = _run(dag, base)
    assert states["handle"] == "success" and sorted(read_output(out)) == sorted(first)

    # Run 2 finds nothing at first, defers, and fires when a change arrives.
    later = threading.Timer(4, create, (hook, "Contacts", [{"Name": "w3"}]))
    later.start()
    _, states = _run(dag, base + timedelta(hours=1))
    later.join()
    (third,) = read_output(out)
    assert third not in first and states["handle"] == "success"

    # Run 3 receives a change and fails downstream ...
    (renamed,) = update(hook, "Contacts", [{"ContactID": first[0], "Name": "w1 renamed"}])
    _, states = _run(dag, base + timedelta(hours=2), fail=True)
    assert states["handle"] == "failed" and read_output(out) == [renamed]
    # ... so run 4 receives it again (its own changes too), and nothing older.
    (fourth,) = create(hook, "Contacts", [{"Name": "w4"}])
    time.sleep(SETTLED)  # so run 4 sees it at its first check
    _, states = _run(dag, base + timedelta(hours=3))
    assert sorted(read_output(out)) == sorted([renamed, fourth])
    # Run 5 starts after run 4 succeeded: run 4's changes are never delivered again.
    (fifth,) = create(hook, "Contacts", [{"Name": "w5"}])
    _run(dag, base + timedelta(hours=4))
    assert read_output(out) == [fifth]


@pytest.mark.slow
def test_a_failed_batch_comes_again_whole_then_the_rest(
    sandbox, conn_id, make_dag, tmp_path
) -> None:
    hook = XeroHook(conn_id)
    start = datetime.now(UTC)
    time.sleep(1.1)
    ids = create(hook, "Contacts", [{"Name": f"r{n}"} for n in range(5)])
    time.sleep(SETTLED)
    out = tmp_path / "ids.json"
    dag = _dag(make_dag, conn_id, out, start, deferrable=False, max_records=3)
    when = datetime(2026, 6, 2, tzinfo=UTC)
    _, states = _run(dag, when, fail=True)
    got = read_output(out)
    assert states["handle"] == "failed" and len(got) == 3
    _, states = _run(dag, when + timedelta(hours=1))
    assert states["handle"] == "success" and read_output(out) == got
    _, states = _run(dag, when + timedelta(hours=2))
    assert sorted(read_output(out)) == sorted(set(ids) - set(got))


class _TI:
    """The slice of a task instance the sensor uses, for a same-run retry."""

    def __init__(self, dag_id: str) -> None:
        self.dag_id, self.task_id, self.map_index, self.pushed = dag_id, "changes", -1, {}

    def xcom_push(self, key: str, value) -> None:
        self.pushed[key] = value

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        return "running"


def test_a_retry_of_the_receiving_run_reads_the_same_range(sandbox, conn_id) -> None:
    from types import SimpleNamespace

    from xero_provider.sensors import XeroNewOrUpdatedContactSensor

    hook = XeroHook(conn_id)
    start = datetime.now(UTC)
    time.sleep(1.1)
    ids = create(hook, "Contacts", [{"Name": f"t{n}"} for n in range(4)])
    time.sleep(SETTLED)
    sensor = XeroNewOrUpdatedContactSensor(
        task_id="changes",
        xero_conn_id=conn_id,
        polling="watermark",
        settle_seconds=1,
        start_from=start.isoformat(),
        max_records=2,
        deferrable=False,
    )
    context = {"ti": _TI("dag_retry"), "dag_run": SimpleNamespace(run_id="run-a")}
    first = sensor.poke(context).xcom_value
    delivered = [r["ContactID"] for r in first]
    (outside,) = [i for i in ids if i not in delivered][:1]
    update(hook, "Contacts", [{"ContactID": outside, "Name": "changed meanwhile"}])
    time.sleep(SETTLED)
    again = sensor.poke(context).xcom_value  # a retry of run-a: the same two records
    assert [r["ContactID"] for r in again] == delivered and len(delivered) == 2
    other = {"ti": _TI("dag_retry"), "dag_run": SimpleNamespace(run_id="run-b")}
    assert not sensor.poke(other).is_done  # run-a still running: run-b waits


def test_a_deferrable_run_waiting_for_another_defers_without_reading(sandbox, conn_id) -> None:
    from types import SimpleNamespace

    from airflow.sdk.exceptions import TaskDeferred

    from xero_provider.sensors import XeroNewOrUpdatedContactSensor

    sensor = XeroNewOrUpdatedContactSensor(
        task_id="changes",
        xero_conn_id=conn_id,
        polling="watermark",
        settle_seconds=1,
        deferrable=True,
        poke_interval=7,
    )
    hook = XeroHook(conn_id)
    time.sleep(1.1)
    create(hook, "Contacts", [{"Name": "held"}])
    time.sleep(SETTLED)
    sensor.start_from = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    holder = {"ti": _TI("dag_wait"), "dag_run": SimpleNamespace(run_id="run-a")}
    assert sensor.execute(holder)  # run-a receives the change and holds the feed
    sandbox.control("DELETE", "/requests")
    waiting = {"ti": _TI("dag_wait"), "dag_run": SimpleNamespace(run_id="run-b")}
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(waiting)
    assert deferred.value.method_name == "check_again"
    assert type(deferred.value.trigger).__name__ == "TimeDeltaTrigger"
    assert not sandbox.requests(path="/api.xro/2.0/Contacts")


RESCHEDULE_SOURCE = """
import json
from datetime import datetime
from airflow.sdk import DAG, task
from xero_provider.sensors import XeroNewOrUpdatedQuoteSensor

with DAG("DAG_ID", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    changes = XeroNewOrUpdatedQuoteSensor(
        task_id="changes", xero_conn_id="{conn_id}", polling="watermark", settle_seconds=1,
        start_from="{start}", poke_interval=1, timeout=60, deferrable=False, mode="reschedule")

    @task
    def handle(ids):
        with open("{out}", "w") as f:
            json.dump(ids, f)

    handle(changes.output["ids"])
"""


@pytest.mark.slow
def test_reschedule_mode_delivers_a_later_change(sandbox, conn_id, make_dag, tmp_path) -> None:
    start = datetime.now(UTC)
    time.sleep(1.1)
    out = tmp_path / "ids.json"
    dag = make_dag(RESCHEDULE_SOURCE.format(conn_id=conn_id, out=out, start=start.isoformat()))
    body = {"tenant_id": sandbox.demo.tenant_id, "resource": "Quotes", "count": 1}
    later = threading.Timer(4, sandbox.control, ("POST", "/generate"), {"json": body})
    later.start()
    run = dag.test(logical_date=datetime(2026, 6, 3, tzinfo=UTC))
    later.join()
    assert task_states(dag.dag_id, run.run_id)["handle"] == "success"
    quotes = sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/Quotes").json()["Quotes"]
    assert read_output(out) == [quotes[-1]["QuoteID"]]
    assert datetime.now(UTC) - start > timedelta(seconds=4)  # it waited for the change
