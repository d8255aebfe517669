"""Stay under Xero's limits instead of reacting to 429 storms.

Two mechanisms, shared by the sync and async hooks:

* at most ``concurrency`` calls in flight per organisation in this process (Xero allows 5);
* pacing from the ``X-MinLimit-Remaining`` / ``X-AppMinLimit-Remaining`` headers: those
  count every process's calls, so when few calls remain in the minute, every process
  spreads its next calls over what is left of the window and they slow down together.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

XERO_CONCURRENCY = 5


@dataclass
class _Window:
    remaining: int | None = None
    started: float | None = None  # monotonic time the window was seen to start


class RateGovernor:
    """Per-organisation pacing state for one process."""

    def __init__(
        self, window_seconds: float = 60.0, concurrency: int = XERO_CONCURRENCY, reserve: int = 5
    ) -> None:
        self.window_seconds = window_seconds
        self.concurrency = concurrency
        self.reserve = reserve  # calls left to other processes' in-flight requests
        self._lock = threading.Lock()
        self._minute: dict[str, _Window] = {}
        self._app = _Window()
        self._thread_slots: dict[str, threading.BoundedSemaphore] = {}
        self._async_slots: dict[tuple[int, str], asyncio.Semaphore] = {}

    def observe(self, tenant: str, headers: Mapping[str, str], now: float | None = None) -> None:
        """Record what the remaining-calls headers of a response say."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._update(
                self._minute.setdefault(tenant, _Window()), headers.get("X-MinLimit-Remaining"), now
            )
            self._update(self._app, headers.get("X-AppMinLimit-Remaining"), now)

    def _update(self, window: _Window, value: str | None, now: float) -> None:
        if value is None:
            return
        try:
            remaining = int(value)
        except ValueError:
            return
        expired = window.started is not None and now - window.started >= self.window_seconds
        if window.remaining is None or remaining > window.remaining or expired:
            window.started = now  # a fresh window (or our first sight of one)
        window.remaining = remaining

    def delay(self, tenant: str, now: float | None = None) -> float:
        """Seconds to wait before the next call to ``tenant`` (0 when there is room)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return max(
                self._window_delay(self._minute.get(tenant), now),
                self._window_delay(self._app, now),
            )

    def _window_delay(self, window: _Window | None, now: float) -> float:
        if window is None or window.remaining is None or window.started is None:
            return 0.0
        left = window.started + self.window_seconds - now
        if left <= 0:
            window.remaining = None  # the window has rolled over: we know nothing yet
            return 0.0
        if window.remaining <= 0:
            return left
        if window.remaining <= self.reserve:
            return left / (window.remaining + 1)
        return 0.0

    def _thread_slot(self, tenant: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._thread_slots.setdefault(
                tenant, threading.BoundedSemaphore(self.concurrency)
            )

    @contextmanager
    def slot(self, tenant: str) -> Iterator[None]:
        """Hold one of the organisation's in-flight slots (threads of this process)."""
        semaphore = self._thread_slot(tenant)
        with semaphore:
            yield

    @asynccontextmanager
    async def aslot(self, tenant: str) -> AsyncIterator[None]:
        """The same for coroutines on the running event loop."""
        key = (id(asyncio.get_running_loop()), tenant)
        with self._lock:
            semaphore = self._async_slots.setdefault(key, asyncio.Semaphore(self.concurrency))
        async with semaphore:
            yield


_GOVERNORS: dict[float, RateGovernor] = {}
_GOVERNORS_LOCK = threading.Lock()


def governor_for(window_seconds: float) -> RateGovernor:
    """The process-wide governor (one per window length, so all hooks share the state)."""
    with _GOVERNORS_LOCK:
        return _GOVERNORS.setdefault(window_seconds, RateGovernor(window_seconds))
