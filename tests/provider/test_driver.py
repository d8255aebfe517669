"""One pipeline, two drivers: the sync and async hooks run the same steps.

The drivers are checked on their own (answers and errors go back into the steps, what
the steps emit comes out, an abandoned read closes its steps), then the async twins of
the per-record writes against the sandbox: ``act`` with its ledger, ``write_each`` and
``call``'s per-element mode behave as the sync hook's.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.provider.connections import xero_connection
from tests.provider.test_element_writes import _allocations, _credit_and_bill
from xero_provider.exceptions import XeroPartialWriteError
from xero_provider.hooks import XeroAsyncHook, XeroHook
from xero_provider.hooks.driver import (
    Blocking,
    Emit,
    Sleep,
    arun,
    astream,
    collect,
    relay,
    run,
    stream,
)


class _Trace:
    """What a driver executed, and a generator of steps exercising every rule."""

    def __init__(self) -> None:
        self.executed: list[str] = []
        self.closed = False

    def execute(self, effect: Any) -> Any:
        if isinstance(effect, Sleep):
            self.executed.append(f"sleep {effect.seconds}")
            return None
        self.executed.append(f"call {effect.function.__name__}")
        return effect.function(*effect.args)

    async def aexecute(self, effect: Any) -> Any:
        await asyncio.sleep(0)
        return self.execute(effect)

    def steps(self, pages: int = 3) -> Any:
        try:
            doubled = yield Blocking(lambda n: 2 * n, (21,))
            try:
                yield Blocking(_refuse)
            except ValueError as error:  # an executor's error comes back into the steps
                caught = str(error)
            yield Sleep(0.0)
            for page in range(pages):
                yield Emit(page)
            inner = yield from collect(_emitting(2))
            return doubled, caught, inner
        finally:
            self.closed = True


def _refuse() -> None:
    raise ValueError("refused")


def _emitting(count: int) -> Any:
    for n in range(count):
        got = yield Blocking(lambda n: n * 10, (n,))
        yield Emit(got)


def _drained(driven: Any) -> tuple[list[Any], Any]:
    emitted = []
    try:
        while True:
            emitted.append(next(driven))
    except StopIteration as done:
        return emitted, done.value


def test_the_sync_and_async_drivers_run_steps_alike() -> None:
    sync, async_ = _Trace(), _Trace()
    emitted, value = _drained(stream(sync.steps(), sync.execute))

    async def both() -> tuple[list[Any], Any]:
        out = [item async for item in astream(async_.steps(), async_.aexecute)]
        return out, await arun(_Trace().steps(), async_.aexecute)

    async_emitted, async_value = asyncio.run(both())
    assert emitted == async_emitted == [0, 1, 2]
    assert value == async_value == (42, "refused", [0, 10])
    assert run(_Trace().steps(), sync.execute) == value
    assert sync.executed == async_.executed[: len(sync.executed)]
    assert sync.closed and async_.closed


def test_an_abandoned_stream_closes_its_steps() -> None:
    sync, async_ = _Trace(), _Trace()
    for _ in stream(sync.steps(pages=5), sync.execute):
        break

    async def first() -> None:
        async for _ in astream(async_.steps(pages=5), async_.aexecute):
            break

    asyncio.run(first())
    assert sync.closed and async_.closed


def test_an_error_the_steps_do_not_catch_reaches_the_caller() -> None:
    def steps() -> Any:
        yield Blocking(_refuse)

    trace = _Trace()
    with pytest.raises(ValueError, match="refused"):
        run(steps(), trace.execute)
    with pytest.raises(ValueError, match="refused"):
        asyncio.run(arun(steps(), trace.aexecute))


def test_relay_answers_the_effects_it_replaces() -> None:
    def asking() -> Any:
        first = yield "page 1"
        second = yield "page 2"
        return [first, second]

    def answer(effect: Any) -> Any:
        if not isinstance(effect, str):
            return None
        return (yield Blocking(str.upper, (effect,)))

    trace = _Trace()
    assert run(relay(asking(), answer), trace.execute) == ["PAGE 1", "PAGE 2"]
    assert trace.executed == ["call upper", "call upper"]


# --- the async twins against the sandbox ------------------------------------------------


@pytest.fixture
def conn_id(sandbox, monkeypatch, tmp_path) -> str:
    sandbox.control("PUT", "/limits", json={"enabled": False})
    return xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")


def _history_puts(sandbox) -> int:
    return sum(c["method"] == "PUT" and "/History" in c["path"] for c in sandbox.requests())


def test_async_act_keeps_the_ledger_like_the_sync_hook(sandbox, conn_id) -> None:
    sync = XeroHook(conn_id)
    try:
        contact = sync.create("Contacts", {"Name": f"Act {uuid.uuid4().hex[:8]}"})[0].record_id
    finally:
        sync.close()
    notes = [(contact, {"HistoryRecords": [{"Details": f"note {n}"}]}) for n in range(2)]
    history = {
        "method": "PUT",
        "action": "History",
        "list_key": "HistoryRecords",
        "idempotency_key": f"act-{uuid.uuid4().hex[:8]}",
    }

    async def act() -> list[Any]:
        hook = XeroAsyncHook(conn_id)
        try:
            return await hook.act("Contacts", notes, **history)
        finally:
            await hook.aclose()

    sandbox.control("DELETE", "/requests")
    first = asyncio.run(act())
    assert [r.ok for r in first] == [True, True] and _history_puts(sandbox) == 2
    # A rerun under the same key, async or sync, reads both outcomes from the ledger.
    sandbox.control("DELETE", "/requests")
    assert [r.ok for r in asyncio.run(act())] == [True, True]
    sync = XeroHook(conn_id)
    try:
        again = sync.act("Contacts", notes, **history)
        stored = sync.call("GET", f"Contacts/{contact}/History")["HistoryRecords"]
    finally:
        sync.close()
    assert [r.record_id for r in again] == [r.record_id for r in first]
    assert _history_puts(sandbox) == 0
    assert sum(n.get("Details", "").startswith("note ") for n in stored) == 2


def test_async_write_each_and_call_say_which_element_was_applied(conn_id) -> None:
    sync = XeroHook(conn_id)
    try:
        note, bill = _credit_and_bill(sync, 50, 100)
    finally:
        sync.close()

    async def writes() -> tuple[list[Any], XeroPartialWriteError, dict]:
        hook = XeroAsyncHook(conn_id)
        try:
            results = await hook.write_each(
                "PUT",
                f"CreditNotes/{note}/Allocations",
                _allocations(bill, 30, 40),
                list_key="Allocations",
            )
            with pytest.raises(XeroPartialWriteError) as caught:
                await hook.call(
                    "PUT",
                    f"CreditNotes/{note}/Allocations",
                    json={"Allocations": _allocations(bill, 15, 40)},
                )
            return results, caught.value, await hook.get("CreditNotes", note)
        finally:
            await hook.aclose()

    results, error, credit = asyncio.run(writes())
    assert [r.ok for r in results] == [True, False]
    assert results[0].record["Amount"] == 30
    assert [r.ok for r in error.results] == [True, False]
    assert "applied: elements [0]" in str(error)
    assert float(credit["RemainingCredit"]) == 5  # 50 - 30 - 15
