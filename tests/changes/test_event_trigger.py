"""XeroChangesEventTrigger against the sandbox: one event per batch from the stored
position; run again (as the triggerer does after each event, or after a restart) it
neither re-emits nor skips; bad arguments are refused before the triggerer sees them.

Ack mode is driven through Airflow's own ``SharedStreamManager`` the way the triggerer's
runner drives it (subscribe, ``filter_shared_stream``, bind each event, confirm it stored),
so each gap a SIGKILL can hit is reproduced exactly: a "crash" stops the manager without
unsubscribing (nothing else runs in a killed process), and a new manager is the restart."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.triggers.base import TriggerEvent
from airflow.triggers.shared_stream import AckTimeout, SharedStreamManager

from tests.changes.helpers import SETTLED, create, update
from xero_provider.hooks import XeroHook
from xero_provider.state.batch_claims import claim_batches
from xero_provider.state.feed import Position
from xero_provider.triggers import XeroChangesEventTrigger
from xero_provider.triggers.event_stream import BatchStream


def make(conn_id: str, watermark: str, **kwargs) -> XeroChangesEventTrigger:
    args = {
        "resource": "Contacts",
        "watermark": watermark,
        "xero_conn_id": conn_id,
        "settle_seconds": 1,
        "poll_interval": 0.5,
        **kwargs,
    }
    return XeroChangesEventTrigger(**args)


async def _first_event(trigger, limit: float = 30):
    """The standalone run(): one event, and the commit once resumed (as the triggerer does)."""

    async def whole():
        return [event async for event in trigger.run()]

    (event,) = await asyncio.wait_for(whole(), limit)
    return event


def test_serializes_to_its_import_path_with_json_arguments() -> None:
    trigger = XeroChangesEventTrigger(resource="Bills", watermark="w", statuses=["PAID"])
    path, kwargs = trigger.serialize()
    module, name = path.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is XeroChangesEventTrigger
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert XeroChangesEventTrigger(**kwargs).serialize() == (path, kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"watermark": " "}, "watermark"),
        ({"payload": "all"}, "payload must be"),
        ({"max_records": 0}, "max_records"),
        ({"start_from": "yesterday"}, "not a timestamp"),
        ({"resource": "Quotes", "where": "1==1"}, "does not accept"),
    ],
)
def test_bad_arguments(kwargs, message) -> None:
    args = {"resource": "Contacts", "watermark": "w", **kwargs}
    with pytest.raises(ValueError, match=message):
        XeroChangesEventTrigger(**args)


@pytest.mark.slow
def test_each_run_continues_from_the_stored_position(sandbox, conn_id) -> None:
    hook = XeroHook(conn_id)
    start = datetime.now(UTC).isoformat()
    time.sleep(1.1)
    first = create(hook, "Contacts", [{"Name": f"e{n}"} for n in range(3)])
    time.sleep(SETTLED)
    name = f"watch-{uuid.uuid4().hex[:8]}"
    one = asyncio.run(_first_event(make(conn_id, name, start_from=start, payload="records")))
    assert sorted(one.payload["ids"]) == sorted(first) and one.payload["count"] == 3
    assert {r["ContactID"] for r in one.payload["records"]} == set(first)

    # The triggerer runs the trigger again: it waits for new changes, it does not re-emit.
    async def rerun_then_change():
        task = asyncio.create_task(_first_event(make(conn_id, name, start_from=start)))
        await asyncio.sleep(3)
        assert not task.done()
        task.cancel()  # a triggerer restart mid-wait
        archived = await asyncio.to_thread(
            update, hook, "Contacts", [{"ContactID": first[0], "ContactStatus": "ARCHIVED"}]
        )
        again = await _first_event(make(conn_id, name, start_from=start))
        return archived, again

    archived, two = asyncio.run(rerun_then_change())
    assert two.payload["ids"] == archived and two.payload["statuses"] == ["ARCHIVED"]
    assert two.payload["from"] == one.payload["to"]
    assert two.payload["batch_key"] != one.payload["batch_key"]


def test_one_shared_stream_per_watermark_row() -> None:
    one = XeroChangesEventTrigger(resource="Bills", watermark="w", payload="records")
    same_row = XeroChangesEventTrigger(resource="Bills", watermark="w", max_records=5)
    other = XeroChangesEventTrigger(resource="Bills", watermark="w2")
    assert one.shared_stream_key() == same_row.shared_stream_key()
    assert one.shared_stream_key() != other.shared_stream_key()
    hash(one.shared_stream_key())
    # Ack mode is on: the triggerer's group sees the producer override.
    assert "create_shared_stream_producer" in XeroChangesEventTrigger.__dict__


class Triggerer:
    """The triggerer runner's side of ack mode for one trigger, step by step."""

    def __init__(self, trigger: XeroChangesEventTrigger, ack_timeout: float = 120) -> None:
        self.manager = SharedStreamManager(ack_timeout=ack_timeout)
        self.key = trigger.shared_stream_key()
        stream = self.manager.subscribe(trigger_id=1, trigger=trigger, key=self.key)
        self.events = trigger.filter_shared_stream(stream)
        self.next: asyncio.Task | None = None

    async def fire(self, limit: float = 30) -> tuple[TriggerEvent, int]:
        """The next event and its persist sequence number (bound as ``run_trigger`` does)."""
        if self.next is None:
            self.next = asyncio.ensure_future(anext(self.events))
        event = await asyncio.wait_for(self.next, limit)
        self.next = None
        seq = self.manager.bind_pending_event(trigger_id=1, key=self.key)
        assert seq is not None  # ack mode: the event gates the commit
        return event, seq

    def stored(self, seq: int) -> None:
        """The supervisor stored the event (reaches the runner on the next state sync)."""
        self.manager.confirm_persisted([seq])

    def move_on(self) -> None:
        """``run_trigger`` pulls the next event: the trigger has moved past the last one."""
        self.next = asyncio.ensure_future(anext(self.events))

    async def crash(self) -> None:
        """Stop as a SIGKILL would: no unsubscribe, no commit of anything unresolved."""
        if self.next is not None:
            self.next.cancel()
            with contextlib.suppress(BaseException):
                await self.next
        await self.manager.stop_all()


