"""Idempotency-Key handling as Xero does it: per app, kept for a few minutes.

The same key with the same request replays the first response without writing again;
the same key with a different request is refused.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from xero_sandbox.clock import Clock
from xero_sandbox.errors import ApiException

KEY_MAX_LENGTH = 128
RETENTION_SECONDS = 6 * 60


@dataclass
class StoredResponse:
    fingerprint: str
    stored_at: float
    status: int
    body: Any
    headers: dict[str, str]


def fingerprint(method: str, path: str, query: str, tenant_id: str, body: bytes) -> str:
    """What makes two requests "the same" for an Idempotency-Key."""
    digest = hashlib.sha256()
    for part in (method.upper(), path.lower(), query, tenant_id.lower()):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyCache:
    """Responses to keyed writes, per app, for ``RETENTION_SECONDS`` of sandbox time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], StoredResponse] = {}
        self.replays = 0

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self.replays = 0

    @staticmethod
    def check_key(key: str) -> None:
        if len(key) > KEY_MAX_LENGTH:
            raise ApiException(
                "ValidationException",
                f"Idempotency-Key must be {KEY_MAX_LENGTH} characters or less.",
                number=10,
            )

    def lookup(self, client_id: str, key: str, print_: str) -> StoredResponse | None:
        """The stored response for this key, or None; refuses a reused key on another request."""
        now = self._clock.timestamp()
        with self._lock:
            entry = self._entries.get((client_id, key))
            if entry is None or now - entry.stored_at > RETENTION_SECONDS:
                self._entries.pop((client_id, key), None)
                return None
            if entry.fingerprint != print_:
                raise ApiException(
                    "ValidationException",
                    "The Idempotency-Key has already been used for a different request.",
                    number=10,
                )
            self.replays += 1
            return entry

    def store(self, client_id: str, key: str, print_: str, status: int, body: Any, headers) -> None:
        with self._lock:
            self._entries[(client_id, key)] = StoredResponse(
                print_, self._clock.timestamp(), status, body, dict(headers)
            )
