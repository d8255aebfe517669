"""Keep every token masked at a flat cost, however many tokens a process rotates through.

Airflow's secrets masker turns each registered secret into a pattern and recompiles one
regex of all of them on every new one: measured in this venv (Airflow 3.3), adding a
secret costs about 0.3 s with 200 registered and 0.8 s with 800, so a triggerer that
refreshes a token every 30 minutes for weeks slows down for ever.

Tokens are registered by *shape* instead: a JWT (Xero's access and id tokens) or an opaque
token of one character class and length (a refresh token: the sandbox issues 64 hex
characters) becomes one pattern matching every string of that shape, registered once per
process; a new token of a known shape costs a set lookup. The price is over-masking:
any other string of exactly that shape in a log line (say, a 64-character hex digest) is
masked too. A value of no recognised shape is registered literally, as before.

Shape patterns are added to this process's masker only; Airflow's ``mask_secret`` would
also send each literal value to a task's supervisor, whose masker would grow the same way.
"""

from __future__ import annotations

import re
import threading

MIN_SHAPED_LENGTH = 32
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
JWT_PATTERN = r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
# Character classes an opaque token is drawn from, narrowest first.
_CLASSES = (
    ("0-9a-f", frozenset("0123456789abcdef")),
    ("0-9A-F", frozenset("0123456789ABCDEF")),
    ("A-Za-z0-9_-", frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")),
)
_lock = threading.Lock()


def shape_pattern(value: str) -> str | None:
    """The one pattern that masks ``value`` and every token shaped like it (or None)."""
    if _JWT.fullmatch(value):
        return JWT_PATTERN
    if len(value) < MIN_SHAPED_LENGTH:
        return None
    characters = set(value)
    for klass, allowed in _CLASSES:
        if characters <= allowed:
            return rf"(?<![{klass}])[{klass}]{{{len(value)}}}(?![{klass}])"
    return None


def mask_token(value: str | None) -> None:
    """Mask a token (and all of its shape) without growing the masker per token."""
    if not value:
        return
    pattern = shape_pattern(value)
    if pattern is None:
        from airflow.sdk.log import mask_secret

        mask_secret(value)
        return
    from airflow.sdk.log import _secrets_masker

    masker = _secrets_masker()
    if pattern in masker.patterns:  # the usual case: a set lookup
        return
    with _lock:
        if pattern not in masker.patterns:
            masker.patterns.add(pattern)
            masker.replacer = re.compile("|".join(masker.patterns))
