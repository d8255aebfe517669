"""The 100-organisation benchmark, small (``tests/benchmarks/orgs.py``; `make bench` runs it
whole): organisations connected with the CLI get their DAGs from their connections and
sync on CeleryExecutor (two workers, PostgreSQL, Redis) under Xero's limits, with no 429,
every record read, an incremental round after the full one, and no organisation left
behind the others: seven organisations on four task slots, one of them (organisation 2)
with ten times the records of the others, and every light one finishing within 1.5x the
light ones' median finish (the DAG's steps interleaved across organisations). With 25
times (its reads waiting for its Xero minute, holding two of the four slots for 18 s)
the light ones' slowest finished 1.55x their median: two steps per organisation are too
few to absorb that (README "Hundreds of organisations")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.orgs import HEAVY, RESOURCES, Sizes, checks, run
from tests.system.conftest import require_service

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("orgs-celery")]
SMALL = Sizes(counts=(1, 7), records=60, page_size=20, time_scale=6.0, app_per_minute=600,
              workers=2, concurrency=2, heavy_records=600)  # fmt: skip


def test_organisations_from_connections_sync_on_celery_fairly(tmp_path: Path) -> None:
    organisations, slots = SMALL.counts[-1], SMALL.workers * SMALL.concurrency
    assert organisations > slots + 1, "the rule must be tested where the slots run out"
    assert organisations >= HEAVY
    try:
        report = run(SMALL, tmp_path, log=print)
    except Exception as error:  # only a missing PostgreSQL/Redis may skip, never a failure
        if "could not connect" in str(error) or "Connection refused" in str(error):
            require_service("PostgreSQL and Redis", error)
        raise
    one, more, incremental = report["rounds"]
    assert [r["organisations"] for r in report["rounds"]] == [1, organisations, organisations]
    # no run failed, no 429, every record read, and the light organisations' slowest
    # finish within 1.5x their median with the heavy one among them
    assert checks(report) == dict.fromkeys(checks(report), True), report
    assert one["heavy_finish_over_median"] is None
    assert more["heavy_finish_over_median"] is not None, more
    light, heavy = SMALL.records, SMALL.heavy_records
    # three pages (30 for the heavy one) and the last, empty, per resource
    pages = (organisations - 1) * (light // 20) + heavy // 20
    assert more["api_calls"] >= len(RESOURCES) * pages, more
    per_resource = (organisations - 1) * light + heavy
    assert (one["records"], more["records"]) == (2 * light, 2 * per_resource)
    # incremental: nothing changed, so one call per resource and organisation
    assert incremental["api_calls"] == organisations * len(RESOURCES), incremental
    assert incremental["store"]["rows_written_per_call"] > 0
