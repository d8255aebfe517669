"""Hundreds of records sharing one UpdatedDateUTC across page boundaries: read once each,
cut into batches anywhere without loss or repeats (Quotes: Xero's fixed 100-record pages
and no ``where``, so the two-pass check; Contacts: pages of 100 with the count check)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.changes.helpers import sandbox_time
from xero_provider.hooks import XeroHook
from xero_provider.state.feed import Feed, Position
from xero_provider.triggers.changes import batch_of
from xero_provider.triggers.reading import read_range_sync


@pytest.mark.slow
@pytest.mark.parametrize(("resource", "page_size"), [("Quotes", None), ("Contacts", 100)])
def test_hundreds_of_ties_across_pages(sandbox, monkeypatch, tmp_path, resource, page_size) -> None:
    from tests.provider.connections import xero_connection

    # Limits off, and the hook told so (it paces to 60 calls a minute by default).
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "t.db", rate_limit_per_minute=10**6)
    sandbox.control("PUT", "/limits", json={"enabled": False})
    instant = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=123000)
    with sandbox_time(sandbox, instant):  # frozen: every record gets the same instant
        body = {"tenant_id": sandbox.demo.tenant_id, "resource": resource, "count": 250}
        sandbox.control("POST", "/generate", json=body)
    hook = XeroHook(conn_id)
    feed = Feed.build(resource)
    lower = Position.at(instant - timedelta(seconds=1))
    upper = Position.at(instant + timedelta(seconds=1))

    from tests.changes.test_properties import _drive

    records = _drive(hook, lower, upper, page_size) if page_size else None
    result = read_range_sync(hook, feed, lower, upper) if records is None else None
    records = records if records is not None else result.records
    keys = [feed.version(r) for r in records]
    assert len(keys) == 250 == len(set(keys))
    assert {k[0] for k in keys} == {Position.at(instant).ts}
    if result is not None:
        assert result.requests == 6 and result.passes == 2  # 3 pages, read twice, agreeing

    delivered, position = [], lower
    for _ in range(10):  # batches of 90: cuts inside the tie
        chunk, position = batch_of(feed, records, position, upper, 90)
        delivered += [feed.version(r) for r in chunk]
        if position == upper:
            break
    assert sorted(delivered) == sorted(keys) and len(delivered) == 250
