"""ASGI middleware: case-insensitive Xero paths, the request log, and injected faults.

Plain ASGI (not Starlette's BaseHTTPMiddleware) so that a fault can drop the
connection mid-response, the way a lost response looks to a client.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from xero_sandbox.bodies import MAX_BODY_BYTES, PayloadTooLarge, safe_json
from xero_sandbox.request_log import redact_form, redact_headers, redact_query
from xero_sandbox.state import SandboxState

# Xero's paths are case-insensitive; routes are declared with these lower-case prefixes.
XERO_PREFIXES = (
    "/api.xro/2.0/",
    "/connections",
    "/connect/token",
    "/connect/revocation",
    "/identity/connect/authorize",
)
CONTROL_PREFIX = "/__sandbox"
CONTROL_MAX_BODY_BYTES = 64 * 1024 * 1024


def canonical_path(path: str) -> str:
    """Lower-case the fixed prefix of a Xero path, keeping IDs and numbers as sent."""
    lowered = path.lower()
    for prefix in XERO_PREFIXES:
        if lowered.startswith(prefix):
            return prefix + path[len(prefix) :]
    return path


class ClosedMidResponse(Exception):
    """Raised after a partial response so the server closes the connection."""


class SandboxMiddleware:
    """Normalises paths, injects faults and logs every Xero request (secrets redacted)."""

    def __init__(self, app: Any, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["path"] = canonical_path(scope["path"])
        if scope["method"] != "GET":
            self.state.dirty = True
        if scope["path"].startswith(CONTROL_PREFIX):
            body = await _read_body(receive, CONTROL_MAX_BODY_BYTES)
            if body is None:  # seeds are big, but not unbounded
                await _send_error(send, PayloadTooLarge(CONTROL_MAX_BODY_BYTES), {})
                return
            await self.app(scope, _replay(body), send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})["log_extra"] = {}
        method = scope["method"]
        status_box: dict[str, Any] = {"status": None, "fault": None}
        body = await _read_body(receive, MAX_BODY_BYTES)
        if body is None:  # over Xero's request size limit: answer without reading on
            await _send_error(send, PayloadTooLarge(), status_box)
            self._log(scope, b"", status_box, time.perf_counter() - started)
            return
        fault = self.state.faults.pick(method, scope["path"])
        try:
            if fault is not None:
                status_box["fault"] = fault.public()
                if fault.delay_ms:
                    await asyncio.sleep(fault.delay_ms / 1000)
                if not fault.after_commit and (fault.status or fault.drop):
                    await _fail(send, fault, status_box)
                    return
            if fault is not None and fault.after_commit:
                await self.app(scope, _replay(body), _swallow(status_box))
                await _fail(send, fault, status_box)
                return
            await self.app(scope, _replay(body), _observe(send, status_box))
            if self.state.validator is not None:
                self._validate(scope, status_box)
        finally:
            self._log(scope, body, status_box, time.perf_counter() - started)

    def _validate(self, scope: dict, box: dict) -> None:
        """Check the response just sent against Xero's OpenAPI spec (``--validate``)."""
        query = scope.get("query_string", b"").decode("latin-1")
        url = "http://sandbox" + scope["path"] + (f"?{query}" if query else "")
        try:
            self.state.validator.validate(
                scope["method"], url, box["status"], box["headers"], b"".join(box["body"])
            )
        except AssertionError as violation:
            self.state.violations.append(
                {"method": scope["method"], "path": scope["path"], "error": str(violation)[:4000]}
            )

    def _log(self, scope: dict, body: bytes, box: dict, elapsed: float) -> None:
        headers = redact_headers(scope.get("headers", []))
        entry: dict[str, Any] = {
            "time": self.state.clock.now().isoformat().replace("+00:00", "Z"),
            "method": scope["method"],
            "path": scope["path"],
            "query": redact_query(scope.get("query_string", b"").decode("latin-1")),
            "status": box["status"],
            "duration_ms": round(elapsed * 1000, 2),
            "tenant_id": headers.get("xero-tenant-id"),
            "idempotency_key": headers.get("idempotency-key"),
            "authorization": headers.get("authorization"),
            "fault": box["fault"],
        }
        entry.update(scope.get("state", {}).get("log_extra", {}))
        if box["status"] == 429:  # which limit (or fault) refused it, for whoever reads the log
            sent = {k.lower(): v for k, v in (box.get("headers") or {}).items()}
            entry["rate_limit_problem"] = sent.get("x-rate-limit-problem")
        if entry.get("client_id") and scope["path"].startswith("/api.xro/"):
            sent = sum(len(chunk) for chunk in box.get("body", []))
            self.state.egress.add(
                entry["client_id"], entry["tenant_id"] or "", self.state.clock.now(), sent
            )
        content_type = headers.get("content-type", "")
        if body and "x-www-form-urlencoded" in content_type:
            entry["form"] = redact_form(body)
        elif body and "json" in content_type and scope["path"].startswith("/api.xro/"):
            entry["json"] = safe_json(body)  # None for a body the API refused as malformed
        self.state.requests.add(entry)


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it grows past ``limit`` bytes."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send_error(send: Any, error: Any, box: dict) -> None:
    """Answer with a typed sandbox error's status and JSON body."""
    payload = json.dumps(error.body()).encode()
    box["status"] = error.status
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # like a client that keeps the connection open
        return {"type": "http.disconnect"}

    return receive


def _observe(send: Any, box: dict) -> Any:
    """Pass messages through, keeping status, headers and body for the log and validator."""
    box["body"] = []
    box["headers"] = {}

    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            box["status"] = message["status"]
            box["headers"] = {
                k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])
            }
        elif message["type"] == "http.response.body":
            box["body"].append(message.get("body", b""))
        await send(message)

    return wrapped


def _swallow(box: dict) -> Any:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            box["committed_status"] = message["status"]

    return wrapped


async def _fail(send: Any, fault: Any, box: dict) -> None:
    """Answer with the fault's status, or start a response and drop the connection."""
    if fault.drop:
        box["status"] = "dropped"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"Id":', "more_body": True})
        raise ClosedMidResponse("fault injected: connection dropped")
    status = fault.status
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if status == 429:
        headers.append((b"retry-after", str(fault.retry_after or 1).encode()))
        headers.append((b"x-rate-limit-problem", b"minute"))
    text = _FAULT_TEXT.get(status, "An error occurred").encode()
    headers.append((b"content-length", str(len(text)).encode()))
    box["status"] = status
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


_FAULT_TEXT = {
    429: "You have exceeded the per minute rate limit",
    500: "An unexpected error occurred",
    502: "Bad Gateway",
    503: "The Xero API is currently offline for maintenance",
    504: "Gateway Timeout",
}
