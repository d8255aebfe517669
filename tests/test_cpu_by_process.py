"""The CPU sampler behind ``--cpu-sample`` (tests/cpu_by_process.py): it must see a child
that burns CPU, name each kind of process the suite starts, and leave paths alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cpu_by_process import NOT_OURS, Sampler, kind_of, report, stack_of

BURN = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.8: pass"


def test_a_busy_child_is_seen_with_its_cpu_and_kind() -> None:
    sampler = Sampler(interval=0.2).start()
    # it sleeps a second after burning, so readings after the burn come before it exits
    code = BURN + "\ntime.sleep(1)"
    home = "/tmp/pytest-of-root/pytest-7/popen-gw1/airflow_starter0"
    env = {**os.environ, "AIRFLOW_HOME": home}
    child = subprocess.Popen([sys.executable, "-c", code, "-m", "xero_sandbox"], env=env)
    try:
        child.wait(60)
    finally:
        rows = sampler.stop()
    (row,) = [r for r in rows if r["pid"] == child.pid]
    assert row["kind"] == "sandbox", row
    assert row["home"] == home, row  # which stack it belonged to
    assert 0.7 <= row["cpu"] <= 5, row  # its 0.8 s of burning, and its start-up
    assert "sandbox" in report(rows)


def test_what_a_process_used_before_the_sampler_started_is_not_counted() -> None:
    import psutil

    child = subprocess.Popen([sys.executable, "-c", BURN + "\ntime.sleep(30)"])
    try:
        process = psutil.Process(child.pid)
        deadline = time.monotonic() + 30
        while sum(process.cpu_times()[:2]) < 0.7 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # it sleeps now
        sampler = Sampler(interval=0.2).start()
        time.sleep(0.6)
        rows = sampler.stop()
    finally:
        child.kill()
        child.wait(10)
    (row,) = [r for r in rows if r["pid"] == child.pid]
    assert row["cpu"] < 0.2, row  # not its 0.8 s before


@pytest.mark.parametrize(
    ("title", "started_as", "kind"),
    [
        ("[pytest-xdist running] tests/a.py::t", "", "pytest workers"),
        ("python -m pytest -n 4 --dist loadgroup", "", "pytest workers"),
        ("python -m xero_sandbox --port 1 --db /tmp/pytest-of-root/p/s.db", "", "sandbox"),
        ("airflow api_server -- host:127.0.0.1 port:8", "", "Airflow api-server"),
        ("python airflow triggerer --skip-serve-logs", "", "Airflow triggerer"),
        ("python airflow dag-processor", "", "Airflow dag-processor"),
        (
            "airflow",
            "python airflow scheduler --skip-serve-logs",
            "Airflow scheduler and its executor",
        ),
        ("airflow worker -- LocalExecutor: <idle>", "", "Airflow scheduler and its executor"),
        ("airflow worker -- 01a25240-e21d-7334-8206-e38ac1466eee", "", "task processes"),
        ("airflow supervisor: 01a25240-e21d", "", "task processes"),
        ("[celeryd: w1-34@vm:MainProcess] -active- (celery worker)", "", "Airflow Celery worker"),
        ("python airflow dags trigger sys_handover", "", "command line: airflow"),
        ("python airflow db migrate", "", "command line: airflow db migrate"),
        ("python -m xero_provider.auth status --conn-id x", "", "command line: xero_provider"),
        ("postgres: 15/main: postgres test 127.0.0.1(5) idle", "", "PostgreSQL"),
        ("/usr/lib/chromium/chromium --headless", "", "Chromium"),
        ("kdamond.0", "", NOT_OURS),
        ("airflow", "", NOT_OURS),  # nothing says what it is
    ],
)
def test_each_kind_of_process_is_named(title: str, started_as: str, kind: str) -> None:
    assert kind_of(title, started_as) == kind


def test_the_report_sums_by_kind(tmp_path: Path) -> None:
    rows = [
        {"title": "python airflow triggerer", "cpu": 2.5},
        {"title": "python airflow triggerer", "cpu": 1.0},
        {"title": "kdamond.0", "cpu": 4.0},
    ]
    (tmp_path / "cpu.json").write_text(json.dumps(rows))
    text = subprocess.run(
        [sys.executable, "-m", "tests.cpu_by_process", str(tmp_path / "cpu.json")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = {line.split()[0]: line.split() for line in text.splitlines()[1:]}
    assert text.splitlines()[1].startswith(NOT_OURS)  # most CPU first
    assert lines["Airflow"][-2:] == ["3.5", "2"]
    assert lines["total"][-2:] == ["7.5", "3"]


def test_the_report_sums_by_stack() -> None:
    session = "/tmp/pytest-of-root/pytest-3"
    rows = [
        {"title": "python airflow scheduler", "cpu": 2.0, "home": f"{session}/popen-gw0/a0"},
        {"title": "airflow worker -- 01a2", "cpu": 1.5, "home": f"{session}/popen-gw0/a0"},
        {"title": "python airflow scheduler", "cpu": 4.0, "home": f"{session}/popen-gw1/b0"},
        {"title": "postgres: idle", "cpu": 0.5, "home": ""},
        {"title": "kdamond.0", "cpu": 0.25},  # sampled before homes were read
    ]
    lines = {line.split()[0]: line.split()[1:] for line in report(rows, "home").splitlines()[1:]}
    assert lines["popen-gw1/b0"] == ["4.0", "1"]
    assert lines["popen-gw0/a0"] == ["3.5", "2"]
    assert lines["-"] == ["0.8", "2"]  # no AIRFLOW_HOME: the databases, the kernel


@pytest.mark.parametrize(
    ("home", "stack"),
    [
        ("/tmp/pytest-of-root/pytest-12/popen-gw3/stack0/home", "popen-gw3/stack0/home"),
        ("/work/main/.airflow/test_home/gw2", "/work/main/.airflow/test_home/gw2"),
        ("", "-"),
    ],
)
def test_a_stack_is_named_by_its_home_below_the_session_folder(home: str, stack: str) -> None:
    assert stack_of(home) == stack
