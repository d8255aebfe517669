"""The CPU sampler behind ``--cpu-sample`` (tests/cpu_by_process.py): it must see a child
that burns CPU, name each kind of process the suite starts, and leave paths alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cpu_by_process import NOT_OURS, Sampler, kind_of, report

BURN = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.8: pass"


def test_a_busy_child_is_seen_with_its_cpu_and_kind() -> None:
    sampler = Sampler(interval=0.2).start()
    # it sleeps a second after burning, so readings after the burn come before it exits
    code = BURN + "\ntime.sleep(1)"
    child = subprocess.Popen([sys.executable, "-c", code, "-m", "xero_sandbox"])
    try:
        child.wait(60)
    finally:
        rows = sampler.stop()
    (row,) = [r for r in rows if r["pid"] == child.pid]
    assert row["kind"] == "sandbox", row
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
