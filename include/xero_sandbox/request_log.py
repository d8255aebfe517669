"""The request log behind ``GET /__sandbox/requests``, with every secret redacted.

Tests read it to count calls (refreshes, pages, retries) and to prove which grant was
used for which tenant; it names tokens by their ID (``jti``), never by their value.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlencode

REDACTED = "***"
SECRET_FIELDS = {
    "client_secret",
    "refresh_token",
    "access_token",
    "code",
    "code_verifier",
    "token",
    "id_token",
    "password",
}
SECRET_HEADERS = {"authorization", "cookie", "set-cookie"}


def redact_form(body: bytes) -> dict[str, str]:
    """A form body as a dict with secret fields replaced."""
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: (REDACTED if k.lower() in SECRET_FIELDS else v) for k, v in pairs}


def redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if k.lower() in SECRET_FIELDS else v) for k, v in pairs])


def redact_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} {REDACTED}".strip()
        out[name] = value
    return out


class RequestLog:
    """A bounded, thread-safe list of request summaries, numbered from 1."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._seq = 0

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def query(
        self, since: int = 0, path: str | None = None, method: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._entries)
        out = []
        for e in entries:
            if e["seq"] <= since:
                continue
            if path and path.lower() not in e["path"].lower():
                continue
            if method and method.upper() != e["method"]:
                continue
            out.append(e)
        return out
