"""The api-server middleware answers a connection write only once the organisation
directory is in step, so a client reading after the answer sees its write."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from xero_provider.connect import airflow_connections
from xero_provider.connect.middleware import XeroOrganisationDirectoryMiddleware


def _app(status: int) -> Any:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b'{"ok": 1}', "more_body": False})

    return app


def _request(middleware: Any, method: str, path: str) -> list[str]:
    events: list[str] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict) -> None:
        events.append(message["type"])

    scope = {"type": "http", "method": method, "path": path}
    asyncio.run(middleware(scope, receive, send))
    return events


@pytest.mark.parametrize(
    ("method", "path", "status", "synced"),
    [
        ("POST", "/api/v2/connections", 201, True),
        ("PATCH", "/api/v2/connections/by_form", 200, True),
        ("DELETE", "/api/v2/connections/by_form", 204, True),
        ("POST", "/api/v2/connections", 409, False),  # refused: nothing changed
        ("GET", "/api/v2/connections", 200, False),  # a read
        ("POST", "/api/v2/connections/test", 200, False),  # the Test button
        ("POST", "/api/v2/variables", 201, False),  # not a connection
    ],
)
def test_the_answer_waits_for_the_directory(
    monkeypatch: pytest.MonkeyPatch, method: str, path: str, status: int, synced: bool
) -> None:
    events: list[str] = []
    monkeypatch.setattr(airflow_connections, "sync_directory", lambda: events.append("synced"))
    answer = _request(XeroOrganisationDirectoryMiddleware(_app(status)), method, path)
    expected = ["synced"] if synced else []
    assert events == expected
    assert answer == ["http.response.start", "http.response.body"]


def test_the_directory_is_rebuilt_before_the_first_byte_of_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order: list[str] = []
    monkeypatch.setattr(airflow_connections, "sync_directory", lambda: order.append("synced"))

    async def send(message: dict) -> None:
        order.append(message["type"])

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    middleware = XeroOrganisationDirectoryMiddleware(_app(201))
    scope = {"type": "http", "method": "POST", "path": "/api/v2/connections"}
    asyncio.run(middleware(scope, receive, send))
    assert order == ["synced", "http.response.start", "http.response.body"]


def test_a_failed_rebuild_still_answers_the_write(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(airflow_connections, "sync_directory", broken)
    answer = _request(XeroOrganisationDirectoryMiddleware(_app(201)), "POST", "/api/v2/connections")
    assert answer == ["http.response.start", "http.response.body"]
