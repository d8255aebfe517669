"""The sandbox clock: real time plus an offset that tests can move.

Token expiry, refresh-token grace periods, Idempotency-Key retention, rate-limit
windows and ``UpdatedDateUTC`` all read this one clock, so ``PUT /__sandbox/clock``
lets a test jump 31 minutes ahead instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta

# The clock stays where date arithmetic (token lifetimes, 60-day refresh tokens,
# Xero's /Date()/ values) cannot overflow: 1971 to 9000.
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(9000, 1, 1, tzinfo=UTC).timestamp()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _check(target: float) -> float:
    if not math.isfinite(target) or not EARLIEST <= target <= LATEST:
        raise ValueError("the sandbox clock must stay between 1971-01-01 and 9000-01-01")
    return target


class Clock:
    """A settable UTC clock; it keeps running unless frozen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None

    def timestamp(self) -> float:
        """Seconds since the epoch, as the sandbox sees them."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def now(self) -> datetime:
        """The sandbox's current time as an aware UTC datetime, in whole milliseconds.

        Xero shows record times to the millisecond; a finer stored time would compare
        differently from the one clients see (integer arithmetic: no float rounding).
        """
        return _EPOCH + timedelta(milliseconds=round(self.timestamp() * 1000))

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware or UTC-naive); the clock keeps running from there."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        with self._lock:
            target = _check(when.timestamp())
            if self._frozen_at is not None:
                self._frozen_at = target
            else:
                self._offset = target - time.time()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number)."""
        with self._lock:
            base = self._frozen_at if self._frozen_at is not None else time.time() + self._offset
            if not math.isfinite(seconds):
                raise ValueError("advance_seconds must be a finite number")
            _check(base + seconds)
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    def freeze(self, frozen: bool) -> None:
        """Stop (or restart) the clock at its current reading."""
        with self._lock:
            if frozen and self._frozen_at is None:
                self._frozen_at = time.time() + self._offset
            elif not frozen and self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = 0.0
            self._frozen_at = None

    def describe(self) -> dict[str, object]:
        """The clock's state for the control API."""
        return {
            "now": self.now().isoformat().replace("+00:00", "Z"),
            "offset_seconds": round(self._offset, 3),
            "frozen": self._frozen_at is not None,
        }
