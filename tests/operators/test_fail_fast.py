"""Errors only a person can fix fail the task without its retries (``AirflowFailException``);
transient ones keep them. Real ``dag.test()`` retries against sandbox faults."""

from __future__ import annotations

from typing import Any

import pytest

from tests.operators.conftest import RunDag


def _contact_reads(sandbox: Any) -> int:
    return len(sandbox.requests(path="/api.xro/2.0/Contacts", method="GET"))


@pytest.mark.parametrize(
    ("status", "tries", "state"),
    [(403, 1, "failed"), (503, 2, "success")],
    ids=["403-no-retry", "503-retried"],
)
def test_a_403_fails_at_once_and_a_503_is_retried(
    xero_ops: Any, run_dag: RunDag, status: int, tries: int, state: str
) -> None:
    before = _contact_reads(xero_ops)
    # 403 every time; 503 for the first try's three attempts (the hook's own retries),
    # so only the task's retry gets through
    count = {"count": 3} if status == 503 else {"fraction": 1.0}
    fault = {"status": status, "path": r"/Contacts$", "methods": ["GET"], **count}
    xero_ops.control("POST", "/faults", json=fault)
    try:
        run = run_dag("xero_ops_forbidden")
    finally:
        xero_ops.control("DELETE", "/faults")
    ti = run.tis["read_contacts"]
    assert (run.state("read_contacts"), ti.try_number) == (state, tries)
    # the 403 was asked once: no hook retry and no task retry re-asked it
    reads = _contact_reads(xero_ops) - before
    assert reads == (1 if status == 403 else 4), reads
