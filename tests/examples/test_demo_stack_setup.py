"""`make demo` / `make airflow` set-up: ports kept across a quick restart, the demo's home
resumed by `make airflow`, the runtime image without test tools."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from xero_demo.demo import (
    REJECT_REASON,
    REPO,
    answer_again,
    port_or_free,
    prepare_home,
    stack_config,
    unpausing_runs_it,
)

TEST_TOOLS = ("pytest", "selenium", "ruff", "hypothesis")


def _port_in_time_wait() -> int:
    """A port whose last connection this side closed first: it sits in TIME_WAIT."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first, as a stopped api-server does
    time.sleep(0.05)
    client.close()
    server.close()
    time.sleep(0.05)
    return port


@pytest.mark.parametrize(
    ("details", "starts"),
    [
        ({"is_paused": True, "next_dagrun_run_after": "2026-12-07T02:00:00Z"}, True),
        ({"is_paused": True, "next_dagrun_run_after": "2026-12-07T02:00:00+00:00"}, True),
        ({"is_paused": True, "next_dagrun_run_after": "2026-12-08T02:00:00Z"}, False),
        ({"is_paused": True, "next_dagrun_run_after": None}, False),  # schedule=None
        ({"is_paused": False, "next_dagrun_run_after": "2026-12-07T02:00:00Z"}, False),
        ({}, False),
    ],
)
def test_the_demo_triggers_only_what_unpausing_would_not_run(details: dict, starts: bool) -> None:
    """`make demo` unpauses a DAG whose scheduled run is due (a new warehouse sync) without
    triggering it too; a DAG with nothing due (its interval already ran, a resumed home; no
    schedule; already unpaused) is triggered."""
    from datetime import UTC, datetime

    now = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
    assert unpausing_runs_it(details, now) is starts


def test_a_port_left_in_time_wait_is_taken_again() -> None:
    port = _port_in_time_wait()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # the old probe: "busy", so a random port
    assert port_or_free(port) == port


def test_a_port_something_listens_on_is_not_taken() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_or_free(port) != port


def _home_with(tmp_path: Path, *names: str) -> Path:
    home = tmp_path / "demo"
    home.mkdir()
    for name in names:
        (home / name).write_text(name)
    return home


def test_make_airflow_resumes_the_demos_home(tmp_path: Path) -> None:
    home = _home_with(tmp_path, "airflow.db", "sandbox.db", "admin_password.txt")
    assert prepare_home(home, resume=True) is True
    assert (home / "airflow.db").read_text() == "airflow.db"
    assert (home / "sandbox.db").read_text() == "sandbox.db"


@pytest.mark.parametrize(
    ("names", "resume"),
    [
        (("airflow.db", "sandbox.db"), False),  # make demo, make airflow-fresh
        (("airflow.db",), True),  # an older home without the sandbox's state
    ],
)
def test_other_starts_begin_again_with_the_same_login(
    tmp_path: Path, names: tuple[str, ...], resume: bool
) -> None:
    home = _home_with(tmp_path, *names, "admin_password.txt")
    assert prepare_home(home, resume=resume) is False
    assert sorted(p.name for p in home.iterdir()) == ["admin_password.txt"]
    assert (home / "admin_password.txt").read_text() == "admin_password.txt"
    assert (home / "admin_password.txt").stat().st_mode & 0o077 == 0


class HitlApi:
    """Airflow's HITL REST endpoints as ``answer_again`` uses them: pending requests to
    list, answers recorded."""

    def __init__(self, pending: list[dict]) -> None:
        self.pending = pending
        self.answers: list[tuple[str, dict]] = []

    def api(self, method: str, path: str, **kwargs) -> dict:
        if method == "GET" and path.endswith("/dagRuns/~/hitlDetails"):
            dag_id = path.split("/")[2]
            return {"hitl_details": [d for d in self.pending if d["dag"] == dag_id]}
        assert method == "PATCH", (method, path)
        self.answers.append((path, kwargs["json"]))
        return {}


def request(dag_id: str, run_id: str, body: str, received: bool = False) -> dict:
    ti = {"dag_id": dag_id, "dag_run_id": run_id, "task_id": "decide", "map_index": 0}
    return {
        "dag": dag_id,
        "task_instance": ti,
        "body": body,
        "response_received": received,
        "created_at": "2026-01-01T00:00:00Z",  # read long ago: answered at once
    }


def test_a_bill_asked_again_gets_the_answer_it_had() -> None:
    """A decide task retried after its answer asks again; the scripted person answers
    with the same option, and leaves requests about other bills and answered ones alone."""
    dag = "xero_bill_approval_demo"
    api = HitlApi(
        [
            request(dag, "r2", "Bill bill-b for 10.00 from Acme"),  # asked again
            request(dag, "r3", "Bill bill-new for 5.00 from Acme"),  # never answered
            request(dag, "r1", "Bill bill-a for 99.00", received=True),
        ]
    )
    answered = {"bill-a": "Approve", "bill-b": "Reject"}

    assert answer_again(api, [dag], answered) == 1

    ((path, body),) = api.answers
    assert path == f"/dags/{dag}/dagRuns/r2/taskInstances/decide/0/hitlDetails"
    assert body == {"chosen_options": ["Reject"], "params_input": {"reason": REJECT_REASON}}


