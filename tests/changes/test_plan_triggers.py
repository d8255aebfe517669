"""Triggers on the daily call plan, against the sandbox: a webhook's mark wakes a trigger
whose planned interval is long, bills and sales invoices share one Invoices read, a range
one process found empty is not read again by another, and a failed read does not wedge
the feed's next trigger."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.changes.helpers import create
from tests.provider.connections import xero_connection
from xero_provider.connect import webhooks
from xero_provider.hooks import XeroHook
from xero_provider.state.call_plan import CallPlan, PlanSettings
from xero_provider.state.feed import Feed, Position, ceil_second
from xero_provider.state.token_store import TokenStore
from xero_provider.triggers import XeroChangesTrigger
from xero_provider.triggers.shared_poll import groups

pytestmark = pytest.mark.slow


@pytest.fixture
def planned(sandbox, monkeypatch, tmp_path) -> tuple[str, str]:
    """A connection on the plan with 100 calls a day: one feed polls every 24 minutes."""
    store = f"sqlite:///{tmp_path / 'tokens.db'}"
    conn_id = xero_connection(
        sandbox, monkeypatch, store, call_plan="on", rate_limit_per_day=100, max_retries=1
    )
    return conn_id, store


def make(conn_id: str, resource: str = "Contacts", **overrides) -> XeroChangesTrigger:
    now = Position(ceil_second(Position.at(datetime.now(UTC)).ts))
    args = {
        "xero_conn_id": conn_id,
        "feed": Feed.build(resource).to_json(),
        "mode": "watermark",
        "lower": now.to_json(),
        "settle_seconds": 1,
        "poll_interval": 0.5,  # a hint: the plan's interval is far longer
    }
    args.update(overrides)
    return XeroChangesTrigger(**args)


async def _first_event(trigger: XeroChangesTrigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("no event")


def _gets(sandbox, path: str) -> int:
    return len(sandbox.requests(path=f"/api.xro/2.0/{path}", method="GET"))


def test_a_webhook_mark_wakes_the_trigger_within_seconds(sandbox, planned) -> None:
    conn_id, store = planned
    hook = XeroHook(conn_id)
    tenant = sandbox.demo.tenant_id

    async def scenario():
        task = asyncio.create_task(_first_event(make(conn_id)))
        await asyncio.sleep(3)  # the first poll, at once; the next one is 24 min away
        before = _gets(sandbox, "Contacts")
        assert not task.done()
        ids = await asyncio.to_thread(create, hook, "Contacts", [{"Name": "webhook wake"}])
        await asyncio.sleep(3)
        assert not task.done() and _gets(sandbox, "Contacts") == before  # no mark: no poll
        marked = asyncio.get_running_loop().time()
        events = [{"tenantId": tenant, "eventCategory": "CONTACT", "resourceId": ids[0]}]
        await asyncio.to_thread(webhooks.mark_feeds, webhooks.group(events), store)
        payload = await asyncio.wait_for(task, 20)
        return ids, payload, asyncio.get_running_loop().time() - marked, before

    ids, payload, delay, before = asyncio.run(scenario())
    assert payload["status"] == "success" and payload["ids"] == ids
    assert delay < 8, f"the mark took {delay:.1f} s to reach the trigger"
    assert _gets(sandbox, "Contacts") == before + 1  # one read after the mark
    plan = CallPlan(TokenStore(store), tenant, PlanSettings(per_day=100), tenant_id=tenant)
    assert plan.webhooks_healthy()
    assert [f["driven_by"] for f in plan.describe(None, None)["feeds"]] == ["webhook"]


def test_bills_and_sales_invoices_come_from_one_invoices_read(sandbox, planned) -> None:
    conn_id, _ = planned
    hook = XeroHook(conn_id)
    contact = create(hook, "Contacts", [{"Name": "one read"}])[0]

    async def scenario():
        bills = asyncio.create_task(_first_event(make(conn_id, "Bills")))
        sales = asyncio.create_task(_first_event(make(conn_id, "SalesInvoices")))
        await asyncio.sleep(2)
        (group,) = [g for g in groups().values() if g.feed.resource == "Invoices"]
        assert len(group.members) == 2
        assert group.reads == 0  # started now: nothing settled to read yet
        line = {"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200"}
        for kind in ("Bills", "SalesInvoices"):
            await asyncio.to_thread(
                create, hook, kind, [{"Contact": {"ContactID": contact}, "LineItems": [line]}]
            )
        # no webhook: nothing reads until the planned tick, far away; mark it instead
        events = [{"tenantId": sandbox.demo.tenant_id, "eventCategory": "INVOICE"}]
        await asyncio.to_thread(webhooks.mark_feeds, webhooks.group(events), planned[1])
        done = await asyncio.wait_for(asyncio.gather(bills, sales), 20)
        return done, group.reads

    (bill, sale), reads = asyncio.run(scenario())
    assert bill["count"] == 1 and sale["count"] == 1 and bill["ids"] != sale["ids"]
    assert reads == 1  # the woken poll: one Invoices read served both feeds


def _recent(seconds: int) -> dict:
    """A position ``seconds`` ago: the trigger's first poll reads at once."""
    now = ceil_second(Position.at(datetime.now(UTC)).ts)
    return Position(now - seconds * 1000).to_json()


