"""Where ``make test``'s time goes: a pytest plugin recording each test's worker, xdist
group, start and duration, and a report summing them per group and per worker.

    make test PYTEST_ARGS="--timeline=/tmp/timeline.jsonl"
    python -m tests.timeline /tmp/timeline.jsonl

Wall times on a loaded machine vary; compare the groups' shares and CPU seconds, which
depend less on what else runs (README "Tests").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--timeline",
        metavar="PATH",
        help="append one JSON line per test (worker, group, start, wall and CPU seconds)",
    )


def _cpu() -> float:
    """CPU seconds of this process and its finished children (Airflow stacks, CLIs)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _group(item: pytest.Item) -> str:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return "-"
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    path = item.config.getoption("timeline")
    if not path:
        yield
        return
    start, cpu = time.time(), _cpu()
    yield
    row = {
        "test": item.nodeid.partition("@")[0],
        "group": _group(item),
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "start": round(start, 3),
        "wall": round(time.time() - start, 3),
        "cpu": round(_cpu() - cpu, 3),
    }
    with open(path, "a") as out:  # one short append per test: workers may share the file
        out.write(json.dumps(row) + "\n")


def report(rows: list[dict], top: int = 25) -> str:
    """Per group and per worker: tests, wall and CPU seconds; the run's span."""
    begin = min(r["start"] for r in rows)
    end = max(r["start"] + r["wall"] for r in rows)
    groups: dict[str, list[dict]] = defaultdict(list)
    workers: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        key = row["group"] if row["group"] != "-" else "(ungrouped) " + row["test"].split("/")[1]
        groups[key].append(row)
        workers[row["worker"]].append(row)
    lines = [f"{len(rows)} tests, span {end - begin:.0f} s", ""]
    lines.append(f"{'group':44} {'tests':>5} {'wall s':>8} {'cpu s':>8} {'from':>6} {'to':>6}")
    by_wall = sorted(groups.items(), key=lambda kv: -sum(r["wall"] for r in kv[1]))
    for name, members in by_wall[:top]:
        first = min(r["start"] for r in members) - begin
        last = max(r["start"] + r["wall"] for r in members) - begin
        wall, cpu = sum(r["wall"] for r in members), sum(r["cpu"] for r in members)
        lines.append(
            f"{name[:44]:44} {len(members):5} {wall:8.1f} {cpu:8.1f} {first:6.0f} {last:6.0f}"
        )
    lines += ["", f"{'worker':8} {'tests':>5} {'busy s':>8} {'cpu s':>8} {'ends at':>8}"]
    for name, members in sorted(workers.items()):
        busy, cpu = sum(r["wall"] for r in members), sum(r["cpu"] for r in members)
        ends = max(r["start"] + r["wall"] for r in members) - begin
        lines.append(f"{name:8} {len(members):5} {busy:8.1f} {cpu:8.1f} {ends:8.0f}")
    total = sum(r["wall"] for r in rows)
    lines += ["", f"sum of test wall times {total:.0f} s, CPU {sum(r['cpu'] for r in rows):.0f} s"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("timeline", type=Path)
    parser.add_argument("--top", type=int, default=25, help="groups to list (by wall time)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.timeline.read_text().splitlines() if line]
    print(report(rows, args.top))


if __name__ == "__main__":
    main()
