"""``python -m tests.benchmarks.run [--quick]``: our hook beside the xero-python SDK.

Starts its own sandbox on 127.0.0.1 (and, for the parallel benchmark, a pool of spawned
worker processes), runs five benchmarks, prints a table and writes
``bench/results.json``. Everything it starts is stopped on the way out, also on an
error or Ctrl-C. Exit status: 0 when every target is met, 1 when one is missed.

1. Read N changed contacts: calls and seconds (limits off).
2. Create N invoices: calls and seconds against the SDK once per invoice and once with all.
3. Parallel tasks on one organisation under Xero's real limits, time-scaled.
4. Hook overhead per call against a bare httpx call (and the SDK).
5. The cost of a token refresh after thousands of rotations (secrets masker).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results.json"


@dataclass(frozen=True)
class Sizes:
    contacts: int
    invoices: int
    tasks: int
    calls_per_task: int
    time_scale: float
    overhead_calls: int
    rounds: int
    refreshes: int
    baseline_refreshes: int


FULL = Sizes(
    contacts=20_000,
    invoices=2_000,
    tasks=10,
    calls_per_task=30,
    time_scale=10,
    overhead_calls=500,
    rounds=3,
    refreshes=10_000,
    baseline_refreshes=200,
)
QUICK = Sizes(
    contacts=2_000,
    invoices=200,
    tasks=6,  # still more than Xero's 5 concurrent; each spawned worker takes ~3 s to start
    calls_per_task=20,
    time_scale=15,  # Retry-After is whole seconds: a much shorter "minute" distorts the rate
    overhead_calls=150,
    rounds=3,
    refreshes=1_000,
    baseline_refreshes=100,
)


def _prepare_environment(scratch: Path) -> None:
    """A throwaway Airflow home and Fernet key, set before Airflow is first imported
    (spawned workers inherit the environment)."""
    from cryptography.fernet import Fernet

    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow_home")
    os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    logging.getLogger("xero_provider").setLevel(logging.WARNING)  # not each token refresh


def _step(number: int, text: str) -> float:
    print(f"[{number}/5] {text} ...", file=sys.stderr, flush=True)
    return time.perf_counter()


def _done(started: float) -> None:
    print(f"      done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def run(sizes: Sizes, quick: bool, output: Path) -> int:
    started = time.perf_counter()
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xero-bench-")))
        _prepare_environment(scratch)

        from tests.benchmarks import parallel, refresh, report, scenarios
        from tests.benchmarks.harness import Bench
        from xero_sandbox.testing import SandboxServer

        env = report.environment(REPO, quick)
        sandbox = SandboxServer(seed_demo=True, log_file=scratch / "sandbox.log")
        stack.enter_context(sandbox)
        bench = Bench(sandbox, scratch)
        results = []

        step = _step(1, f"reading {sizes.contacts:,} changed contacts")
        results.append(scenarios.read_changed_contacts(bench, sizes.contacts))
        _done(step)

        step = _step(2, f"creating {sizes.invoices:,} invoices four ways")
        results.append(scenarios.create_invoices(bench, sizes.invoices))
        _done(step)

        step = _step(3, f"{sizes.tasks} parallel tasks (starting the worker processes)")
        pool = parallel.WorkerPool(sizes.tasks)
        try:
            results.append(
                parallel.parallel_tasks(bench, pool, sizes.calls_per_task, sizes.time_scale)
            )
        finally:
            pool.close()
        _done(step)

        step = _step(4, f"hook overhead, {sizes.overhead_calls} calls x {sizes.rounds} rounds")
        results.append(scenarios.hook_overhead(bench, sizes.overhead_calls, sizes.rounds))
        _done(step)

        step = _step(5, f"{sizes.refreshes:,} token refreshes in one process")
        results.append(refresh.token_refresh_cost(bench, sizes.refreshes, sizes.baseline_refreshes))
        _done(step)

    seconds = time.perf_counter() - started
    report.write_json(output, env, results, seconds)
    passed = all(r.passed for r in results)
    print(report.table(results))
    shown = output.relative_to(REPO) if output.is_relative_to(REPO) else output
    verdict = "all targets met" if passed else "TARGETS MISSED"
    print(f"\n{verdict}; {seconds:.0f} s ({env['mode']}); wrote {shown}")
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (under a minute)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    try:
        return run(QUICK if args.quick else FULL, args.quick, args.output.resolve())
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
