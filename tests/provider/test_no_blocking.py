"""No blocking I/O in a coroutine the triggerer runs: a slow token-store database must
not stall the event loop, through a refresh and a minute 429 alike.

Every statement the store's engine runs on the event loop's own thread is recorded and
made slow (the database "answers in 3 s"), and the loop runs in asyncio debug
mode with a tight ``slow_callback_duration``: blocking work shows up twice, as a
statement on the loop and as asyncio's "Executing ... took" warning. Statements in
worker threads are left fast, so the test stays quick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from tests.changes.test_event_trigger import _changes, _first_event, make
from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroAsyncHook
from xero_provider.state.token_store import engine_for

SLOW_DATABASE_SECONDS = 3.0
# A loop step this long is a stall every trigger shares. Not shorter: on a busy 2-core
# machine (`make test`, load 10) plain CPU work in one step took 0.7 s, once 1.03 s; a
# statement made slow above still shows, and every statement on the loop fails the test
# by itself.
SLOW_CALLBACK_SECONDS = 2.0


@pytest.fixture
def store_path(tmp_path) -> str:
    return str(tmp_path / "tokens.db")


@dataclass
class Statements:
    """The store's statements: those run on the event loop's thread, and the rest."""

    on_the_loop: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)


@pytest.fixture
def statements(store_path: str) -> Any:
    engine = engine_for(f"sqlite:///{store_path}")  # the engine the hook will use
    seen = Statements()

    def before_cursor_execute(conn, cursor, statement, *args: Any) -> None:
        text = " ".join(statement.split())[:80]
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen.elsewhere.append(text)  # a worker thread: where blocking work belongs
            return
        seen.on_the_loop.append(text)
        time.sleep(SLOW_DATABASE_SECONDS)

    sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)


def _debug_loop() -> None:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS


def _stalls(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "took" in r.getMessage()]


def test_a_refresh_and_a_minute_429_never_block_the_event_loop(
    sandbox, monkeypatch, store_path, statements, caplog
) -> None:
    conn_id = xero_connection(sandbox, monkeypatch, store_path)
    path = "/api.xro/2.0/Organisation"

    async def scenario() -> None:
        _debug_loop()
        hook = XeroAsyncHook(conn_id)
        try:
            # First use: the connection's refresh token is redeemed under the store's lock.
            await hook.call("GET", "Organisation")
            fault = {"status": 429, "count": 1, "retry_after": 1, "path": path}
            await asyncio.to_thread(sandbox.control, "POST", "/faults", json=fault)
            # A minute 429 (the budget writes the spent window), then the retry.
            await hook.call("GET", "Organisation")
        finally:
            await hook.aclose()

    before = max((e["seq"] for e in sandbox.requests(path=path)), default=0)
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        asyncio.run(scenario())
    statuses = [e["status"] for e in sandbox.requests(path=path, since=before)]
    assert 429 in statuses and statuses[-1] == 200, statuses
    assert statements.on_the_loop == []
    assert any("xero_rate_budget" in text for text in statements.elsewhere)
    assert _stalls(caplog) == []


def test_an_event_trigger_keeps_its_position_off_the_event_loop(
    sandbox, monkeypatch, store_path, statements, caplog
) -> None:
    # The feed's position (read, proposed, committed) lives in the same store.
    conn_id = xero_connection(sandbox, monkeypatch, store_path)
    start, ids = _changes(conn_id, 2)
    statements.elsewhere.clear()  # the sync hook that made the changes ran on no loop

    async def scenario() -> Any:
        _debug_loop()
        return await _first_event(make(conn_id, f"noblock-{len(ids)}", start_from=start))

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        event = asyncio.run(scenario())
    assert sorted(event.payload["ids"]) == sorted(ids)
    assert statements.on_the_loop == []
    assert any("xero_change_watermarks" in text for text in statements.elsewhere)
    assert _stalls(caplog) == []
