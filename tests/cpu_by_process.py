"""Where ``make test``'s CPU goes, process by process: a sampler reading every process's
CPU time once a second while the suite runs, and a report summing it by kind (an Airflow
component, a task process, a command line, a sandbox, a database, the browser, the pytest
workers, and what is not the suite's).

    make test PYTEST_ARGS="--cpu-sample=/tmp/cpu.json"
    python -m tests.cpu_by_process /tmp/cpu.json
    python -m tests.cpu_by_process /tmp/cpu.json --by home    # per stack (AIRFLOW_HOME)

The timeline (``tests/timeline.py``) counts a test's children only once they are reaped
and never sees the machine's other processes; this sees every process while it runs. A
process living less than an interval is missed and each loses its last interval, so the
figures are a lower bound (README "Tests").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
from collections import Counter
from pathlib import Path

import psutil
import pytest

# The first rule whose pattern a process's command matches names its kind. Airflow
# renames its processes (``airflow worker -- <task id>``, ``airflow supervisor: ...``),
# so a process is judged by its latest title, and by how it started when that title
# says nothing (a bare ``airflow``).
RULES: list[tuple[str, str]] = [
    (r"\[pytest-xdist|-m pytest\b|bin/pytest\b", "pytest workers"),  # not /tmp/pytest-of-*
    (r"api[-_]server|api_ser\b", "Airflow api-server"),
    (r"\btriggerer\b", "Airflow triggerer"),
    (r"dag-processor", "Airflow dag-processor"),
    (r"\bscheduler\b|LocalExecutor", "Airflow scheduler and its executor"),
    (r"celeryd|celery worker", "Airflow Celery worker"),
    (r"^airflow (worker|supervisor|task)", "task processes"),
    (r"xero_demo\.airflow_batch", "command line: airflow_batch"),
    (r"\bdb migrate\b", "command line: airflow db migrate"),
    (r"(^|[/ ])airflow [a-z]", "command line: airflow"),
    (r"xero_provider\.(auth|connect)", "command line: xero_provider"),
    (r"xero_sandbox", "sandbox"),
    (r"^postgres|/postgres ", "PostgreSQL"),
    (r"redis-server", "Redis"),
    (r"chrom", "Chromium"),
    (r"python", "other Python"),
]
NOT_OURS = "not the suite's"
VAGUE = {"", "airflow", "python", "python3"}


def kind_of(title: str, started_as: str = "") -> str:
    """The kind of a process, from its latest title, else the command it started with."""
    for command in (title, started_as):
        if command.strip() in VAGUE:
            continue
        for pattern, kind in RULES:
            if re.search(pattern, command):
                return kind
    return NOT_OURS


def home_of(process: psutil.Process) -> str:
    """The ``AIRFLOW_HOME`` a process runs with: which stack (or worker) it belongs to."""
    try:
        return process.environ().get("AIRFLOW_HOME", "")
    except (psutil.Error, OSError):
        return ""


def stack_of(home: str) -> str:
    """A short name for an ``AIRFLOW_HOME``: its path below the session's temporary folder."""
    match = re.search(r"/pytest-\d+/(.*)", home)
    return (match.group(1) if match else home) or "-"


class Sampler:
    """Reads every process's CPU time each ``interval`` seconds, in a daemon thread."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._rows: dict[tuple[int, float], dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-sampler", daemon=True)

    def sample(self, first: bool = False) -> None:
        """One reading: each process's CPU seconds so far and its title now. What a process
        running at the ``first`` reading had used before does not count (its start time is
        too coarse to tell: Linux gives the boot time in whole seconds)."""
        attrs = ["pid", "cmdline", "name", "cpu_times", "create_time"]
        for process in psutil.process_iter(attrs):
            info = process.info
            times = info["cpu_times"]
            if times is None or info["create_time"] is None:
                continue  # not ours to read, or gone
            title = " ".join(info["cmdline"] or [info["name"] or ""])[:300]
            used = times.user + times.system
            key = (info["pid"], info["create_time"])
            if key not in self._rows:
                before = used if first else 0.0
                self._rows[key] = {
                    "pid": info["pid"],
                    "started_as": title,
                    "before": before,
                    "home": home_of(process),
                }
            row = self._rows[key]
            row["title"] = title
            row["cpu"] = max(row.get("cpu", 0.0), round(used - row["before"], 2))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> Sampler:
        self.sample(first=True)
        self._thread.start()
        return self

    def stop(self) -> list[dict]:
        """Stop, read once more, and return one row per process seen, with its kind."""
        self._stop.set()
        self._thread.join()
        self.sample()
        rows = list(self._rows.values())
        for row in rows:
            row["kind"] = kind_of(row["title"], row["started_as"])
        return rows


def report(rows: list[dict], by: str = "kind") -> str:
    """CPU seconds and process counts per kind (or per stack: ``by="home"``), most first,
    and the total."""
    cpu: Counter = Counter()
    count: Counter = Counter()
    for row in rows:
        kind = row.get("kind") or kind_of(row["title"], row.get("started_as", ""))
        if by == "home":
            kind = stack_of(row.get("home", ""))
        cpu[kind] += row["cpu"]
        count[kind] += 1
    lines = [f"{'stack' if by == 'home' else 'kind':36} {'cpu s':>8} {'processes':>10}"]
    lines += [f"{kind:36} {seconds:8.1f} {count[kind]:10}" for kind, seconds in cpu.most_common()]
    lines.append(f"{'total':36} {sum(cpu.values()):8.1f} {sum(count.values()):10}")
    return "\n".join(lines)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-sample",
        metavar="PATH",
        help="write every process's CPU seconds during the run to PATH (JSON)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("cpu_sample") and "PYTEST_XDIST_WORKER" not in os.environ:
        config._cpu_sampler = Sampler().start()  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    sampler = getattr(config, "_cpu_sampler", None)
    if sampler is not None:
        rows = sampler.stop()
        Path(config.getoption("cpu_sample")).write_text(json.dumps(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sample", type=Path)
    parser.add_argument(
        "--by", choices=["kind", "home"], default="kind", help="home: by AIRFLOW_HOME (stack)"
    )
    args = parser.parse_args()
    print(report(json.loads(args.sample.read_text()), args.by))


if __name__ == "__main__":
    main()
