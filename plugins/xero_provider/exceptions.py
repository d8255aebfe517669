"""One exception hierarchy for everything Xero can refuse.

Each exception carries data (HTTP status, resource, record index or ID, field, Xero's
own message) and says all of it in one line, so a failed task's log names the record
and the field to fix without opening the response body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

_INPUT_PATH = re.compile(r"^(?:records|ids|[A-Za-z_]+)(?:\[(\d+)\])?(?:\.([^:\s]+))?:")


@dataclass(frozen=True)
class RecordProblem:
    """What Xero said about one record of a request."""

    message: str
    index: int | None = None
    record_id: str | None = None
    field: str | None = None

    def describe(self, resource: str | None) -> str:
        where = resource or "record"
        if self.index is not None:
            where += f"[{self.index}]"
        if self.record_id:
            where += f" {self.record_id}"
        field_part = f" field {self.field}:" if self.field else ""
        return f"{where}:{field_part} {self.message}"


class XeroError(AirflowException):
    """Base class: a Xero call failed. ``str(error)`` is one line with everything known."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        resource: str | None = None,
        method: str | None = None,
        problems: list[RecordProblem] | None = None,
        xero_type: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.resource = resource
        self.method = method
        self.problems = list(problems or [])
        self.xero_type = xero_type
        super().__init__(self._one_line())

    @property
    def record_index(self) -> int | None:
        return self.problems[0].index if self.problems else None

    @property
    def record_id(self) -> str | None:
        return self.problems[0].record_id if self.problems else None

    @property
    def field(self) -> str | None:
        return self.problems[0].field if self.problems else None

    def _one_line(self) -> str:
        head = f"Xero {self.method + ' ' if self.method else ''}{self.resource or ''}".rstrip()
        status = f"HTTP {self.status}" if self.status else "no HTTP status"
        kind = f" {self.xero_type}" if self.xero_type else ""
        details = "; ".join(p.describe(self.resource) for p in self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        body = details + more if details else self.message
        return f"{head} failed ({status}{kind}): {body}"


class XeroValidationError(XeroError):
    """400: Xero refused the data (ValidationException, PostDataInvalid, QueryParse...)."""


class XeroPartialWriteError(XeroValidationError):
    """Xero applied some elements of one write and refused others. ``results`` has one
    :class:`RecordResult` per element sent (applied ones carry their record), ``problems``
    name the refused elements by index."""

    def __init__(self, message: str, *, results: list[RecordResult], **kwargs: Any) -> None:
        self.results = results
        super().__init__(message, **kwargs)


class XeroInputError(XeroValidationError, ValueError):
    """The caller's input cannot be sent (a value, an ID, a filter); raised before any call.

    The message starts with the path of the bad value, ``records[110].LineItems[0].UnitAmount``
    or ``ids[3]``; ``record_index`` and ``field`` are parsed from it.
    """

    def __init__(self, message: str, *, resource: str | None = None) -> None:
        match = _INPUT_PATH.match(message)
        index = int(match.group(1)) if match and match.group(1) else None
        field_path = match.group(2) if match and match.group(2) else None
        problem = RecordProblem(message, index, None, field_path)
        self._text = message
        super().__init__(message, status=None, resource=resource, problems=[problem])

    def _one_line(self) -> str:
        where = f" to {self.resource}" if self.resource else ""
        return f"nothing was sent{where}: {self._text}"

    def __str__(self) -> str:
        return self._one_line()  # ``resource`` may be filled in after construction


class XeroNotFoundError(XeroError):
    """404: no such record (or no such endpoint) in this organisation."""


class XeroForbiddenError(XeroError, AirflowFailException):
    """403: the organisation is not connected to this grant, or a scope is missing.

    A person has to connect the organisation or grant the scope; a task retry minutes
    later meets the same 403 after re-reading what it read before. So, like every error
    that only a person can fix, it fails the task without its retries (Airflow's
    ``AirflowFailException``)."""


class XeroTierError(XeroForbiddenError):
    """The app's Xero tier does not include this endpoint (Journals below Advanced).

    ``needed`` names the lowest tier that does, ``app_tier`` the connection's (None when
    the connection does not say and Xero's refusal told us).
    """

    def __init__(self, message: str, *, needed: str, app_tier: str | None, **kw) -> None:
        self.needed = needed
        self.app_tier = app_tier
        super().__init__(message, **kw)


class XeroAuthError(XeroError):
    """401 or a token-endpoint refusal: the credentials no longer work."""


class XeroReauthorizationRequired(XeroAuthError, AirflowFailException):
    """``invalid_grant``: the refresh token is expired, revoked or rotated away.

    Nothing but a person re-authorising the app can fix this; the message says how. The
    task fails without its retries.
    """


class XeroRateLimitError(XeroError):
    """429: a Xero rate limit was hit. ``problem`` is minute, day, concurrent or appminute."""

    def __init__(self, message: str, *, problem: str | None, retry_after: float | None, **kw):
        self.problem = problem
        self.retry_after = retry_after
        super().__init__(message, **kw)


class XeroDailyLimitError(XeroRateLimitError):
    """429 for the daily limit: retrying today is pointless, so this fails fast."""

    def __init__(self, message: str, *, resets_at: datetime | None = None, **kw):
        self.resets_at = resets_at
        super().__init__(message, **kw)


class XeroServerError(XeroError):
    """5xx from Xero, or a lost response: transient, retried."""


class XeroNetworkError(XeroServerError):
    """No answer at all (connection refused, DNS, timeout) after every attempt.

    ``url`` and ``attempts`` say where and how often; the cause is chained.
    """

    def __init__(self, message: str, *, url: str, attempts: int, **kw) -> None:
        self.url = url
        self.attempts = attempts
        super().__init__(message, **kw)


class XeroScopeError(XeroAuthError, AirflowFailException):
    """401 ``insufficient_scope``: the grant lacks a scope; only re-authorising adds it
    (the task fails without its retries).

    ``scope`` names what Xero asked for (when it said), ``granted`` what the token has.
    """

    def __init__(self, message: str, *, scope: str | None, granted: str | None = None, **kw):
        self.scope = scope
        self.granted = granted
        super().__init__(message, **kw)


class XeroConfigurationError(XeroError, AirflowFailException):
    """The Airflow connection is missing something or holds a wrong value.

    Found here, before or without any call: the message says what is wrong and does not
    read as if Xero had failed (unless a status shows Xero answered). The task fails
    without its retries: the connection stays wrong until someone edits it.
    """

    def _one_line(self) -> str:
        return super()._one_line() if self.status else self.message


class XeroForeignHostError(XeroConfigurationError):
    """A call named a URL outside the connection's API base: credentials stay with Xero."""


@dataclass
class RecordResult:
    """The outcome of writing one input record (``create``/``update`` return one per input)."""

    index: int
    ok: bool
    record_id: str | None = None
    record: dict | None = None
    errors: list[str] = field(default_factory=list)
    status: str = "OK"
