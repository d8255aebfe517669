"""From what the backend answers to what Xero sends: status, headers and body.

The rules and the generic service return results (:class:`~.accounting.service.Listing`,
``Single``, ``NoContent``, ``FileContent``) or raise typed errors; only this module picks
HTTP status codes, as moto's ``responses.py`` does for its backends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from xero_sandbox.accounting.service import (
    FileContent,
    Listing,
    NoContent,
    Result,
    Single,
    envelope,
)
from xero_sandbox.errors import ElementsRejected, SandboxError


@dataclass
class Outcome:
    """A response before it goes on the wire: status, JSON body (or text/bytes), headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def respond(result: Result, app_name: str, now: datetime) -> Outcome:
    """The status and body Xero answers a successful call with."""
    if isinstance(result, Listing):
        return Outcome(200, envelope(result.key, result.records, app_name, now, **result.extra))
    if isinstance(result, Single):
        return Outcome(200, result.record)
    if isinstance(result, NoContent):
        return Outcome(204)
    if isinstance(result, FileContent):
        return Outcome(200, result.content, {"Content-Type": result.media_type})
    raise TypeError(f"not a backend result: {type(result).__name__}")


def failure(error: SandboxError) -> Outcome:
    """The status and body of a typed error."""
    return Outcome(error.status, error.body(), dict(error.headers))


def outcome_of(call: Callable[[], Result], app_name: str, now: datetime) -> Outcome:
    """Run a backend call and answer with its response. A batch's rejected elements are an
    answer (a 400 kept for Idempotency-Key replays); other typed errors propagate, for the
    caller to render."""
    try:
        return respond(call(), app_name, now)
    except ElementsRejected as rejected:
        return failure(rejected)