async def _position(trigger: XeroChangesEventTrigger):
    store, key = await BatchStream(trigger).open_store()
    return await asyncio.to_thread(store.get, key)


async def _wait_committed(trigger, position: dict, limit: float = 30) -> None:
    async def moved() -> None:
        while (await _position(trigger)).committed != Position.from_json(position):
            await asyncio.sleep(0.1)

    await asyncio.wait_for(moved(), limit)


def _changes(conn_id: str, count: int) -> tuple[str, list[str]]:
    hook = XeroHook(conn_id)
    start = datetime.now(UTC).isoformat()
    time.sleep(1.1)
    ids = create(hook, "Contacts", [{"Name": f"ack {n}"} for n in range(count)])
    time.sleep(SETTLED)
    return start, ids


@pytest.mark.slow
def test_ack_mode_one_event_per_batch_in_order_committed_once_stored(sandbox, conn_id) -> None:
    start, ids = _changes(conn_id, 5)
    name = f"ack-{uuid.uuid4().hex[:8]}"

    async def scenario():
        trigger = make(conn_id, name, start_from=start, max_records=2)
        triggerer = Triggerer(trigger)
        events = []
        try:
            for _ in range(3):
                event, seq = await triggerer.fire()
                # Emitted, not stored yet: the position has not moved.
                state = await _position(trigger)
                assert state.committed == Position.from_json(event.payload["from"])
                assert state.pending.upper == Position.from_json(event.payload["to"])
                triggerer.stored(seq)
                triggerer.move_on()
                await _wait_committed(trigger, event.payload["to"])
                events.append(event.payload)
        finally:
            await triggerer.crash()
        return events

    events = asyncio.run(scenario())
    assert [e["count"] for e in events] == [2, 2, 1]
    delivered = [i for e in events for i in e["ids"]]
    assert sorted(delivered) == sorted(ids) and len(set(delivered)) == 5  # each once
    assert [e["from"] for e in events[1:]] == [e["to"] for e in events[:-1]]  # in order
    assert "records" not in events[0]  # payload="ids"


