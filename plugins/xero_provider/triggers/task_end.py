"""End a change sensor's task from its trigger: no worker process after the event.

Airflow 3 lets a trigger finish its task instance itself: it yields
``TaskSuccessEvent`` / ``TaskSkippedEvent`` (``airflow.triggers.base``) and the
triggerer sets the state (``handle_event_submit`` in ``airflow.models.trigger``), so the
task never goes back to a worker. Starting a worker process per task is what made 500
sensors finish minutes after their events on 2 cores; ending from the trigger takes that
step away. The trigger then does what the worker's ``execute_complete`` would have done,
in the same order:

* watermark mode: record the delivery ``(run, lower, upper)`` in the watermark store
  before anything is delivered (:meth:`.WatermarkStore.take_claim`, a compare and set on
  the claim the task left when it deferred: exactly one copy of a trigger wins it);
* push the IDs under ``ids`` and the records as ``return_value`` through the task SDK's
  ``XCom.aset`` (the configured XCom backend, as a worker would; with the list's length
  when a mapped task expands over it, which ``TaskSuccessEvent(xcoms=...)`` does not
  record: Airflow's ``TaskMap`` row, without which ``expand`` fails upstream);
* end the task: success, or skipped for an empty window with ``on_empty="skip"``.

It ends the task only when all of this is safe, else it returns ``None`` and the trigger
fires the ordinary event that resumes the task on a worker (:mod:`.handover`):

* the trigger runs in a real triggerer for the very task instance it names (``dag.test()``
  runs triggers inline and resumes the task whatever the event);
* the records' JSON fits :data:`END_MAX_BYTES`: a larger batch is staged and delivered by
  a worker, so the triggerer's one supervisor loop (which writes every trigger's events
  and XComs) never carries a large value, and the same batches ride in events as before;
* a mapped downstream can take the list (``[core] max_map_length``; a worker fails the
  task on a longer one, so the worker decides);
* watermark mode: this copy of the trigger took the claim.

A failure after the claim (an XCom push refused) also falls back to the worker, which
records the same delivery again (``set_pending`` of its own run) and delivers it: the
pending-delivery protocol (:mod:`xero_provider.state.watermarks`) is unchanged, so a run
that ended from its trigger is committed or dropped at the next run's start exactly like
one a worker finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from airflow.triggers.base import TaskSkippedEvent, TaskSuccessEvent, TriggerEvent

from xero_provider.state.feed import Feed, Position
from xero_provider.triggers.handover import INLINE_MAX_BYTES, json_size

log = logging.getLogger(__name__)

END_MAX_BYTES = INLINE_MAX_BYTES  # records' JSON up to this end the task from the trigger


@dataclass(frozen=True)
class TaskEnd:
    """The task instance a trigger may end, and what its delivery needs (JSON-safe).

    :param mapped_length: record the list's length with ``return_value`` (the task is
        not mapped and a mapped task expands over its output, as the worker decides).
    :param watermark_key: watermark mode: the row holding the run's claim.
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    mode: str
    on_empty: str = "skip"
    mapped_length: bool = False
    watermark_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskEnd:
        if not isinstance(data, dict):
            raise ValueError(f"end_task must be a dict, got {data!r}")
        try:
            return cls(**data)
        except TypeError as error:
            raise ValueError(f"end_task: {error}") from None

    def names(self, ti: Any) -> bool:
        """Whether the triggerer's task instance is the one this names."""
        index = getattr(ti, "map_index", None)
        return (ti.dag_id, ti.task_id, ti.run_id, -1 if index is None else index) == (
            self.dag_id,
            self.task_id,
            self.run_id,
            self.map_index,
        )


PushXCom = Callable[[TaskEnd, str, Any, int | None], Awaitable[None]]


async def push_xcom(end: TaskEnd, key: str, value: Any, mapped_length: int | None) -> None:
    """Store one XCom of the task through the task SDK (the triggerer's supervisor)."""
    from airflow.sdk.execution_time.xcom import XCom

    # ``_mapped_length`` is how the worker itself records the length for ``expand``
    # (task_runner._push_xcom_if_needed); the SDK offers no public way.
    await XCom.aset(
        key=key,
        value=value,
        dag_id=end.dag_id,
        task_id=end.task_id,
        run_id=end.run_id,
        map_index=end.map_index,
        _mapped_length=mapped_length,
    )


def max_map_length() -> int:
    from airflow.sdk.configuration import conf

    return conf.getint("core", "max_map_length", fallback=1024)


def why_not(end: TaskEnd, ti: Any, records: list[dict[str, Any]]) -> str | None:
    """Why this trigger must resume its task on a worker instead; None when it need not."""
    if ti is None:
        return "not run by a triggerer that ends tasks (dag.test() runs triggers inline)"
    if not end.names(ti):
        return f"it names {end.dag_id}/{end.run_id}/{end.task_id}/{end.map_index}, not this TI"
    size = json_size(records)
    if size > END_MAX_BYTES:
        return f"{len(records)} record(s), {size} bytes of JSON: more than {END_MAX_BYTES}"
    if end.mapped_length and len(records) > max_map_length():
        return f"{len(records)} records: more than [core] max_map_length for expand"
    return None


async def end_task(
    end: TaskEnd,
    ti: Any,
    feed: Feed,
    lower: Position,
    upper: Position,
    records: list[dict[str, Any]],
    store_of: Callable[[], Awaitable[Any]],
    push: PushXCom | None = None,
) -> TriggerEvent | None:
    """Deliver ``records`` of ``(lower, upper]`` and end the task; None: resume it instead.

    ``store_of`` gives the watermark store (awaited only in watermark mode); its blocking
    statements run in a worker thread, never on the triggerer's loop.
    """
    why = why_not(end, ti, records)
    if why is not None:
        log.info("Resuming the task on a worker: %s", why)
        return None
    try:
        return await _deliver(end, feed, lower, upper, records, store_of, push or push_xcom)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # the worker records and delivers the same range instead
        log.warning("Ending the task from the trigger failed (%s); resuming it", error)
        return None


async def _deliver(
    end: TaskEnd,
    feed: Feed,
    lower: Position,
    upper: Position,
    records: list[dict[str, Any]],
    store_of: Callable[[], Awaitable[Any]],
    push: PushXCom,
) -> TriggerEvent | None:
    if end.watermark_key is not None:
        store = await store_of()
        took = await asyncio.to_thread(
            store.take_claim, end.watermark_key, end.run_id, lower, upper
        )
        if not took:
            log.warning(
                "Run %s's claim at %s is not there any more (taken by another copy of this "
                "trigger, or the task was cleared): resuming the task on a worker",
                end.run_id,
                lower,
            )
            return None
    await push(end, "ids", [r.get(feed.spec.id_field) for r in records], None)
    if not records and end.mode == "window" and end.on_empty == "skip":
        log.info("No %s changed in this window: skipping the task", feed.resource)
        return TaskSkippedEvent()
    await push(end, "return_value", records, len(records) if end.mapped_length else None)
    log.info("%d change(s) of %s delivered; task ended by its trigger", len(records), feed.resource)
    return TaskSuccessEvent()
