"""One warehouse sync step: read a resource's changes through the hook and upsert them.

Progress is gap-free: each resource has a position (``xero_sync_positions``) that moves
only past changes stored without a hole. Where Xero sorts a paged list by
``UpdatedDateUTC`` (the spec's ``order`` parameter on every paged list the sync reads
incrementally) the read asks for ``UpdatedDateUTC ASC`` and the position moves after each
stored page; Journals come in JournalNumber order (``offset`` paging), so by creation
time. Every other read commits its position only once the whole range is stored. A run
that stops part-way (a 500 on page 3, the daily limit, a killed worker) leaves the next
run to start at the first change it did not store.

A read in update order may also stop on purpose, after ``max_pages`` pages (a slice,
:func:`sync_slice`): the task gives its worker slot back and its next try continues the
same read from that read's own cursor, kept with the IDs it listed in the warehouse
(``xero_examples.slices``), so a heavy organisation's read does not hold a slot for long.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from xero_examples.warehouse import Warehouse, aware_utc, record_version
from xero_provider.exceptions import XeroTierError
from xero_provider.resources import INCLUDE_ARCHIVED, INCLUDE_DELETED, Resource

UPSERT_BATCH = 1000  # rows per upsert transaction (one Xero page)
ORDER = "UpdatedDateUTC ASC"
log = logging.getLogger(__name__)


def read_options(resource: Resource, lean: bool | Collection[str] = False) -> dict[str, Any]:
    """Everything Xero's list would hide or round: archived records where the list takes
    ``includeArchived``, deleted transfers (``includeDeleted``, BankTransfers), and unit
    amounts at 4 places where it takes ``unitdp`` (all per Xero's spec).

    ``lean`` leaves out the bulky fields where Xero can (``summaryOnly``: a contact's
    addresses, phones and people, an invoice's line items and payments): less egress, and
    the warehouse keeps no line items for those resources. ``True`` for every resource
    whose list takes it, or the names of the resources to read lean (``{"Contacts"}``
    keeps invoice lines, which a trial balance from documents needs)."""
    options: dict[str, Any] = {"include_archived": resource.hidden_flag == INCLUDE_ARCHIVED}
    chosen = lean is True or (not isinstance(lean, bool) and resource.name in lean)
    if chosen and resource.summary_only:
        options["summary_only"] = True
    if resource.hidden_flag == INCLUDE_DELETED:
        options["include_deleted"] = True
    if resource.takes_unitdp:
        options["unitdp"] = 4
    return options


def reads_in_update_order(resource: Resource) -> bool:
    """Whether pages arrive oldest change first, so each stored page is a gap-free prefix.

    Paged lists dated by ``UpdatedDateUTC`` take ``order`` (spec); Journals page by
    ``offset`` on JournalNumber, which grows with ``CreatedDateUTC`` (Xero's Journals docs).
    """
    if not resource.supports_modified_since:
        return False
    if resource.paging == "offset":
        return True
    return resource.paging in ("full", "page") and resource.updated_field == "UpdatedDateUTC"


def reads_whole(resource: Resource) -> bool:
    """Read whole every run: unpaged lists cost one call either way, and a whole read is
    the ID sweep that finds what Xero hides or forgets (DELETED accounts, deleted items)
    and changes it does not date. BankTransfers above all: If-Modified-Since compares
    their ``CreatedDateUTC``, so a deletion never shows in an incremental read."""
    return resource.paging == "none" or not resource.supports_modified_since


def due(logical_date: datetime | None, every_days: int) -> bool:
    """Whether a daily run at ``logical_date`` does a ``every_days`` job (a sweep, a check):
    on days whose ordinal divides by it, so the cost lands on known days of the plan."""
    if every_days <= 1 or logical_date is None:
        return True
    return logical_date.date().toordinal() % every_days == 0


def since_for(
    warehouse: Warehouse,
    resource: Resource,
    tenant_id: str,
    interval_start: datetime | None,
    full_refresh: bool = False,
) -> datetime | None:
    """Where a sync starts: the older of the interval's start and the committed position.

    None (read everything) on the first load, with ``full_refresh``, for a resource Xero
    cannot filter by modification time, and for one read whole every run.
    """
    if full_refresh or reads_whole(resource):
        return None
    position = warehouse.position(resource, tenant_id)
    if position is None:
        return None
    covered = warehouse.last_complete_reads(tenant_id).get(resource.name)
    position = past_settled_second(position, covered)
    return min(position, interval_start) if interval_start else position


SETTLED = timedelta(minutes=10)


def past_settled_second(position: datetime, covered_until: datetime | None) -> datetime:
    """Where an incremental read starts: one second past ``position`` when the last read
    that ran to its end (``covered_until``: when it began) began ``SETTLED`` or more after
    it; else at it.

    Xero's If-Modified-Since is accurate to the second (developer.xero.com/documentation/
    api/requests-and-responses), so a read from the newest stored version returns every
    record of that second again: on a quiet day the whole overlap, every run. When a read
    that ran to its end began well after that second, every record of the second existed
    then and was read (a later change gets a later version), so nothing is lost by
    starting one second later. A read that stopped part-way moves the position, not
    ``covered_until``, so it keeps the overlap.
    """
    if covered_until is not None and covered_until - position >= SETTLED:
        return position + timedelta(seconds=1)
    return position


def sync_resource(
    hook: Any,
    warehouse: Warehouse,
    resource: Resource,
    tenant_id: str,
    run_id: str,
    since: datetime | None = None,
    page_size: int | None = None,
    lean: bool | Collection[str] = False,
    max_pages: int | None = None,
) -> dict[str, Any]:
    """Upsert every record changed since ``since``; return what was seen and written.

    :param page_size: records per Xero page (default: the largest the resource allows).
    :param lean: leave out the bulky fields where Xero can (:func:`read_options`).
    :param max_pages: read at most about this many pages now (a slice, :func:`sync_slice`)
        where pages come in update order; None or 0: the whole read at once.

    A resource the app's Xero tier does not include (Journals below Advanced) is skipped
    with a note in the result and the log, not a failed task (:func:`skipped_for_tier`).
    """
    ordered = reads_in_update_order(resource)
    if max_pages and ordered:
        return sync_slice(
            hook, warehouse, resource, tenant_id, run_id, since, page_size, lean, max_pages
        )
    batch_size = min(page_size or UPSERT_BATCH, UPSERT_BATCH) if ordered else UPSERT_BATCH
    filters: dict[str, Any] = {"modified_since": since, **read_options(resource, lean)}
    if since is not None and resource.paging == "offset":
        # Journals never change once posted: read only those numbered above the newest
        # stored (Xero's offset), not every journal of the watermark's second again.
        filters["modified_since"] = None
        filters["after_number"] = last_number(warehouse, resource, tenant_id)
    if ordered and resource.paging != "offset":
        filters["order"] = ORDER
    if page_size:
        filters["page_size"] = page_size
    seen = written = 0
    listed: set[str] = set()
    started = datetime.now(UTC)
    newest: datetime | None = None
    batch: list[dict] = []

    def store() -> None:
        nonlocal seen, written, newest, batch
        written += warehouse.upsert(resource, tenant_id, batch, run_id)
        seen += len(batch)
        versions = [v for v in (aware_utc(record_version(resource, r)) for r in batch) if v]
        if versions:
            newest = max([newest, *versions]) if newest else max(versions)
        if ordered and newest:  # everything up to here is stored; ties are re-read
            warehouse.commit_position(resource, tenant_id, newest, run_id)
        batch = []

    try:
        for record in hook.iter_records(resource, **filters):
            listed.add(str(record.get(resource.id_field)))
            batch.append(record)
            if len(batch) >= batch_size:
                store()
    except XeroTierError as refused:  # refused before any record: nothing to store
        return skipped_for_tier(resource, since, refused)
    store()
    deleted = 0
    if since is None:  # a whole read: what Xero no longer lists was deleted
        deleted = warehouse.mark_missing(resource, tenant_id, listed, started)
    incremental = resource.supports_modified_since and not reads_whole(resource)
    warehouse.commit_position(  # the whole range is stored
        resource, tenant_id, newest if incremental else None, run_id, covered_until=started
    )
    return {
        "resource": resource.name,
        "since": since.isoformat() if since else None,
        "seen": seen,
        "written": written,
        "marked_deleted": deleted,
    }


def sync_slice(
    hook: Any,
    warehouse: Warehouse,
    resource: Resource,
    tenant_id: str,
    run_id: str,
    since: datetime | None,
    page_size: int | None,
    lean: bool | Collection[str],
    max_pages: int,
) -> dict[str, Any]:
    """Read the next slice of this run's read of ``resource``: about ``max_pages`` pages.

    The first slice of a run starts a read from ``since``; later ones (the task's next
    tries, a retry after a killed worker) continue it from its own cursor, the newest
    version (Journals: number) it stored, whatever ``since`` says then (``slices.py``).
    A slice resumes at its cursor's second (If-Modified-Since is inclusive to the second)
    so it re-reads that second's records, which are stored unchanged (no duplicate, no
    gap), and it ends only once past that second: a second holding more than a slice of
    records cannot keep the read in place.

    Returns ``more: True`` while records remain; the last slice returns the whole read's
    figures (``seen`` counts each record listed once) and, for a whole read, marks what
    Xero no longer lists as deleted, judged against every ID listed by every slice.
    """
    reads = warehouse.reads
    read = reads.begin(tenant_id, resource.name, run_id, since)
    offset = resource.paging == "offset"
    batch_size = min(page_size or UPSERT_BATCH, UPSERT_BATCH)
    filters: dict[str, Any] = {**read_options(resource, lean)}
    if page_size:
        filters["page_size"] = page_size
    if offset:  # JournalNumber order: continue above the newest number stored
        number = read.cursor_number
        if number is None and read.since is not None:
            number = last_number(warehouse, resource, tenant_id)
        filters["after_number"] = number
    else:
        filters["modified_since"] = read.cursor or read.since
        filters["order"] = ORDER
    begun_at = read.cursor or read.since
    floor = begun_at.replace(microsecond=0) if begun_at else None
    batch: list[dict] = []

    def store() -> None:
        reads.list_ids(read, {str(r.get(resource.id_field)) for r in batch})
        written = warehouse.upsert(resource, tenant_id, batch, run_id)
        versions = [v for v in (aware_utc(record_version(resource, r)) for r in batch) if v]
        read.cursor = max([v for v in (read.cursor, *versions) if v], default=None)
        if offset:
            numbers = [int(r[resource.number_field]) for r in batch]
            read.cursor_number = max([n for n in (read.cursor_number, *numbers) if n is not None])
        reads.advance(read, written)
        if read.cursor:
            warehouse.commit_position(resource, tenant_id, read.cursor, run_id)
        batch.clear()

    def past_start() -> bool:
        return offset or floor is None or (read.cursor is not None and read.cursor >= floor + ONE)

    pages = 0
    try:
        for record in hook.iter_records(resource, **filters):
            batch.append(record)
            if len(batch) < batch_size:
                continue
            store()
            pages += 1
            if pages >= max_pages and past_start():
                reads.end_slice(read)
                log.info("%s: slice %d stored %d pages; more remain", resource.name,
                         read.slices, pages)  # fmt: skip
                return {"resource": resource.name, "more": True, "slices": read.slices}
    except XeroTierError as refused:  # refused before any record: nothing to store
        reads.finish(read)
        return skipped_for_tier(resource, since, refused)
    if batch:
        store()
    listed = reads.ids(read)
    deleted = 0
    if read.since is None:  # a whole read: what no slice listed was deleted
        deleted = warehouse.mark_missing(resource, tenant_id, listed, read.started)
    warehouse.commit_position(resource, tenant_id, read.cursor, run_id, covered_until=read.started)
    reads.finish(read)
    return {
        "resource": resource.name,
        "since": read.since.isoformat() if read.since else None,
        "seen": len(listed),
        "written": read.written,
        "marked_deleted": deleted,
        "slices": read.slices + 1,
    }


ONE = timedelta(seconds=1)


def last_number(warehouse: Warehouse, resource: Resource, tenant_id: str) -> int:
    """The highest number stored for an offset-paged resource (0: none yet)."""
    import sqlalchemy as sa

    table = warehouse.table(resource)
    query = sa.select(sa.func.max(sa.cast(table.c.number, sa.Integer))).where(
        table.c.tenant_id == tenant_id
    )
    with warehouse.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


LEDGER_FROM_DOCUMENTS = (
    "not read (journals param off): the ledger is checked from the documents and payments"
)


def skipped_for_tier(
    resource: Resource, since: datetime | None, refused: XeroTierError | str
) -> dict[str, Any]:
    """The result of a sync step skipped because the app's tier lacks the endpoint (or,
    given a sentence, because the run chose not to read it)."""
    reason = refused if isinstance(refused, str) else refused.message
    note = f"skipped: {reason}"
    log.warning("%s %s", resource.name, note)
    return {
        "resource": resource.name,
        "since": since.isoformat() if since else None,
        "seen": 0,
        "written": 0,
        "marked_deleted": 0,
        "skipped": note,
    }
