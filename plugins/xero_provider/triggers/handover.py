"""Hand a trigger's read to the task it wakes, so the task never reads Xero a second time.

The trigger (:class:`~xero_provider.triggers.changes.XeroChangesTrigger`) adds what it
read to its event:

* ``records``: the records themselves, when their JSON fits :data:`INLINE_MAX_BYTES`
  (the event is kept in Airflow's metadata database as the task's resume arguments, so
  it stays small);
* ``stage``: otherwise, a random token under which the records wait in the provider's
  store (:mod:`xero_provider.state.staged_reads`, the token store's database).

The task (:class:`~xero_provider.sensors.changes.XeroChangesSensor`) takes them with
:func:`received`. When it finds neither (an event from a trigger serialised before this
existed, or one built with ``handover=False``) or the stage is gone (expired after
:data:`~xero_provider.state.staged_reads.STAGE_TTL`, or removed), it reads the range once
from Xero, as a retry would: a range is deterministic (:mod:`.reading`), so exactly-once
delivery holds either way and a late task still succeeds; the log says why it read.
Only Xero records go into an event or a stage: never a token or credential.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from xero_provider.state.feed import Feed, Position

INLINE_MAX_BYTES = 64 * 1024  # records' JSON up to this rides in the event itself


def range_key(feed: Feed, lower: Position, upper: Position) -> str:
    """What a stage is checked against: the feed and the exact range its records fill."""
    bounds = json.dumps([lower.to_json(), upper.to_json()], sort_keys=True)
    return f"{feed.resource}|{feed.key()}|{bounds}"


def json_size(records: list[dict[str, Any]]) -> int:
    return len(json.dumps(records, separators=(",", ":"), default=str).encode("utf-8"))


async def hand_over(
    hook: Any,
    feed: Feed,
    lower: Position,
    upper: Position,
    records: list[dict[str, Any]],
    max_bytes: int = INLINE_MAX_BYTES,
) -> dict[str, Any]:
    """The event's part that carries ``records``: inline when small, else a stage token.

    Staging runs the store's statements in a worker thread (the triggerer's loop never
    blocks on the database).
    """
    if json_size(records) <= max_bytes:
        return {"records": records}
    from xero_provider.state.staged_reads import StagedReads

    config = await hook.aconfig()
    store = await asyncio.to_thread(StagedReads.for_config, config)
    token = await asyncio.to_thread(store.put, range_key(feed, lower, upper), records)
    return {"stage": token}


def received(
    event: dict[str, Any],
    feed: Feed,
    lower: Position,
    upper: Position,
    store_of: Callable[[], Any],
) -> tuple[list[dict[str, Any]] | None, str]:
    """The records an event hands over, and where they came from.

    Returns ``(records, "event")``, ``(records, "stage")``, or ``(None, why)`` when the
    task must read the range itself. ``store_of`` builds the stage store on demand.
    """
    if isinstance(event.get("records"), list):
        return event["records"], "event"
    token = event.get("stage")
    if not token:
        return None, "the event names the range only (a trigger from before handover)"
    records = store_of().get(str(token), range_key(feed, lower, upper))
    if records is None:
        return None, "its staged records are gone (expired or removed)"
    return records, "stage"