def test_a_range_another_process_found_empty_is_not_read_again(sandbox, planned) -> None:
    conn_id, store = planned
    tenant = sandbox.demo.tenant_id
    # polls on 10-minute ticks: both processes' first poll reads up to the same tick
    tick = int(datetime.now(UTC).timestamp()) // 600 * 600
    lower = Position((tick - 5) * 1000).to_json()
    feed = Feed.build("CreditNotes", where='Reference=="no such note"').to_json()

    async def one_process():
        task = asyncio.create_task(
            _first_event(make(conn_id, lower=lower, feed=feed, poll_interval=600))
        )
        await asyncio.sleep(3)
        assert not task.done(), task.result()
        (group,) = [g for g in groups().values() if g.feed.resource == "CreditNotes"]
        task.cancel()
        return group.reads, group.spared, group.snapshot.upper

    reads, spared, upper = asyncio.run(one_process())
    assert (reads, spared) == (1, 0)
    before = _gets(sandbox, "CreditNotes")
    # "another process": a fresh event loop and feed group, the same store
    assert asyncio.run(one_process())[:2] == (0, 1)
    assert _gets(sandbox, "CreditNotes") == before
    plan = CallPlan(TokenStore(store), tenant, PlanSettings(per_day=100), tenant_id=tenant)
    key = Feed.from_json(feed).key()
    assert plan.known_empty("CreditNotes", key, Position.from_json(lower).ts, upper.ts)


@pytest.mark.parametrize("share", [True, False], ids=["shared", "own-read"])
def test_after_a_failed_read_the_feeds_next_trigger_still_reads_and_fires(
    sandbox, planned, share
) -> None:
    conn_id, store = planned
    hook = XeroHook(conn_id)
    # the first trigger's read fails (the retry waits longer than the trigger's read)
    sandbox.control(
        "POST",
        "/faults",
        json={"status": 500, "path": "/api.xro/2.0/Contacts$", "count": 1, "methods": ["GET"]},
    )

    async def scenario():
        failing = make(conn_id, share=share, lower=_recent(5))
        failed = await asyncio.wait_for(_first_event(failing), 30)
        nxt = asyncio.create_task(_first_event(make(conn_id, share=share)))
        await asyncio.sleep(1)
        ids = await asyncio.to_thread(create, hook, "Contacts", [{"Name": "after error"}])
        events = [{"tenantId": sandbox.demo.tenant_id, "eventCategory": "CONTACT"}]
        await asyncio.to_thread(webhooks.mark_feeds, webhooks.group(events), store)
        return failed, ids, await asyncio.wait_for(nxt, 20)

    failed, ids, after = asyncio.run(scenario())
    assert failed["status"] == "error" and "500" in failed["message"]
    assert after["status"] == "success" and after["ids"] == ids
