"""One warehouse sync step: read a resource's changes through the hook and upsert them."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from xero_examples.warehouse import Warehouse
from xero_provider.exceptions import XeroTierError
from xero_provider.resources import INCLUDE_ARCHIVED, Resource

UPSERT_BATCH = 1000  # rows per upsert transaction (one Xero page)
log = logging.getLogger(__name__)


def read_options(resource: Resource, lean: bool = False) -> dict[str, Any]:
    """Archived records too where Xero's list hides them: the warehouse keeps every record
    with its status (the hook's ``include_archived``, where the resource table says Xero's
    list takes it).

    ``lean`` leaves out the bulky fields where Xero can (``summaryOnly``: a contact's
    addresses, phones and people, an invoice's line items and payments): less egress, and
    the warehouse keeps no line items for those resources."""
    options: dict[str, Any] = {"include_archived": resource.hidden_flag == INCLUDE_ARCHIVED}
    if lean and resource.summary_only:
        options["summary_only"] = True
    return options


def since_for(
    warehouse: Warehouse,
    resource: Resource,
    tenant_id: str,
    interval_start: datetime | None,
    full_refresh: bool = False,
) -> datetime | None:
    """Where a sync starts: the older of the interval's start and the newest stored change.

    None (read everything) on the first load, with ``full_refresh``, or for a resource
    Xero cannot filter by modification time.
    """
    if full_refresh or not resource.supports_modified_since:
        return None
    watermark = warehouse.watermark(resource, tenant_id)
    if watermark is None:
        return None
    return min(watermark, interval_start) if interval_start else watermark


def sync_resource(
    hook: Any,
    warehouse: Warehouse,
    resource: Resource,
    tenant_id: str,
    run_id: str,
    since: datetime | None = None,
    page_size: int | None = None,
    lean: bool = False,
) -> dict[str, Any]:
    """Upsert every record changed since ``since``; return what was seen and written.

    :param page_size: records per Xero page (default: the largest the resource allows).
    :param lean: leave out the bulky fields where Xero can (:func:`read_options`).

    A resource the app's Xero tier does not include (Journals below Advanced) is skipped
    with a note in the result and the log, not a failed task: see :func:`skipped_for_tier`.
    """
    try:
        return _sync(hook, warehouse, resource, tenant_id, run_id, since, page_size, lean)
    except XeroTierError as refused:
        return skipped_for_tier(resource, since, refused)


def last_number(warehouse: Warehouse, resource: Resource, tenant_id: str) -> int:
    """The highest number stored for an offset-paged resource (0: none yet)."""
    import sqlalchemy as sa

    table = warehouse.table(resource)
    query = sa.select(sa.func.max(sa.cast(table.c.number, sa.Integer))).where(
        table.c.tenant_id == tenant_id
    )
    with warehouse.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def skipped_for_tier(
    resource: Resource, since: datetime | None, refused: XeroTierError
) -> dict[str, Any]:
    """The result of a sync step skipped because the app's tier lacks the endpoint."""
    note = f"skipped: {refused.message}"
    log.warning("%s %s", resource.name, note)
    return {
        "resource": resource.name,
        "since": since.isoformat() if since else None,
        "seen": 0,
        "written": 0,
        "skipped": note,
    }


def _sync(
    hook: Any,
    warehouse: Warehouse,
    resource: Resource,
    tenant_id: str,
    run_id: str,
    since: datetime | None,
    page_size: int | None,
    lean: bool = False,
) -> dict[str, Any]:
    seen = written = 0
    batch: list[dict] = []
    filters: dict[str, Any] = {"modified_since": since, **read_options(resource, lean)}
    if since is not None and resource.paging == "offset":
        # Journals never change once posted: read only those numbered above the newest
        # stored, instead of every journal created in the watermark's second again.
        filters = {
            **filters,
            "modified_since": None,
            "after_number": last_number(warehouse, resource, tenant_id),
        }
    if page_size:
        filters["page_size"] = page_size
    for record in hook.iter_records(resource, **filters):
        batch.append(record)
        if len(batch) >= UPSERT_BATCH:
            written += warehouse.upsert(resource, tenant_id, batch, run_id)
            seen, batch = seen + len(batch), []
    written += warehouse.upsert(resource, tenant_id, batch, run_id)
    seen += len(batch)
    return {
        "resource": resource.name,
        "since": since.isoformat() if since else None,
        "seen": seen,
        "written": written,
    }
