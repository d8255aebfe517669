"""A watermark sensor's hook and its verdicts about the run holding its feed.

One hook serves a whole sensor task and is closed when the task ends, so its call slots
and rate units go back at once. Another run's delivery is dropped only when Airflow says
that run failed or does not exist; when Airflow cannot be asked (a timeout), the sensor
waits instead of delivering the same changes a second time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
from airflow.sdk.execution_time.comms import ErrorResponse
from airflow.utils.state import DagRunState

from tests.changes.helpers import SETTLED, create, read_output
from tests.changes.test_watermark_dag import _dag, _run
from xero_provider.hooks import XeroHook
from xero_provider.sensors import XeroNewOrUpdatedContactSensor


class _TI:
    """The slice of a task instance the sensor uses; ``state`` is Airflow's answer about
    another run, or the exception asking raises."""

    def __init__(self, dag_id: str, state: Any = "running") -> None:
        self.dag_id, self.task_id, self.map_index, self.pushed = dag_id, "changes", -1, {}
        self.state = state

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        if isinstance(self.state, BaseException):
            raise self.state
        return self.state


def _context(ti: _TI, run_id: str) -> dict[str, Any]:
    return {"ti": ti, "dag_run": SimpleNamespace(run_id=run_id)}


def _sensor(conn_id: str, start: datetime, **kwargs: Any) -> XeroNewOrUpdatedContactSensor:
    return XeroNewOrUpdatedContactSensor(
        task_id="changes",
        xero_conn_id=conn_id,
        polling="watermark",
        settle_seconds=1,
        start_from=start.isoformat(),
        **{"deferrable": False, **kwargs},
    )


def _changes(conn_id: str, count: int) -> tuple[datetime, list[str]]:
    hook = XeroHook(conn_id)
    try:
        start = datetime.now(UTC)
        time.sleep(1.1)
        ids = create(hook, "Contacts", [{"Name": f"life{n}"} for n in range(count)])
    finally:
        hook.close()
    time.sleep(SETTLED)
    return start, ids


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["ContactID"] for r in records)


def _count_hooks(monkeypatch: pytest.MonkeyPatch) -> tuple[list[XeroHook], list[XeroHook]]:
    """The hooks made from now on, and those closed."""
    made: list[XeroHook] = []
    closed: list[XeroHook] = []
    real_init, real_close = XeroHook.__init__, XeroHook.close

    def counted_init(self: XeroHook, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        real_init(self, *args, **kwargs)

    def counted_close(self: XeroHook) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(XeroHook, "__init__", counted_init)
    monkeypatch.setattr(XeroHook, "close", counted_close)
    return made, closed


def test_one_hook_per_task_closed_when_the_task_ends(sandbox, conn_id, monkeypatch) -> None:
    start, ids = _changes(conn_id, 2)
    made, closed = _count_hooks(monkeypatch)
    sensor = _sensor(conn_id, start, deferrable=True)
    records = sensor.execute(_context(_TI("dag_life"), "run-a"))
    assert _ids(records) == sorted(ids)
    assert len(made) == 1 and closed == made
    runtime = made[0]._runtime
    # Closed at the task's end: no call slot stays leased to this finished task.
    assert runtime.slots.in_flight(runtime.tenant_key) == 0


def test_a_timeout_asking_about_the_holding_run_waits(sandbox, conn_id) -> None:
    start, ids = _changes(conn_id, 2)
    sensor = _sensor(conn_id, start)
    holder = _context(_TI("dag_verdict"), "run-a")
    assert _ids(sensor.poke(holder).xcom_value) == sorted(ids)
    asking = _TI("dag_verdict", state=TimeoutError("the Execution API did not answer"))
    other = _context(asking, "run-b")
    assert not sensor.poke(other).is_done  # no verdict: run-a's delivery stands
    assert _ids(sensor.poke(holder).xcom_value) == sorted(ids)  # still run-a's
    asking.state = "failed"
    assert _ids(sensor.poke(other).xcom_value) == sorted(ids)  # dropped: delivered again


@pytest.mark.slow
def test_a_run_airflow_does_not_know_is_dropped(sandbox, conn_id, make_dag, tmp_path) -> None:
    start, ids = _changes(conn_id, 2)
    out = tmp_path / "ids.json"
    dag = _dag(make_dag, conn_id, out, start, deferrable=False)
    never_asked = _TI(dag.dag_id, state=AssertionError("nobody holds the feed yet"))
    ghost = _context(never_asked, "a-run-that-never-existed")
    assert _ids(_sensor(conn_id, start).poke(ghost).xcom_value) == sorted(ids)
    # A real run asks Airflow about the ghost: the Execution API answers 404 (no such run),
    # so its delivery is dropped and this run receives the same changes.
    _, states = _run(dag, datetime(2026, 6, 5, tzinfo=UTC))
    assert states["handle"] == "success" and sorted(read_output(out)) == sorted(ids)


def _status_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://execution-api/dags/d/dagRuns/run-a/state")
    return httpx.HTTPStatusError(
        f"HTTP {status}", request=request, response=httpx.Response(status, request=request)
    )


def _runtime_error(status: int) -> AirflowRuntimeError:
    detail = {"status_code": status, "message": "from the Execution API"}
    return AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail=detail))


def test_only_failed_or_no_such_run_drops_another_runs_delivery(sandbox, conn_id) -> None:
    start, ids = _changes(conn_id, 2)
    sensor = _sensor(conn_id, start)
    asking = _TI("dag_no_verdict")  # Airflow's answer about whichever run holds the feed
    holder, other = _context(asking, "run-a"), _context(asking, "run-b")
    assert _ids(sensor.poke(holder).xcom_value) == sorted(ids)
    no_verdicts = [
        "queued",
        "running",
        DagRunState.RUNNING,
        _status_error(500),
        _status_error(409),
        _runtime_error(500),
        ConnectionError("connection reset"),
    ]
    for state in no_verdicts:
        asking.state = state
        assert not sensor.poke(other).is_done, f"{state!r} dropped run-a's delivery"
    assert _ids(sensor.poke(holder).xcom_value) == sorted(ids)  # run-a still holds it
    asking.state = _runtime_error(404)  # Airflow: no such run (a supervised task's view)
    assert _ids(sensor.poke(other).xcom_value) == sorted(ids)  # dropped: delivered again
    asking.state = DagRunState.FAILED
    assert _ids(sensor.poke(holder).xcom_value) == sorted(ids)  # run-b failed: again


class _Answers(_TI):
    """Airflow's answers about the holding run, one per question, in order."""

    def __init__(self, dag_id: str, answers: list[str]) -> None:
        super().__init__(dag_id)
        self.answers = answers

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str:
        return self.answers.pop(0)


def test_the_pokes_of_a_poke_mode_task_share_one_hook(sandbox, conn_id, monkeypatch) -> None:
    start, ids = _changes(conn_id, 2)
    _sensor(conn_id, start).poke(_context(_TI("dag_pokes"), "run-z"))  # run-z holds the feed
    made, closed = _count_hooks(monkeypatch)
    ti = _Answers("dag_pokes", ["running", "running", "failed"])
    sensor = _sensor(conn_id, start, poke_interval=0.1)
    records = sensor.execute(_context(ti, "run-a"))  # three pokes: wait, wait, deliver
    assert _ids(records) == sorted(ids) and ti.answers == []
    assert len(made) == 1 and closed == made
