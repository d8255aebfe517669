"""XeroChangesTrigger on the event loop, against the sandbox: serialization, exactly one
event, sleeping between polls, errors as one event, no blocking calls on the loop, and
one read per cycle for triggers sharing a feed."""

from __future__ import annotations

import asyncio
import importlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.changes.helpers import create, sandbox_time
from xero_provider.hooks import XeroHook
from xero_provider.state.feed import Feed, Position, ceil_second, floor_second
from xero_provider.triggers import XeroChangesTrigger


def make(conn_id: str, **overrides) -> XeroChangesTrigger:
    now = Position(ceil_second(Position.at(datetime.now(UTC)).ts))  # after the demo data
    args = {
        "xero_conn_id": conn_id,
        "feed": Feed.build("Contacts").to_json(),
        "mode": "watermark",
        "lower": now.to_json(),
        "settle_seconds": 1,
        "poll_interval": 0.5,
    }
    args.update(overrides)
    return XeroChangesTrigger(**args)


def test_serializes_to_its_import_path_with_json_arguments() -> None:
    import json

    trigger = make("xero_x", feed=Feed.build("Bills", statuses=["PAID"]).to_json())
    path, kwargs = trigger.serialize()
    module, name = path.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is XeroChangesTrigger
    assert json.loads(json.dumps(kwargs)) == kwargs
    again = XeroChangesTrigger(**kwargs)
    assert again.serialize() == (path, kwargs)


@pytest.mark.parametrize(
    ("override", "message"),
    [({"mode": "sometimes"}, "mode must be"), ({"mode": "window"}, "needs the window")],
)
def test_bad_arguments(override, message) -> None:
    with pytest.raises(ValueError, match=message):
        make("xero_x", **override)


async def _events(trigger, limit: float = 30):
    async def collect():
        return [event async for event in trigger.run()]

    return await asyncio.wait_for(collect(), limit)


@pytest.mark.slow
def test_watermark_waits_then_fires_once_with_the_range(sandbox, conn_id) -> None:
    trigger = make(conn_id)
    hook = XeroHook(conn_id)

    async def scenario():
        task = asyncio.create_task(_events(trigger))
        await asyncio.sleep(2)  # several empty polls
        assert not task.done()
        ids = await asyncio.to_thread(create, hook, "Contacts", [{"Name": "new one"}])
        return ids, await task

    ids, events = asyncio.run(scenario())
    assert len(events) == 1
    payload = events[0].payload
    assert payload["status"] == "success" and payload["ids"] == ids and payload["count"] == 1
    assert Position.from_json(payload["upper"]).ts > trigger.lower.ts
    polls = sandbox.requests(path="/api.xro/2.0/Contacts", method="GET")
    assert 2 <= len(polls) <= 20  # it slept between polls


@pytest.mark.slow
def test_window_sleeps_until_settled_then_fires(sandbox, conn_id) -> None:
    import time

    start = Position(ceil_second(Position.at(datetime.now(UTC)).ts) + 1000)
    time.sleep(max(0.0, start.ts / 1000 - time.time()))  # the demo data lies before it
    hook = XeroHook(conn_id)
    (inside,) = create(hook, "Contacts", [{"Name": "inside"}])
    end = Position(ceil_second(Position.at(datetime.now(UTC)).ts) + 3000)  # still open
    trigger = make(conn_id, mode="window", lower=start.to_json(), upper=end.to_json())
    began = datetime.now(UTC).timestamp()
    (event,) = asyncio.run(_events(trigger))
    assert began < end.ts / 1000  # the window was open when the trigger started ...
    assert datetime.now(UTC).timestamp() >= end.ts / 1000 + 1  # ... and it slept until settled
    assert event.payload["ids"] == [inside]


def test_an_error_is_one_event(sandbox, conn_id, monkeypatch) -> None:
    trigger = make(conn_id, xero_conn_id="xero_missing_conn")
    (event,) = asyncio.run(_events(trigger))
    assert event.payload["status"] == "error"
    assert "xero_missing_conn" in event.payload["message"]


@pytest.mark.slow
def test_no_blocking_calls_on_the_event_loop(sandbox, conn_id, caplog) -> None:
    with sandbox_time(sandbox, datetime.now(UTC) - timedelta(minutes=5), frozen=False):
        create(XeroHook(conn_id), "Contacts", [{"Name": f"c{n}"} for n in range(30)])
    lower = Position.at(datetime.now(UTC) - timedelta(minutes=10))
    trigger = make(conn_id, lower=lower.to_json())

    async def scenario():
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = 0.25
        return await _events(trigger)

    caplog.set_level(logging.WARNING, logger="asyncio")
    with asyncio.Runner(debug=True) as runner:
        (event,) = runner.run(scenario())
    assert event.payload["count"] >= 30
    slow = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    assert not slow, slow


@pytest.mark.slow
def test_triggers_on_one_feed_share_one_read_per_cycle(sandbox, conn_id) -> None:
    hook = XeroHook(conn_id)
    hook.call("GET", "Organisation")  # tokens ready before counting
    sandbox.control("DELETE", "/requests")

    async def scenario():
        triggers = [make(conn_id, poll_interval=1.0) for _ in range(30)]
        tasks = [asyncio.create_task(_events(t, 60)) for t in triggers]
        await asyncio.sleep(4.2)
        ids = await asyncio.to_thread(create, hook, "Contacts", [{"Name": "shared"}])
        return ids, await asyncio.gather(*tasks)

    ids, results = asyncio.run(scenario())
    assert all(len(events) == 1 and events[0].payload["ids"] == ids for events in results)
    reads = sandbox.requests(path="/api.xro/2.0/Contacts", method="GET")
    # 30 triggers polling once a second for ~5 s: about one read per second in all
    assert len(reads) <= 10, len(reads)


@pytest.mark.slow
def test_triggers_started_at_scattered_moments_still_share_one_read_per_cycle(
    sandbox, conn_id
) -> None:
    """Deferred tasks reach a triggerer one by one: their polls must still coincide."""
    hook = XeroHook(conn_id)
    hook.call("GET", "Organisation")  # tokens ready before counting
    interval, cycles = 3.0, 4
    name = f"scattered {uuid.uuid4().hex[:8]}"
    feed = Feed.build("Contacts", where=f'Name=="{name}"').to_json()  # only this test's
    lower = Position(floor_second(Position.at(datetime.now(UTC)).ts) - 3000)  # first polls read

    async def scenario():
        since = sandbox.requests()[-1]["seq"]
        tasks = []
        for _ in range(10):  # one start every 0.3 s: ten phases across the interval
            trigger = make(conn_id, poll_interval=interval, feed=feed, lower=lower.to_json())
            tasks.append(asyncio.create_task(_events(trigger, 60)))
            await asyncio.sleep(interval / 10)
        await asyncio.sleep(interval * (cycles - 1))
        reads = sandbox.requests(path="/api.xro/2.0/Contacts", method="GET", since=since)
        ids = await asyncio.to_thread(create, hook, "Contacts", [{"Name": name}])
        return len(reads), ids, await asyncio.gather(*tasks)

    reads, ids, results = asyncio.run(scenario())
    assert all(len(events) == 1 and events[0].payload["ids"] == ids for events in results)
    # one read a tick, first polls included (polls on their own phases, or first polls
    # up to their own start, would read about once a second: each a later second)
    assert reads <= cycles + 2, reads
