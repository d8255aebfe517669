"""Benchmark 5: the cost of a token refresh after thousands of rotations in one process.

Each refresh is real: a token call to the sandbox, the new set encrypted and written
under the store's lock, every new token registered with Airflow's secrets masker. Ours
masks tokens by shape (:mod:`xero_provider.auth.masking`); the baseline registers each
token with ``airflow.sdk.log.mask_secret``, as the provider did before, in the same run.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import time
from dataclasses import dataclass
from typing import Any

from tests.benchmarks.harness import LIMITS_OFF, Bench
from tests.benchmarks.report import BenchResult, Row, Target


def _masker() -> Any:
    from airflow.sdk.log import _secrets_masker

    return _secrets_masker()


@dataclass
class Refreshes:
    """What one run of refreshes measured."""

    seconds: list[float]  # wall, per refresh
    cpu: list[float]  # this process's CPU (user + system), per refresh
    issued: list[str]  # every token issued
    calls_first: float  # Python function calls per refresh, first PROFILED refreshes
    calls_last: float  # the same over the last PROFILED refreshes


PROFILED = 100


def _profiled(count: int) -> int:
    """How many refreshes to profile at each end (few for the slow baseline)."""
    return min(PROFILED, max(1, count // 40))


def _calls_per_refresh(refresh: Any, count: int) -> float:
    """Python function calls a refresh makes, counted by cProfile: the same whatever
    else the machine is doing, so growth here is growth in the work itself."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        for _ in range(count):
            refresh()
    finally:
        profile.disable()
    return pstats.Stats(profile).total_calls / count


def _refreshes(bench: Bench, count: int) -> Refreshes:
    """Time every refresh; count the function calls of a few at each end (CPU time is
    what the masker costs; wall time also holds the sandbox's work and whatever else the
    shared machine is doing; the call counts are immune to both)."""
    from xero_provider.auth.tokens import TokenManager

    conn_id, _ = bench.connection()
    manager = TokenManager.from_conn_id(conn_id)
    current = manager.access_token()
    seconds, cpu, issued = [], [], []

    def refresh() -> None:
        nonlocal current
        current = manager.refresh_after_401(current.access_token)
        issued.extend([current.access_token, current.refresh_token])

    calls_first = _calls_per_refresh(refresh, _profiled(count))
    for _ in range(count):
        started, started_cpu = time.perf_counter(), time.process_time()
        refresh()
        cpu.append(time.process_time() - started_cpu)
        seconds.append(time.perf_counter() - started)
    calls_last = _calls_per_refresh(refresh, _profiled(count))
    return Refreshes(seconds, cpu, issued, calls_first, calls_last)


def _block(values: list[float], first: bool, size: int) -> float:
    part = values[:size] if first else values[-size:]
    return statistics.median(part) * 1000


def token_refresh_cost(bench: Bench, refreshes: int, baseline_refreshes: int) -> BenchResult:
    """``refreshes`` refreshes ours; ``baseline_refreshes`` with a literal mask per token."""
    from xero_provider.auth import oauth

    bench.reset(LIMITS_OFF)
    masker = _masker()
    saved = set(masker.patterns)
    block = max(10, refreshes // 10)
    try:
        run = _refreshes(bench, refreshes)
        ours, ours_cpu, issued = run.seconds, run.cpu, run.issued
        patterns_ours = len(masker.patterns) - len(saved)
        unmasked = [t for t in issued if masker.redact(f"x {t} y") != "x *** y"]

        masker.patterns = set(saved)
        masker.replacer = None
        from airflow.sdk.log import mask_secret

        real = oauth.mask_token
        oauth.mask_token = lambda value: mask_secret(value) if value else None
        try:
            baseline = _refreshes(bench, baseline_refreshes)
            base, base_cpu = baseline.seconds, baseline.cpu
        finally:
            oauth.mask_token = real
        patterns_base = len(masker.patterns) - len(saved)
    finally:
        import re

        masker.patterns = saved
        masker.replacer = re.compile("|".join(saved)) if saved else None
    base_block = max(10, baseline_refreshes // 6)
    first, last = _block(ours, True, block), _block(ours, False, block)
    base_first, base_last = _block(base, True, base_block), _block(base, False, base_block)
    cpu_first, cpu_last = _block(ours_cpu, True, block), _block(ours_cpu, False, block)
    base_cpu_first = _block(base_cpu, True, base_block)
    base_cpu_last = _block(base_cpu, False, base_block)
    return BenchResult(
        key="token_refresh_cost",
        title=f"{refreshes:,} token refreshes in one process (the masker never reset)",
        ours_way="tokens masked by shape: one pattern per token shape, registered once",
        sdk_way=f"each token registered with airflow.sdk.log.mask_secret "
        f"({baseline_refreshes:,} refreshes: the baseline grows too slow for more)",
        rows=[
            Row("CPU ms/refresh, first block", cpu_first, base_cpu_first),
            Row("CPU ms/refresh, last block", cpu_last, base_cpu_last),
            Row(
                "CPU last / first (flat = 1.0)",
                cpu_last / cpu_first,
                base_cpu_last / base_cpu_first,
                Target("<=", 1.1),
                compare=False,
            ),
            Row(
                "Python calls/refresh, last / first",
                run.calls_last / run.calls_first,
                baseline.calls_last / baseline.calls_first,
                compare=False,
            ),
            Row("wall ms/refresh, first block", first, base_first),
            Row("wall ms/refresh, last block", last, base_last),
            Row("wall last / first", last / first, base_last / base_first, compare=False),
            Row("masker patterns added", patterns_ours, patterns_base, compare=False),
            Row(
                "issued tokens left unmasked",
                len(unmasked),
                None,
                Target("==", 0),
                compare=False,
            ),
        ],
        settings={
            "refreshes": refreshes,
            "baseline_refreshes": baseline_refreshes,
            "block": block,
            "baseline_block": base_block,
        },
        figures={
            "ours_python_calls_per_refresh": [
                round(run.calls_first, 1),
                round(run.calls_last, 1),
            ],
            "ours_cpu_ms_by_tenth": [
                round(statistics.median(ours_cpu[i : i + block]) * 1000, 3)
                for i in range(0, len(ours_cpu), block)
            ],
            "baseline_cpu_ms_by_sixth": [
                round(statistics.median(base_cpu[i : i + base_block]) * 1000, 3)
                for i in range(0, len(base_cpu), base_block)
            ],
            "ours_ms_by_tenth": [
                round(statistics.median(ours[i : i + block]) * 1000, 3)
                for i in range(0, len(ours), block)
            ],
            "baseline_ms_by_sixth": [
                round(statistics.median(base[i : i + base_block]) * 1000, 3)
                for i in range(0, len(base), base_block)
            ],
        },
        notes=[
            "a refresh here is a real token call to the sandbox, the encrypted write under "
            "the store's lock and the masker registration of the new tokens",
            f"every one of the {len(issued):,} tokens ours issued was checked to be masked",
            f"Python calls/refresh: cProfile's count over {_profiled(refreshes)} refreshes "
            "before and "
            "after the timed ones, the same on a busy or a quiet machine",
            f"blocks are medians of {block:,} refreshes (baseline {base_block:,}); the target "
            "is on this process's CPU time (the masker's cost), 1.1 allowing for noise",
        ],
    )
