"""Benchmark 3: parallel tasks on one organisation under Xero's real limits.

Each task is its own spawned interpreter (as Airflow runs tasks), started and warmed up
before the clock starts; a barrier then releases them together. Ours share one Airflow
connection (one token store); each SDK task holds its own grant, as separate app
processes would. The SDK has no retry policy of its own, but under it urllib3's default
``Retry(total=3)`` retries a GET or PUT answered 429 with ``Retry-After`` (up to three
times, sleeping as told); after that the SDK raises ``RateLimitException`` and the task fails.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from multiprocessing.managers import SyncManager
from typing import Any

from tests.benchmarks.harness import (
    Bench,
    CallCount,
    count_calls,
    real_limits,
    sdk_accounting_api,
)
from tests.benchmarks.report import BenchResult, Row, Target

LATENCY_MS = 30.0


# --- in the worker processes ------------------------------------------------------------


def _ignore_interrupts() -> None:
    """Ctrl-C is the parent's to handle: it stops the pool and the sandbox."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _warm_up() -> None:
    """Pool initializer: the slow imports happen once per worker, before any timing."""
    _ignore_interrupts()
    import logging

    # Retries are counted from the sandbox's request log; their warnings would bury the table.
    logging.getLogger("xero_provider").setLevel(logging.ERROR)
    import xero_python.accounting  # noqa: F401

    import xero_provider.hooks  # noqa: F401
    from xero_provider.auth import oauth

    oauth.register_secrets("warm-up-value-not-a-secret")


def _drive(calls: list[Callable[[], Any]]) -> dict[str, Any]:
    started = time.monotonic()
    done, error = 0, None
    try:
        for call in calls:
            call()
            done += 1
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    return {"done": done, "error": error, "seconds": time.monotonic() - started}


def ours_task(barrier: Any, env: dict[str, str], conn_id: str, calls: int) -> dict[str, Any]:
    """``calls`` small reads through one XeroHook (GET Organisation and GET Accounts)."""
    os.environ.update(env)
    from xero_provider.hooks import XeroHook

    hook = XeroHook(conn_id)
    hook.config  # noqa: B018 - read the connection before the clock starts
    paths = ["Organisation", "Accounts"]
    work = [lambda p=paths[i % 2]: hook.call("GET", p) for i in range(calls)]
    barrier.wait()
    try:
        return _drive(work)
    finally:
        hook.close()


def sdk_task(barrier: Any, grant: dict[str, Any], tenant_id: str, calls: int) -> dict[str, Any]:
    """The same reads through xero-python's AccountingApi."""
    api = sdk_accounting_api(grant)
    ways = [api.get_organisations, api.get_accounts]
    work = [lambda w=ways[i % 2]: w(tenant_id) for i in range(calls)]
    barrier.wait()
    return _drive(work)


# --- in the parent ----------------------------------------------------------------------


