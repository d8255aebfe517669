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
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_PATTERN_LENGTH = 200
MAX_MATCHED_PATH = 1024  # a fault is matched against at most this much of the path
MAX_BACKTRACK_CHOICES = 16 * (MAX_MATCHED_PATH + 1)
_SIMPLE = frozenset({"LITERAL", "NOT_LITERAL", "ANY", "IN", "AT", "CATEGORY"})
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})


def compile_path_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a fault's ``path`` regex, refusing shapes that can backtrack for ever.

    Refused: nested repeats (``(a+)+``), a repeat over alternatives (``(a|aa)*``),
    back-references and look-arounds, patterns longer than 200 characters, and
    variable-length repeats whose choices multiply past one ``.*`` and a little more
    (``.*.*x`` is refused; ``/Invoices/.*``, ``[0-9a-f]{8}-.*`` are fine). What is left
    matches a path capped at 1,024 characters in a bounded number of steps.

    :raises ValueError: naming what is wrong with the pattern.
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("path must be a non-empty regular expression")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"path pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from re import _parser as sre_parse  # the stdlib parser re itself uses

            tree = sre_parse.parse(pattern, re.IGNORECASE)
        compiled = re.compile(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ValueError(f"path is not a valid regular expression: {exc}") from None
    choices = _choices(list(tree), inside_repeat=False)
    if choices > MAX_BACKTRACK_CHOICES:
        raise ValueError(
            "path pattern has too many variable-length repeats (e.g. '.*.*'): "
            "it could take too long to match; use at most one '.*'"
        )
    return compiled


def _choices(items: list[tuple[Any, Any]], inside_repeat: bool) -> int:
    """Walk the parsed pattern; return the product of its repeats' length choices."""
    product = 1
    for op, arg in items:
        name = str(op)
        if name in _SIMPLE:
            continue
        if name in _REPEATS:
            low, high, body = arg
            if inside_repeat:
                raise ValueError("path pattern nests one repeat inside another")
            product *= min(high, MAX_MATCHED_PATH) - min(low, MAX_MATCHED_PATH) + 1
            product *= _choices(list(body), inside_repeat=True)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            body = arg[-1] if name == "SUBPATTERN" else arg
            product *= _choices(list(body), inside_repeat)
        elif name == "BRANCH":
            if inside_repeat:
                raise ValueError("path pattern repeats a group of alternatives")
            product *= sum(_choices(list(branch), inside_repeat) for branch in arg[1])
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise ValueError("path pattern uses a back-reference")
        elif name in ("ASSERT", "ASSERT_NOT"):
            raise ValueError("path pattern uses a look-around")
        else:
            raise ValueError(f"path pattern uses an unsupported construct ({name.lower()})")
        product = min(product, MAX_BACKTRACK_CHOICES + 1)
    return product


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
        self._pattern = compile_path_pattern(self.path) if self.path else None
        if self.methods:
            self.methods = [m.upper() for m in self.methods]

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        return self._pattern is None or bool(self._pattern.search(path[:MAX_MATCHED_PATH]))

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