@pytest.mark.slow
def test_killed_before_the_event_was_stored_emits_the_same_batch_again(sandbox, conn_id) -> None:
    start, ids = _changes(conn_id, 3)
    name = f"ack-{uuid.uuid4().hex[:8]}"

    async def scenario():
        first = Triggerer(make(conn_id, name, start_from=start))
        lost, _seq = await first.fire()
        await first.crash()  # killed: the event never reached the metadata database
        state = await _position(make(conn_id, name, start_from=start))
        assert state.committed == Position.from_json(lost.payload["from"])  # nothing skipped

        return lost.payload, await _restarted_delivers(conn_id, name, start)

    lost, again = asyncio.run(scenario())
    assert again == lost  # the same batch, the same batch_key
    assert sorted(again["ids"]) == sorted(ids)


async def _restarted_delivers(conn_id: str, name: str, start: str) -> dict:
    """A new triggerer after a crash: it fires, the event is stored, the batch commits;
    returns the event's payload."""
    trigger = make(conn_id, name, start_from=start)
    triggerer = Triggerer(trigger)
    try:
        event, seq = await triggerer.fire()
        triggerer.stored(seq)
        triggerer.move_on()
        await _wait_committed(trigger, event.payload["to"])
    finally:
        await triggerer.crash()
    return event.payload


@pytest.mark.slow
def test_killed_after_storing_before_commit_replays_and_the_claim_absorbs_it(
    sandbox, conn_id
) -> None:
    start, ids = _changes(conn_id, 2)
    name = f"ack-{uuid.uuid4().hex[:8]}"

    async def scenario():
        first = Triggerer(make(conn_id, name, start_from=start))
        stored, seq = await first.fire()
        first.stored(seq)  # stored, but killed before the trigger moved on: no commit
        await first.crash()
        return stored.payload, await _restarted_delivers(conn_id, name, start)

    stored, replay = asyncio.run(scenario())
    assert replay["batch_key"] == stored["batch_key"] and sorted(replay["ids"]) == sorted(ids)

    # Two asset events, two DAG runs: only the first run works on the batch.
    def run_of(payload):
        return {"asset": [SimpleNamespace(extra={"from_trigger": True, "payload": payload})]}

    consumer = f"consumer-{uuid.uuid4().hex[:8]}"
    worked = [
        claim_batches(run_of(payload), xero_conn_id=conn_id, consumer=consumer, run_id=run)
        for run, payload in (("run-1", stored), ("run-2", replay), ("run-1", stored))
    ]
    assert [len(w) for w in worked] == [1, 0, 1]  # run-2 skips; run-1's retry redoes its own
    both = {"asset": run_of(stored)["asset"] + run_of(replay)["asset"]}
    merged = claim_batches(both, xero_conn_id=conn_id, consumer=f"{consumer}-m", run_id="r")
    assert len(merged) == 1  # both events in one run: worked once


@pytest.mark.slow
def test_an_event_never_confirmed_stored_is_not_committed(sandbox, conn_id) -> None:
    start, _ids = _changes(conn_id, 1)
    name = f"ack-{uuid.uuid4().hex[:8]}"

    async def scenario():
        trigger = make(conn_id, name, start_from=start)
        triggerer = Triggerer(trigger, ack_timeout=1)
        try:
            event, _seq = await triggerer.fire()  # never confirmed
            triggerer.move_on()
            with pytest.raises(AckTimeout):
                await asyncio.wait_for(triggerer.next, 30)
            triggerer.next = None
        finally:
            await triggerer.crash()
        return event.payload, await _position(trigger)

    payload, state = asyncio.run(scenario())
    assert state.committed == Position.from_json(payload["from"])
    assert state.pending.upper == Position.from_json(payload["to"])  # emitted again next run
