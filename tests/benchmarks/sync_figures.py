"""What a warehouse sync's calls could have been, and where its time went (no I/O here).

:func:`minimum_calls` is the fewest list calls any client needs for a resource's records;
:func:`timeline` reads the sandbox's request log of a run against Xero's fixed minute
windows (``xero_sandbox/limits.py``: a window starts at the first call after the previous
one ended).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from xero_provider.resources import Resource


def minimum_calls(resource: Resource, listed: int) -> int:
    """The fewest calls that list ``listed`` records of ``resource`` at Xero's largest page.

    A paged answer carries ``pagination.pageCount``, so ceil(n / page) calls (one when
    empty); Journals (paging by ``offset``) carry no count, so only a short page ends the
    read: n // 100 + 1; an unpaged resource is one call.
    """
    size = resource.page_size
    if size is None:
        return 1
    if resource.paging == "offset":
        return listed // size + 1
    return max(1, math.ceil(listed / size))


def window_floor(calls: int, window_seconds: float, per_window: int = 60) -> float:
    """No client makes ``calls`` calls sooner: the last of Xero's fixed windows they need
    cannot open earlier (the calls inside a window take time on top of this)."""
    return (math.ceil(calls / per_window) - 1) * window_seconds if calls else 0.0


def _span(entry: Mapping[str, Any]) -> tuple[float, float]:
    """(arrival, answer) of a logged call in epoch seconds (the log stamps the answer)."""
    end = datetime.fromisoformat(str(entry["time"]).replace("Z", "+00:00")).timestamp()
    return end - float(entry.get("duration_ms") or 0) / 1000, end


def timeline(
    entries: Iterable[Mapping[str, Any]], started: float, ended: float, window_seconds: float
) -> dict[str, Any]:
    """Where a run's time went, from its API calls' log entries and its wall-clock bounds.

    Windows are replayed as Xero counts them (fixed, from the first call's arrival), so
    ``late_after_window_s`` is how long after a spent window ended the next one's first
    call arrived: the cost of the client's own safety margin and scheduling.
    """
    spans = sorted(_span(e) for e in entries)
    if not spans:
        return {"calls": 0}
    windows: list[list[tuple[float, float]]] = []
    window_start = -math.inf
    late: list[float] = []
    for span in spans:
        if span[0] - window_start >= window_seconds:
            if windows and len(windows[-1]) and window_start != -math.inf:
                late.append(span[0] - (window_start + window_seconds))
            window_start = span[0]
            windows.append([])
        windows[-1].append(span)
    idle = 0.0
    reach = spans[0][1]
    for arrival, answer in spans[1:]:
        if arrival > reach:
            idle += arrival - reach
        reach = max(reach, answer)
    return {
        "calls": len(spans),
        "first_call_after_s": round(spans[0][0] - started, 2),
        "calls_per_window": [len(w) for w in windows],
        "late_after_window_s": [round(x, 2) for x in late],
        "idle_between_calls_s": round(idle, 2),
        "last_answer_to_end_s": round(ended - reach, 2),
    }
