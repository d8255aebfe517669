"""Read one range of a feed from Xero exactly once, even while Xero's records change.

The plan (:func:`read_plan`) is a generator that yields the requests to send and receives
each parsed body, so the sync hook (sensors) and the async hook (triggers) drive the
same logic through the same hook pipeline (pacing, retries, typed errors).

How a read stays exact:

* ``If-Modified-Since`` is accurate to the second (Xero: "accurate to the second";
  spec ``components.parameters.ifModifiedSince``), so it is sent rounded *down*, and the
  exact millisecond bounds are applied to each record (:meth:`Feed.select`).
* Pages are ordered ``UpdatedDateUTC ASC, <ID> ASC`` (Xero's documented default for the
  paged endpoints, "to ensure consistency in ordering across pages"; developer.xero.com
  contacts/invoices docs, quoted in several public integration notes), so hundreds of
  records sharing one instant keep one order across a page boundary.
* The range's upper end lies at least the settle lag in the past, so a change made while
  pages are read gets a newer timestamp and leaves the range: the set of records in the
  range can only shrink during a read, never grow. Where Xero takes a ``where`` filter the
  upper end is sent too (``UpdatedDateUTC < DateTime(...)``), so every page's
  ``pagination.itemCount`` counts exactly that shrinking set: equal counts on every page
  and as many records as counted prove no record left (and so none slid across a page
  boundary unseen). Otherwise (Quotes take no ``where``) a read of more than one page is
  repeated until two consecutive passes agree: a record that moved during a pass was read
  before it moved and is missing from the next pass, so agreement proves no move.
* A single page is one atomic answer and needs no check.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from xero_provider.exceptions import XeroError
from xero_provider.hooks.planning import ListPlan, and_where, xero_datetime
from xero_provider.resources import INCLUDE_ARCHIVED, INCLUDE_DELETED
from xero_provider.state.feed import Feed, Position, ceil_second, floor_second

MAX_PASSES = 5


class XeroChangesUnstable(XeroError):
    """Xero's records kept changing under every attempt to read a range; try again later."""


@dataclass(frozen=True)
class PageRequest:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class RangeResult:
    """The records of one range, and what reading it cost."""

    records: list[dict[str, Any]]
    requests: int = 0
    passes: int = 0
    raw_seen: int = 0
    notes: list[str] = field(default_factory=list)


def list_plan(
    feed: Feed, lower: Position, upper: Position, page_size: int | None = None
) -> ListPlan:
    """The list query for a range: IMS rounded down, and the upper end where Xero takes it.

    ``page_size`` below Xero's largest page is for tests (many pages from few records).
    """
    spec = feed.spec
    since = datetime.fromtimestamp(floor_second(lower.ts) / 1000, UTC)
    where = feed.where
    # Records at ``upper.ts`` belong to the range when their ID is in ``upper.ids``.
    limit_ms = ceil_second(upper.ts + (1 if upper.ids else 0))
    if spec.supports_where and spec.paging != "none":
        limit = datetime.fromtimestamp(limit_ms / 1000, UTC)
        bound = f"{spec.updated_field}<DateTime({limit.strftime('%Y,%m,%d,%H,%M,%S')})"
        where = and_where(where, bound)
    order = None
    if spec.paging != "none":
        order = f"{spec.updated_field} ASC,{spec.id_field} ASC"
    return ListPlan.build(
        spec,
        where=where,
        order=order,
        modified_since=xero_datetime(since),
        # a feed sees every record Xero hides (archived, deleted): it reports changes
        include_archived=spec.hidden_flag == INCLUDE_ARCHIVED,
        include_deleted=spec.hidden_flag == INCLUDE_DELETED,
        page_size=page_size,
    )


def read_plan(
    feed: Feed, lower: Position, upper: Position, page_size: int | None = None
) -> Generator[PageRequest, Any, RangeResult]:
    """Yield page requests, receive bodies; return the exact records of ``(lower, upper]``."""
    if upper.ts < lower.ts:
        raise ValueError(f"range ends ({upper}) before it starts ({lower})")
    plan = list_plan(feed, lower, upper, page_size)
    bounded = "where" in plan.params and feed.spec.updated_field in plan.params["where"]
    result = RangeResult(records=[])
    previous: list[tuple[int, str]] | None = None
    for attempt in range(1, MAX_PASSES + 1):
        result.passes = attempt
        raw: list[dict[str, Any]] = []
        counts: set[int] = set()
        pages = 0
        page = 1
        while True:
            body = yield PageRequest(plan.resource.path, plan.page_params(page), plan.headers)
            result.requests += 1
            pages += 1
            records = plan.records_of(body)
            raw.extend(records)
            pagination = body.get("pagination") if isinstance(body, dict) else None
            if isinstance(pagination, dict) and pagination.get("itemCount") is not None:
                counts.add(int(pagination["itemCount"]))
            if plan.is_last_page(page, body, records) or _past(feed, records, upper):
                break
            page += 1
        result.raw_seen += len(raw)
        selected = feed.select(raw, lower, upper)
        keys = [feed.version(r) for r in selected]
        ids = [feed.version(r)[1] for r in raw if feed.version(r)]
        unique = len(ids) == len(set(ids))
        if pages == 1:
            result.records = selected
            return result
        if bounded and unique and len(counts) == 1 and counts == {len(raw)}:
            result.records = selected
            return result
        if previous is not None and previous == keys and unique:
            result.records = selected
            return result
        result.notes.append(
            f"pass {attempt}: {pages} pages, counts {sorted(counts)}, {len(raw)} read, "
            f"{'no ' if unique else ''}repeats"
        )
        previous = keys
    raise XeroChangesUnstable(
        f"{feed.resource} kept changing while {MAX_PASSES} passes read it ({lower} to "
        f"{upper}); will try again",
        resource=feed.resource,
    )


def _past(feed: Feed, records: list[dict[str, Any]], upper: Position) -> bool:
    """Ordered ascending: once a page holds a record newer than the range, stop."""
    for record in reversed(records):
        key = feed.version(record)
        if key is not None:
            return key[0] > upper.ts
    return False


def read_range_sync(hook: Any, feed: Feed, lower: Position, upper: Position) -> RangeResult:
    """Drive :func:`read_plan` with the sync :class:`~xero_provider.hooks.XeroHook`."""
    plan = read_plan(feed, lower, upper)
    try:
        request = next(plan)
        while True:
            body = hook.call("GET", request.path, params=request.params, headers=request.headers)
            request = plan.send(body)
    except StopIteration as done:
        return done.value


async def read_range_async(hook: Any, feed: Feed, lower: Position, upper: Position) -> RangeResult:
    """Drive :func:`read_plan` with :class:`~xero_provider.hooks.XeroAsyncHook`."""
    plan = read_plan(feed, lower, upper)
    try:
        request = next(plan)
        while True:
            body = await hook.call(
                "GET", request.path, params=request.params, headers=request.headers
            )
            request = plan.send(body)
    except StopIteration as done:
        return done.value
