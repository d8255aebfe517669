"""No blocking I/O in a coroutine the triggerer runs: a slow token-store database must
not stall the event loop, through a refresh and a minute 429 alike.

Every statement the store's engine runs on the event loop's own thread is recorded and
made slow (the database "answers in half a second"), and the loop runs in asyncio debug
mode with a tight ``slow_callback_duration``: blocking work shows up twice, as a
statement on the loop and as asyncio's "Executing ... took" warning. Statements in
worker threads are left fast, so the test stays quick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
import sqlalchemy as sa

from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroAsyncHook
from xero_provider.state.token_store import engine_for

SLOW_DATABASE_SECONDS = 0.5
SLOW_CALLBACK_SECONDS = 0.3  # a loop step this long is a stall every trigger shares


@pytest.fixture
def store_path(tmp_path) -> str:
    return str(tmp_path / "tokens.db")


@pytest.fixture
def statements_on_the_loop(store_path: str) -> Any:
    engine = engine_for(f"sqlite:///{store_path}")  # the engine the hook will use
    seen: list[str] = []

    def before_cursor_execute(conn, cursor, statement, *args: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread: where blocking work belongs
        seen.append(" ".join(statement.split())[:80])
        time.sleep(SLOW_DATABASE_SECONDS)

    sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)


def test_a_refresh_and_a_minute_429_never_block_the_event_loop(
    sandbox, monkeypatch, store_path, statements_on_the_loop, caplog
) -> None:
    conn_id = xero_connection(sandbox, monkeypatch, store_path)
    path = "/api.xro/2.0/Organisation"

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
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
    assert statements_on_the_loop == []
    stalls = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    assert stalls == []
