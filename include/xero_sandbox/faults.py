"""Injected failures: error statuses, delays and dropped connections.

A rule fires for the next ``count`` matching requests, or for a ``fraction`` of them
(drawn from a seeded generator, so a test run is repeatable). ``after_commit`` lets
the request do its work first and then loses the response: the write happened but
the client never hears of it, which is what an Idempotency-Key exists for.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FaultRule:
    status: int | None = None  # answer with this status (e.g. 500, 503, 429)
    delay_ms: float = 0.0  # wait this long before answering (client timeouts)
    drop: bool = False  # close the connection mid-response
    after_commit: bool = False  # do the work, then fail or drop
    count: int | None = None  # fire for the next N matching requests
    fraction: float | None = None  # or for this share of them
    methods: list[str] | None = None  # only these HTTP methods
    path: str | None = None  # only paths matching this regex (case-insensitive search)
    retry_after: int | None = None  # Retry-After header for a 429
    fired: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.status is None and not self.drop and not self.delay_ms:
            raise ValueError("a fault needs a status, drop or delay_ms")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if self.fraction is not None and not 0 <= self.fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be 1 or more")
        self._pattern = re.compile(self.path, re.IGNORECASE) if self.path else None
        if self.methods:
            self.methods = [m.upper() for m in self.methods]

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        return self._pattern is None or bool(self._pattern.search(path))

    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class FaultPlan:
    """The active fault rules; the first rule that matches and fires wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random = random.Random(0)
        self.total_fired = 0

    def add(self, rule: FaultRule, seed: int | None = None) -> None:
        with self._lock:
            if seed is not None:
                self._random = random.Random(seed)
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._random = random.Random(0)
            self.total_fired = 0

    def pick(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.exhausted() or not rule.matches(method, path):
                    continue
                if rule.fraction is not None and self._random.random() >= rule.fraction:
                    continue
                rule.fired += 1
                self.total_fired += 1
                return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.public() for r in self._rules]
