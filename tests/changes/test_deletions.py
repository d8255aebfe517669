"""Deleted, voided and archived records are changes, delivered with their status; bank
transfers (no UpdatedDateUTC, no paging) are read by CreatedDateUTC, deleted ones too."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.changes.helpers import create, update
from xero_provider.hooks import XeroHook
from xero_provider.state.feed import Feed, Position, ceil_second
from xero_provider.triggers.reading import read_range_sync


def _since_now() -> Position:
    position = Position(ceil_second(Position.at(datetime.now(UTC)).ts))
    time.sleep(max(0.0, position.ts / 1000 - time.time()) + 0.05)
    return position


def _read(hook: XeroHook, resource: str, lower: Position, **filters) -> dict[str, dict]:
    time.sleep(1.1)
    upper = Position.at(datetime.now(UTC) - timedelta(seconds=1))
    feed = Feed.build(resource, **filters)
    return {r[feed.spec.id_field]: r for r in read_range_sync(hook, feed, lower, upper).records}


def test_deleted_and_voided_documents_arrive_with_their_status(sandbox, conn_id) -> None:
    hook = XeroHook(conn_id)
    (supplier,) = create(hook, "Contacts", [{"Name": "deletion supplier"}])
    line = {"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "400"}
    draft, authorised = create(
        hook,
        "Bills",
        [
            {"Contact": {"ContactID": supplier}, "LineItems": [line]},
            {
                "Contact": {"ContactID": supplier},
                "LineItems": [line],
                "Status": "AUTHORISED",
                "Date": "2026-11-01",
                "DueDate": "2026-12-01",
            },
        ],
    )
    lower = _since_now()
    update(hook, "Bills", [{"InvoiceID": draft, "Status": "DELETED"}])
    update(hook, "Bills", [{"InvoiceID": authorised, "Status": "VOIDED"}])
    update(hook, "Contacts", [{"ContactID": supplier, "ContactStatus": "ARCHIVED"}])
    bills = _read(hook, "Bills", lower)
    assert {k: v["Status"] for k, v in bills.items()} == {draft: "DELETED", authorised: "VOIDED"}
    assert _read(hook, "Contacts", lower)[supplier]["ContactStatus"] == "ARCHIVED"
    only_deleted = _read(hook, "Bills", lower, statuses=["DELETED"])
    assert list(only_deleted) == [draft]


def test_bank_transfers_are_read_by_creation_time_deleted_ones_included(sandbox, conn_id):
    hook = XeroHook(conn_id)
    lower = _since_now()
    body = {"tenant_id": sandbox.demo.tenant_id, "resource": "BankTransfers", "count": 2}
    sandbox.control("POST", "/generate", json=body)
    transfers = _read(hook, "BankTransfers", lower)
    assert len(transfers) == 2
    gone = next(iter(transfers))
    hook.call("POST", f"BankTransfers/{gone}", json={"Status": "DELETED"})
    again = _read(hook, "BankTransfers", lower)
    assert again.keys() == transfers.keys() and again[gone].get("Status") == "DELETED"
    requests = sandbox.requests(path="/api.xro/2.0/BankTransfers", method="GET")
    assert all("page=" not in e["query"] for e in requests)  # unpaged: one answer
