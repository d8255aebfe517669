"""Helpers for change-feed tests: write records at chosen sandbox times, read DAG output."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xero_provider.hooks import XeroHook


@contextmanager
def sandbox_time(sandbox: Any, when: datetime, frozen: bool = True):
    """Run the block with the sandbox clock at ``when`` (frozen: writes share one instant)."""
    sandbox.control("PUT", "/clock", json={"now": when.isoformat(), "frozen": frozen})
    try:
        yield
    finally:
        sandbox.control("PUT", "/clock", json={"now": datetime.now(UTC).isoformat()})
        sandbox.control("PUT", "/clock", json={"frozen": False})


def create(hook: XeroHook, resource: str, records: list[dict[str, Any]]) -> list[str]:
    results = hook.create(resource, records)
    bad = [r for r in results if not r.ok]
    assert not bad, bad
    return [r.record_id for r in results]


def update(hook: XeroHook, resource: str, records: list[dict[str, Any]]) -> list[str]:
    results = hook.update(resource, records)
    bad = [r for r in results if not r.ok]
    assert not bad, bad
    return [r.record_id for r in results]


def contacts(prefix: str, count: int) -> list[dict[str, Any]]:
    return [{"Name": f"{prefix} {n:04d}"} for n in range(count)]


def read_output(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


# After a write, how long until a reader with settle_seconds=1 sees it: the settle lag,
# plus up to a second lost by rounding the range's end down to whole seconds, plus margin.
SETTLED = 2.5