class WorkerPool:
    """``size`` spawned interpreters; :meth:`run` gives each exactly one task."""

    def __init__(self, size: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.size = size
        self._manager = SyncManager(ctx=context)
        self._manager.start(_ignore_interrupts)
        self._pool = context.Pool(size, initializer=_warm_up)
        try:  # every worker up and warm before anything is timed
            self._pool.map(self._manager.Barrier(size, timeout=300).wait, [None] * size, 1)
        except BaseException:
            self.close()
            raise

    def run(self, function: Callable[..., Any], args: list[tuple]) -> tuple[list[dict], float]:
        """Start all tasks together; return their results and the seconds until the last ended."""
        barrier = self._manager.Barrier(len(args) + 1, timeout=300)
        # chunksize=1 and a barrier nobody passes alone: every task gets its own process.
        pending = self._pool.starmap_async(function, [(barrier, *a) for a in args], chunksize=1)
        barrier.wait()
        started = time.monotonic()
        results = pending.get(timeout=600)
        return results, time.monotonic() - started

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()
        self._manager.shutdown()


def _summary(
    results: list[dict], calls: CallCount, seconds: float, allowed: float, refused: dict
) -> dict:
    done = sum(r["done"] for r in results)
    return {
        "failed_tasks": sum(r["error"] is not None for r in results),
        "rate_limited": calls.rate_limited,
        "refused_by_limit": refused,
        "successful_calls": done,
        "seconds": seconds,
        "share_of_allowed_rate": done / seconds / allowed if seconds else 0.0,
        "calls": calls.as_dict(),
        "errors": sorted({r["error"] for r in results if r["error"]}),
        "task_seconds": [round(r["seconds"], 2) for r in results],
    }


def _refused(bench: Bench) -> dict[str, int]:
    """429s the sandbox gave, by limit (minute, concurrent, day, appminute)."""
    return dict(bench.sandbox.control("GET", "/limits").json()["refused"])


def parallel_tasks(bench: Bench, pool: WorkerPool, calls: int, time_scale: float) -> BenchResult:
    """``pool.size`` tasks of ``calls`` reads each, ours then the SDK's, sandbox reset between."""
    tasks = pool.size
    limits = real_limits(time_scale, LATENCY_MS)
    window = 60.0 / time_scale
    allowed = limits["per_minute"] / window  # calls a second the per-minute limit allows
    total = tasks * calls
    fastest = (math.ceil(total / limits["per_minute"]) - 1) * window  # fixed windows

    bench.reset(limits)
    conn_id, env = bench.connection(rate_window_seconds=window)
    results, seconds = pool.run(ours_task, [(env, conn_id, calls)] * tasks)
    ours = _summary(results, count_calls(bench.sandbox), seconds, allowed, _refused(bench))

    bench.reset(limits)
    grants = [bench.sdk_grant() for _ in range(tasks)]
    results, seconds = pool.run(sdk_task, [(g, bench.tenant_id, calls) for g in grants])
    sdk = _summary(results, count_calls(bench.sandbox), seconds, allowed, _refused(bench))

    notes = [
        f"a Xero minute lasts {window:g} s (time_scale {time_scale:g}); allowed rate "
        f"{allowed:g} calls/s; ours get rate_window_seconds={window:g}",
        f"fixed windows: the fastest possible finish for {total} calls is about "
        f"{fastest:g} s, so a perfect run shows more than 100% of the allowed rate",
        "SDK: urllib3's default Retry(3) under the SDK retries a 429 that has Retry-After "
        "up to 3 times; the next one raises RateLimitException and fails the task",
    ]
    notes += [f"ours: {e}" for e in ours["errors"]] + [f"SDK: {e}" for e in sdk["errors"]]
    return BenchResult(
        key="parallel_tasks",
        title=f"{tasks} parallel tasks (spawned processes) x {calls} reads on one "
        f"organisation, real limits (5 concurrent, 60/min, {LATENCY_MS:g} ms latency)",
        ours_way='XeroHook.call("GET", Organisation|Accounts), one shared connection',
        sdk_way="AccountingApi.get_organisations / get_accounts, a grant per process",
        rows=[
            Row(
                "failed tasks",
                ours["failed_tasks"],
                sdk["failed_tasks"],
                Target("==", 0),
                compare=False,
            ),
            Row("429s received", ours["rate_limited"], sdk["rate_limited"], compare=False),
            Row(
                "minute-limit 429s",
                ours["refused_by_limit"].get("minute", 0),
                sdk["refused_by_limit"].get("minute", 0),
                Target("==", 0),
                compare=False,
            ),
            Row(
                f"calls completed (of {total})",
                ours["successful_calls"],
                sdk["successful_calls"],
            ),
            Row("token calls", ours["calls"]["token"], sdk["calls"]["token"]),
            Row("seconds (release to last task)", ours["seconds"], sdk["seconds"]),
            Row(
                "achieved rate, % of allowed",
                100 * ours["share_of_allowed_rate"],
                100 * sdk["share_of_allowed_rate"],
                Target(">=", 95),
            ),
        ],
        settings={
            "tasks": tasks,
            "calls_per_task": calls,
            "limits": limits,
            "window_seconds": window,
            "allowed_calls_per_second": allowed,
            "fastest_possible_seconds": fastest,
        },
        figures={"ours": ours, "sdk": sdk},
        notes=notes,
    )
