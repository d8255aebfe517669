"""Make the UI's Test button work for ``xero`` connections (an api-server root middleware).

Two things the api-server does defeat it, and neither can be fixed from the hook:

- the connection list's Test icon posts ``port: 0`` and ``host: ""`` for the hidden
  fields; Airflow then thinks the destination changed, refuses to reuse the stored secret
  and answers 400 Bad Request. A ``xero`` connection has no host or port, so this
  middleware drops those two fields from a test request for a ``xero`` connection;
- Airflow tests a copy under a random connection id, so the hook cannot say which
  connection it tests. The middleware keeps the requested ``connection_id`` in a context
  variable that :mod:`.conn_check` reads (for ``XeroHook.test_connection``), to find the
  connection's tokens and to name it in its messages.
"""

from __future__ import annotations

import contextvars
import json
import logging
from typing import Any

log = logging.getLogger(__name__)
TEST_PATH = "/api/v2/connections/test"
MAX_BODY = 1024 * 1024
tested_connection_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "xero_tested_connection_id", default=None
)


class XeroConnectionTestMiddleware:
    """Pure ASGI middleware; any request other than a xero connection test passes untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or scope.get("path", "").rstrip("/") != TEST_PATH
        ):
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > MAX_BODY:
                break
        body = b"".join(chunks)
        token = None
        if not more:
            body, conn_id = _fixed(body)
            if conn_id:
                token = tested_connection_id.set(conn_id)
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        scope = {**scope, "headers": headers}
        try:
            await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)
        finally:
            if token is not None:
                tested_connection_id.reset(token)


def _fixed(body: bytes) -> tuple[bytes, str | None]:
    try:
        data = json.loads(body)
    except ValueError:
        return body, None
    if not isinstance(data, dict) or data.get("conn_type") != "xero":
        return body, None
    for name, empty in (("port", (0, None, "")), ("host", ("", None))):
        if name in data and data[name] in empty:
            del data[name]
    conn_id = data.get("connection_id")
    return json.dumps(data).encode(), conn_id if isinstance(conn_id, str) else None


def _replay(messages: list[dict], then: Any = None) -> Any:
    queue = list(messages)

    async def receive() -> dict:
        if queue:
            return queue.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


CONNECTIONS_PATH = "/api/v2/connections"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class XeroOrganisationDirectoryMiddleware:
    """Keep the example DAGs' organisation directory in step with connections written
    through Airflow's own form or REST API (the connect page keeps it itself).

    After a successful write under ``/api/v2/connections`` (a test excepted) the directory
    is rebuilt from the ``xero`` connections, in a worker thread: one short transaction.
    The answer is held back until then (connection answers are small), so a client that
    reads the directory after its write's answer sees the write: read-your-writes.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "").rstrip("/")
        if (
            scope.get("type") != "http"
            or scope.get("method") not in WRITES
            or not path.startswith(CONNECTIONS_PATH)
            or path == TEST_PATH
        ):
            await self.app(scope, receive, send)
            return
        held: list[dict] = []
        status = 500

        async def holding(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            held.append(message)

        try:
            await self.app(scope, receive, holding)
            if status < 400:
                import asyncio

                from xero_provider.connect.airflow_connections import sync_directory

                try:
                    await asyncio.to_thread(sync_directory)
                except Exception as error:  # the write succeeded: say so, do not fail it
                    log.warning("the Xero organisation directory was not updated: %s", error)
        finally:
            for message in held:  # the answer, as the app gave it, once the directory is in step
                await send(message)
