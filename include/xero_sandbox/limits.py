"""Xero's rate limits: per organisation (per app) 5 in flight, 60 a minute, 5,000 a day
(1,000 on a starter-tier organisation), and 10,000 a minute per app across organisations.

Windows are fixed, start at an organisation's first call, and run on the sandbox clock
divided by ``time_scale``: with ``time_scale=60`` a Xero "minute" lasts one second, so
benchmarks see the real limits' shape in seconds.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from xero_sandbox.clock import Clock
from xero_sandbox.errors import RateLimited

MINUTE = 60.0
DAY = 86400.0


@dataclass
class LimitSettings:
    """The limits in force; ``PUT /__sandbox/limits`` changes any of them."""

    enabled: bool = True
    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5000
    per_day_starter: int = 1000
    app_per_minute: int = 10000
    time_scale: float = 1.0
    latency_ms: float = 0.0  # added inside each accounting call, so concurrency is observable

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown limit '{key}'; known: {', '.join(sorted(known))}")
            if key == "enabled":
                self.enabled = bool(value)
                continue
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"limit '{key}' must be a number, got {value!r}") from None
            if not math.isfinite(number) or number > 1e12:
                raise ValueError(f"limit '{key}' must be a finite number up to 1e12")
            if key == "latency_ms" and number > 600_000:
                raise ValueError("limit 'latency_ms' must be at most 600000 (ten minutes)")
            if number < 0 or (key == "time_scale" and number <= 0):
                raise ValueError(f"limit '{key}' must be positive, got {value!r}")
            setattr(self, key, number if key in ("time_scale", "latency_ms") else int(number))


@dataclass
class _Window:
    started: float = -math.inf
    used: int = 0

    def roll(self, now: float, length: float) -> None:
        if now - self.started >= length:
            self.started = now
            self.used = 0

    def seconds_left(self, now: float, length: float) -> float:
        return max(0.0, self.started + length - now)


@dataclass
class Ticket:
    """A call admitted under the limits; give it back with :meth:`RateLimiter.release`."""

    key: tuple[str, str]


class RateLimiter:
    """Counts calls per (app, organisation) and per app, and refuses them as Xero does."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.settings = LimitSettings()
        self._minute: dict[tuple[str, str], _Window] = {}
        self._day: dict[tuple[str, str], _Window] = {}
        self._app_minute: dict[str, _Window] = {}
        self._in_flight: dict[tuple[str, str], int] = {}
        self.refused: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self.settings = LimitSettings()
            self._minute.clear()
            self._day.clear()
            self._app_minute.clear()
            self._in_flight.clear()
            self.refused.clear()

    def _lengths(self) -> tuple[float, float]:
        scale = self.settings.time_scale
        return MINUTE / scale, DAY / scale

    def acquire(self, client_id: str, tenant_id: str, starter: bool) -> Ticket:
        """Admit one call or raise :class:`RateLimited` naming the limit it broke."""
        key = (client_id, tenant_id)
        s = self.settings
        with self._lock:
            now = self._clock.timestamp()
            minute_len, day_len = self._lengths()
            minute = self._minute.setdefault(key, _Window())
            day = self._day.setdefault(key, _Window())
            app = self._app_minute.setdefault(client_id, _Window())
            minute.roll(now, minute_len)
            day.roll(now, day_len)
            app.roll(now, minute_len)
            if s.enabled:
                day_limit = s.per_day_starter if starter else s.per_day
                if day.used >= day_limit:
                    self._refuse("day")
                    raise RateLimited("day", math.ceil(day.seconds_left(now, day_len)))
                if self._in_flight.get(key, 0) >= s.concurrent:
                    self._refuse("concurrent")
                    raise RateLimited("concurrent", 1)
                if minute.used >= s.per_minute:
                    self._refuse("minute")
                    raise RateLimited("minute", math.ceil(minute.seconds_left(now, minute_len)))
                if app.used >= s.app_per_minute:
                    self._refuse("appminute")
                    raise RateLimited("appminute", math.ceil(app.seconds_left(now, minute_len)))
            if s.enabled:  # switched off: nothing counts (and no headers are sent)
                minute.used += 1
                day.used += 1
                app.used += 1
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return Ticket(key)

    def _refuse(self, problem: str) -> None:
        self.refused[problem] = self.refused.get(problem, 0) + 1

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            self._in_flight[ticket.key] = max(0, self._in_flight.get(ticket.key, 0) - 1)

    def headers(self, client_id: str, tenant_id: str | None, starter: bool) -> dict[str, str]:
        """``X-*Limit-Remaining`` headers, sent on every accounting response.

        With the limits switched off there is no limit to count down, so none are sent:
        a fixed "60 remaining" would tell a client that paces by the headers (as the hook
        does) to hold to 60 calls a minute that nothing enforces.
        """
        s = self.settings
        if not s.enabled:
            return {}
        with self._lock:
            now = self._clock.timestamp()
            minute_len, day_len = self._lengths()
            app = self._app_minute.setdefault(client_id, _Window())
            app.roll(now, minute_len)
            out = {"X-AppMinLimit-Remaining": str(max(0, s.app_per_minute - app.used))}
            if tenant_id:
                key = (client_id, tenant_id)
                minute = self._minute.setdefault(key, _Window())
                day = self._day.setdefault(key, _Window())
                minute.roll(now, minute_len)
                day.roll(now, day_len)
                day_limit = s.per_day_starter if starter else s.per_day
                out["X-MinLimit-Remaining"] = str(max(0, s.per_minute - minute.used))
                out["X-DayLimit-Remaining"] = str(max(0, day_limit - day.used))
        return out

    def describe(self) -> dict[str, Any]:
        """Settings, refusals by limit, and the calls admitted but not yet answered (a test
        waits on that to know a slow call is in Xero's hands)."""
        with self._lock:
            in_flight = sum(self._in_flight.values())
        return {
            "settings": asdict(self.settings),
            "refused": dict(self.refused),
            "in_flight": in_flight,
        }
