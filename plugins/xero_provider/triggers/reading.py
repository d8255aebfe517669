"""Read one range of a feed from Xero exactly once, even while Xero's records change.

The plan (:func:`read_plan`) is a generator of hook steps: it pages with the hook's one
paging loop (``hooks.paging.walk``), whose page requests the hook answers through its
pipeline (pacing, retries, typed errors). So the sync hook (sensors) and the async hook
(triggers) drive the same logic with the same paging (:func:`read_range`).

How a read stays exact:

* ``If-Modified-Since`` is accurate to the second (Xero: "accurate to the second";
  spec ``components.parameters.ifModifiedSince``) and Xero does not document whether a
  record changed at exactly that second, or within it, counts as "modified since". So it
  is sent a whole second *before* the range's lower instant rounded down: a record at
  ``T.000`` or ``T.999`` is returned whether Xero compares with ``>`` or ``>=`` and
  whether it rounds its own stored time. The exact millisecond bounds are then applied to
  each record (:meth:`Feed.select`); the extra second costs a few records read twice.
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

With the daily call plan, every reader (a trigger's feed group on the event loop, a
poke-mode sensor on a worker) reads through :func:`planned_read`: it asks the plan
whether another process already found the range empty (no call then) and tells it when
a read found nothing, so a settled empty range is read from Xero once per organisation.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from xero_provider.exceptions import XeroError
from xero_provider.hooks.driver import Blocking, collect
from xero_provider.hooks.paging import Page, PageRequest, walk
from xero_provider.hooks.planning import ListPlan, and_where, xero_datetime
from xero_provider.resources import INCLUDE_ARCHIVED, INCLUDE_DELETED
from xero_provider.state.call_plan import SOURCES
from xero_provider.state.feed import Feed, Position, ceil_second, floor_second

MAX_PASSES = 5
IMS_MARGIN_MS = 1000  # If-Modified-Since asks a second early (see the module docstring)


class XeroChangesUnstable(XeroError):
    """Xero's records kept changing under every attempt to read a range; try again later."""


@dataclass
class RangeResult:
    """The records of one range, and what reading it cost."""

    records: list[dict[str, Any]]
    requests: int = 0
    passes: int = 0
    raw_seen: int = 0
    notes: list[str] = field(default_factory=list)
    spared: bool = False  # another reader had found the range empty: no call made


def source_feed(feed: Feed) -> Feed:
    """What a feed is read from: an unfiltered ``Invoices`` read serves bills and sales
    invoices alike (their type and status filters apply on the client, see ``Feed``)."""
    source = SOURCES.get(feed.resource)
    if source is None or feed.where:
        return feed
    return Feed.build(source)


def planned_read(
    plan: Any, feed: Feed, lower: Position, upper: Position
) -> Generator[Any, Any, RangeResult]:
    """:func:`read_plan` through the organisation's call plan (``plan`` None or False:
    none): skip the read when another reader found ``(lower, upper]`` of ``feed`` empty,
    and note the read afterwards. Steps for either hook's ``drive``.

    A position with IDs at its instant also admits other records at that instant, so such
    a range is only known empty when an empty range began before that instant; and only a
    range with no IDs at either end is noted empty (the stored range is ``(lower, upper]``
    by instants).
    """
    if plan:
        since = lower.ts - 1 if lower.ids else lower.ts
        args = (feed.resource, feed.key(), since, upper.ts)
        if (yield Blocking(plan.known_empty, args)):
            return RangeResult(records=[], spared=True)
    result = yield from read_plan(feed, lower, upper)
    if plan:
        empty = not result.records and not lower.ids and not upper.ids
        yield Blocking(plan.note_read, (feed.resource, feed.key(), lower.ts, upper.ts, empty))
    return result


def list_plan(
    feed: Feed, lower: Position, upper: Position, page_size: int | None = None
) -> ListPlan:
    """The list query for a range: IMS rounded down, and the upper end where Xero takes it.

    ``page_size`` below Xero's largest page is for tests (many pages from few records).
    """
    spec = feed.spec
    since = datetime.fromtimestamp((floor_second(lower.ts) - IMS_MARGIN_MS) / 1000, UTC)
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
        pages: list[Page] = yield from collect(walk(plan, lambda rs: _past(feed, rs, upper)))
        result.requests += len(pages)
        raw = [record for page in pages for record in page.records]
        counts = {count for page in pages if (count := _item_count(page.body)) is not None}
        result.raw_seen += len(raw)
        selected = feed.select(raw, lower, upper)
        keys = [feed.version(r) for r in selected]
        ids = [feed.version(r)[1] for r in raw if feed.version(r)]
        unique = len(ids) == len(set(ids))
        if len(pages) == 1:
            result.records = selected
            return result
        if bounded and unique and len(counts) == 1 and counts == {len(raw)}:
            result.records = selected
            return result
        if previous is not None and previous == keys and unique:
            result.records = selected
            return result
        result.notes.append(
            f"pass {attempt}: {len(pages)} pages, counts {sorted(counts)}, {len(raw)} read, "
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


def _item_count(body: Any) -> int | None:
    """Xero's ``pagination.itemCount``: how many records the whole (bounded) list holds."""
    pagination = body.get("pagination") if isinstance(body, dict) else None
    if isinstance(pagination, dict) and pagination.get("itemCount") is not None:
        return int(pagination["itemCount"])
    return None


def read_range(hook: Any, feed: Feed, lower: Position, upper: Position) -> Any:
    """Read ``(lower, upper]`` through ``hook``'s pipeline: the :class:`RangeResult` from
    a :class:`~xero_provider.hooks.XeroHook`, an awaitable of it from a
    :class:`~xero_provider.hooks.XeroAsyncHook` (one plan, one paging loop for both)."""
    return hook.drive(read_plan(feed, lower, upper))


read_range_sync = read_range  # the sensors' name for it
read_range_async = read_range  # the triggers' name for it (await the result)
