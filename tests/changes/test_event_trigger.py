"""XeroChangesEventTrigger against the sandbox: one event per batch from the stored
position; run again (as the triggerer does after each event, or after a restart) it
neither re-emits nor skips; bad arguments are refused before the triggerer sees them."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.changes.helpers import SETTLED, create, update
from xero_provider.hooks import XeroHook
from xero_provider.triggers import XeroChangesEventTrigger


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
    async def first():
        async for event in trigger.run():
            return event

    return await asyncio.wait_for(first(), limit)


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