def test_a_new_home_is_created(tmp_path: Path) -> None:
    home = tmp_path / "new" / "demo"
    assert prepare_home(home, resume=True) is False
    assert home.is_dir()


def test_the_demo_stack_loads_the_plugin_and_enables_test(tmp_path: Path) -> None:
    env = stack_config(tmp_path, 8080).env
    assert (Path(env["AIRFLOW__CORE__PLUGINS_FOLDER"]) / "xero_connect.py").is_file()
    assert env["AIRFLOW__CORE__TEST_CONNECTION"] == "Enabled"


def test_the_demo_keeps_airflows_scheduler_pace_and_the_test_stacks_slow_it(
    tmp_path: Path,
) -> None:
    import dataclasses

    from xero_demo.stack import TEST_PACE, AirflowStack

    (tmp_path / "demo").mkdir()
    (tmp_path / "test").mkdir()
    demo = stack_config(tmp_path / "demo", 8080)
    assert AirflowStack(demo).env["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] == "1"
    test = dataclasses.replace(demo, home=tmp_path / "test", **TEST_PACE)
    assert AirflowStack(test).env["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] == "3"


def test_the_installed_packages_are_compiled() -> None:
    """``make install`` compiles the virtualenv (uv does not, and PYTHONDONTWRITEBYTECODE
    keeps Python from caching it later): without it each Airflow process compiles Airflow
    anew, about 2.5 CPU s."""
    import importlib.util

    import airflow.configuration

    source = Path(airflow.configuration.__file__)
    cached = Path(importlib.util.cache_from_source(str(source)))
    assert cached.is_file(), f"{cached} missing: run `make install` (Makefile, compileall)"
    assert cached.stat().st_mtime >= source.stat().st_mtime


def runtime_requirements() -> list[str]:
    """requirements.txt as the Dockerfile installs it: up to the tests-and-tooling line."""
    dockerfile = (REPO / "Dockerfile").read_text()
    marker = "# --- tests and tooling"
    assert f"/^{marker}/,$d" in dockerfile, "the Dockerfile no longer cuts at the marker"
    lines = (REPO / "requirements.txt").read_text().splitlines()
    assert sum(line.startswith(marker) for line in lines) == 1
    kept = lines[: next(i for i, line in enumerate(lines) if line.startswith(marker))]
    return [line.split("==")[0].strip().lower() for line in kept if "==" in line]


def test_the_runtime_image_leaves_test_tools_out() -> None:
    runtime = runtime_requirements()
    assert "apache-airflow" in runtime and "httpx" in runtime
    assert not [tool for tool in TEST_TOOLS if tool in runtime]
    everything = (REPO / "requirements.txt").read_text()
    assert all(f"\n{tool}==" in everything for tool in TEST_TOOLS)  # still pinned for tests


def test_a_failed_runs_report_holds_its_task_logs_and_the_schedulers_word(
    tmp_path: Path,
) -> None:
    from xero_demo.stack import AirflowStack

    stack = AirflowStack(stack_config(tmp_path / "home", api_port=None))
    run = "manual__2026-12-07T12:39:54+00:00"
    tasks = [
        {"task_id": "keep_alive", "map_index": 0, "state": "failed"},
        {"task_id": "connections", "map_index": -1, "state": "success"},
    ]
    stack.task_instances = lambda dag_id, run_id: tasks  # type: ignore[method-assign]
    logs = stack.home / "logs" / "dag_id=d" / f"run_id={run}"
    failed = logs / "task_id=keep_alive" / "map_index=0" / "attempt=1.log"
    failed.parent.mkdir(parents=True)
    failed.write_text("".join(f"line {n}\n" for n in range(40)) + "OperationalError: locked\n")
    (logs / "task_id=connections").mkdir()
    (logs / "task_id=connections" / "attempt=1.log").write_text("fine\n")
    (stack.home / "stack-logs").mkdir()
    (stack.home / "stack-logs" / "scheduler.log").write_text(
        f"INFO all well\nERROR ... <TaskInstance: d.keep_alive {run} map_index=0 [scheduled]> "
        "finished with state success, but the task instance's state attribute is scheduled\n"
        f"ERROR other run: d.keep_alive manual__other\n"
    )

    report = stack.failure_report("d", run)

    assert f"d/{run}/keep_alive[0]: failed" in report
    assert "OperationalError: locked" in report and "line 39" in report
    assert "line 20" not in report  # only the last lines
    assert "fine" not in report  # a task that succeeded is left out
    assert "state attribute is scheduled" in report and "manual__other" not in report
