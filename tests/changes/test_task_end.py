"""A trigger that ends its sensor's task itself (no worker after the event): what it
pushes, when it ends the task, when it leaves the task to a worker instead, and the
watermark claim it must win first. The real triggerer path is in test_system_airflow.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import DAG, Asset, task
from airflow.triggers.base import TaskSkippedEvent, TaskSuccessEvent

from tests.changes.test_handover import _window_with_contacts
from tests.changes.test_trigger import _events, make
from xero_provider.sensors import XeroNewOrUpdatedContactSensor
from xero_provider.state.feed import Feed, Position
from xero_provider.state.watermarks import WatermarkStore
from xero_provider.triggers import XeroChangesTrigger, task_end
from xero_provider.triggers.handover import json_size
from xero_provider.triggers.task_end import TaskEnd, end_task

FEED = Feed.build("Contacts")
P0, P1 = Position(1000), Position(2000)


def _end(**overrides: Any) -> TaskEnd:
    args = {"dag_id": "d", "task_id": "changes", "run_id": "r1", "map_index": -1}
    args.update({"mode": "window", **overrides})
    return TaskEnd(**args)


def _ti(**overrides: Any) -> SimpleNamespace:
    args = {"dag_id": "d", "task_id": "changes", "run_id": "r1", "map_index": -1}
    return SimpleNamespace(**{**args, **overrides})


class Pushes:
    """Records what the trigger pushes: ``{key: (value, mapped_length)}``."""

    def __init__(self, fail: bool = False) -> None:
        self.pushed: dict[str, tuple[Any, int | None]] = {}
        self.fail = fail

    async def __call__(self, end: TaskEnd, key: str, value: Any, length: int | None) -> None:
        if self.fail:
            raise RuntimeError("the XCom API refused it")
        self.pushed[key] = (value, length)


def _records(n: int) -> list[dict[str, Any]]:
    return [{"ContactID": f"c{i}", "Name": f"contact {i}"} for i in range(n)]


def _run(end: TaskEnd, ti: Any, records: list, push: Pushes, store: Any = None):
    async def store_of() -> Any:
        return store

    return asyncio.run(end_task(end, ti, FEED, P0, P1, records, store_of, push))


def test_a_small_window_ends_the_task_with_the_records_and_their_ids() -> None:
    push = Pushes()
    event = _run(_end(mapped_length=True), _ti(), _records(3), push)
    assert isinstance(event, TaskSuccessEvent)
    assert push.pushed["ids"] == (["c0", "c1", "c2"], None)
    assert push.pushed["return_value"] == (_records(3), 3)  # the length `expand` reads


def test_an_unmapped_downstream_records_no_length() -> None:
    push = Pushes()
    _run(_end(), _ti(), _records(2), push)
    assert push.pushed["return_value"] == (_records(2), None)


@pytest.mark.parametrize(
    ("on_empty", "kind", "pushed"),
    [
        ("skip", TaskSkippedEvent, {"ids": ([], None)}),
        ("succeed", TaskSuccessEvent, {"ids": ([], None), "return_value": ([], None)}),
    ],
    ids=["skip", "succeed"],
)
def test_an_empty_window(on_empty, kind, pushed) -> None:
    push = Pushes()
    event = _run(_end(on_empty=on_empty), _ti(), [], push)
    assert isinstance(event, kind)
    assert push.pushed == pushed


@pytest.mark.parametrize(
    ("ti", "count", "end"),
    [
        (None, 2, _end()),  # dag.test(): the trigger runs inline
        (_ti(run_id="r2"), 2, _end()),  # another task instance
        (_ti(map_index=3), 2, _end()),
        (_ti(), 2500, _end()),  # over 64 KiB of JSON: a worker delivers it
    ],
    ids=["no-triggerer", "other-run", "other-map-index", "large"],
)
def test_the_task_resumes_on_a_worker_when_it_cannot_end_here(ti, count, end) -> None:
    push = Pushes()
    assert json_size(_records(2500)) > task_end.END_MAX_BYTES
    assert _run(end, ti, _records(count), push) is None
    assert push.pushed == {}


def test_a_list_longer_than_max_map_length_is_left_to_the_worker(monkeypatch) -> None:
    monkeypatch.setattr(task_end, "max_map_length", lambda: 2)
    push = Pushes()
    assert _run(_end(mapped_length=True), _ti(), _records(3), push) is None
    assert _run(_end(mapped_length=False), _ti(), _records(3), push) is not None


def test_a_failed_push_resumes_the_task_on_a_worker() -> None:
    assert _run(_end(), _ti(), _records(2), Pushes(fail=True)) is None


def test_watermark_mode_records_the_delivery_before_pushing_and_only_once(tmp_path) -> None:
    store = WatermarkStore(f"sqlite:///{tmp_path / 'tokens.db'}")
    key = "d/changes/tenant/Contacts"
    store.set_pending(key, "r1", P0, P0)  # the claim the task left when it deferred
    end = _end(mode="watermark", watermark_key=key)
    push = Pushes()
    assert isinstance(_run(end, _ti(), _records(2), push, store), TaskSuccessEvent)
    pending = store.get(key).pending
    assert (pending.run_id, pending.lower, pending.upper) == ("r1", P0, P1)
    again = Pushes()  # a second copy of the trigger (a restart, another triggerer)
    assert _run(end, _ti(), _records(2), again, store) is None
    assert again.pushed == {}


def test_the_trigger_ends_the_task_it_names_in_a_triggerer(sandbox, conn_id, monkeypatch) -> None:
    """Against the sandbox: a closed window read by the trigger ends its task."""
    lower, upper, ids = _window_with_contacts(sandbox, conn_id, 3)
    push = Pushes()
    monkeypatch.setattr(task_end, "push_xcom", push)
    end = _end(mapped_length=True).to_json()
    trigger = make(conn_id, mode="window", lower=lower, upper=upper, end_task=end)
    path, kwargs = trigger.serialize()
    assert kwargs["end_task"] == end and XeroChangesTrigger(**kwargs).serialize() == (path, kwargs)
    trigger.task_instance = _ti()  # what the triggerer sets before it runs a trigger
    (event,) = asyncio.run(_events(trigger))
    assert isinstance(event, TaskSuccessEvent)
    assert sorted(push.pushed["ids"][0]) == sorted(ids)
    assert push.pushed["return_value"][1] == 3
    inline = make(conn_id, mode="window", lower=lower, upper=upper, end_task=end)
    (resumed,) = asyncio.run(_events(inline))  # no task instance: dag.test()
    assert resumed.payload["status"] == "success" and len(resumed.payload["records"]) == 3


def _sensor_spec(**kwargs: Any) -> dict | None:
    with DAG("d", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)):
        sensor = XeroNewOrUpdatedContactSensor(task_id="changes", deferrable=True, **kwargs)

        @task
        def handle(record):
            return record

        handle.expand(record=sensor.output)
    ti = SimpleNamespace(dag_id="d", task_id="changes", run_id="r1", map_index=-1, is_mapped=False)
    return sensor._task_end({"ti": ti}, None)


def test_the_sensor_offers_its_task_to_the_trigger_only_when_nothing_needs_a_worker() -> None:
    spec = _sensor_spec()
    assert spec == _end(mapped_length=True, on_empty="skip").to_json()
    assert _sensor_spec(end_from_trigger=False) is None
    assert _sensor_spec(outlets=[Asset("contacts")]) is None  # asset events need a worker
    assert _sensor_spec(do_xcom_push=False) is None
    with pytest.raises(ValueError, match="end_from_trigger must be True or False"):
        XeroNewOrUpdatedContactSensor(task_id="s", end_from_trigger="yes")


def test_a_store_error_resumes_the_task_on_a_worker() -> None:
    class Broken:
        def take_claim(self, *args: Any) -> bool:
            raise OSError("database is locked")

    push = Pushes()
    end = _end(mode="watermark", watermark_key="d/changes/tenant/Contacts")
    assert _run(end, _ti(), _records(2), push, Broken()) is None
    assert push.pushed == {}
