"""The one paging loop: every list read (iter_records, a write's reconciliation, a
feed's range read) walks a :class:`ListPlan` page by page through :func:`walk`.

No I/O here: :func:`walk` yields a :class:`PageRequest` per page and receives the parsed
body; the hook answers it through its pipeline (pacing, retries, typed errors), and a
test may answer it by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from xero_provider.hooks.driver import Emit
from xero_provider.hooks.planning import ListPlan
from xero_provider.resources import Resource

Records = list[dict[str, Any]]


@dataclass(frozen=True)
class PageRequest:
    """GET one page; the answer is its parsed body."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]
    resource: Resource | None = None


@dataclass(frozen=True)
class Page:
    """One page as Xero sent it: its number, the parsed body and the records in it."""

    number: int
    body: Any
    records: Records


def walk(
    plan: ListPlan, until: Callable[[Records], bool] | None = None
) -> Generator[PageRequest | Emit, Any, int]:
    """Emit every page of ``plan`` in order, stopping after the last one (or after the
    first page for which ``until(records)`` is true); returns how many were read."""
    page = 1
    while True:
        body = yield PageRequest(
            plan.resource.path, plan.page_params(page), plan.headers, plan.resource
        )
        records = plan.records_of(body)
        yield Emit(Page(page, body, records))
        if plan.is_last_page(page, body, records) or (until is not None and until(records)):
            return page
        page += 1
