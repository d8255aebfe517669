"""Turn Xero's answers into data or into the right typed exception (no I/O here).

Shared by the sync and async hooks: both hand an ``httpx.Response`` to
:func:`raise_for_xero` and get the same exception for the same answer.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from xero_provider.exceptions import (
    RecordProblem,
    XeroAuthError,
    XeroDailyLimitError,
    XeroError,
    XeroForbiddenError,
    XeroNotFoundError,
    XeroRateLimitError,
    XeroServerError,
    XeroValidationError,
)

_ID_FIELD = re.compile(r"^[A-Za-z]+ID$")


def body_of(response: httpx.Response) -> Any:
    """JSON body, the text when it is not JSON, None when empty."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def guess_field(element: dict[str, Any], message: str) -> str | None:
    """The element's field a validation message talks about, when it names one."""
    lowered = message.lower()
    best: str | None = None
    for key in element:
        if key in ("ValidationErrors", "Warnings", "StatusAttributeString"):
            continue
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", key).lower()  # "ContactNumber" -> "contact number"
        for candidate in {key.lower(), words}:
            if re.search(rf"\b{re.escape(candidate)}\b", lowered) and (
                best is None or len(key) > len(best)
            ):
                best = key
    return best


def element_problems(
    elements: list[dict[str, Any]], id_field: str | None, positions: list[int] | None = None
) -> list[RecordProblem]:
    """One problem per validation message of each element Xero rejected."""
    problems = []
    for number, element in enumerate(elements):
        index = positions[number] if positions and number < len(positions) else None
        record_id = element.get(id_field) if id_field else None
        if record_id is None:
            record_id = next(
                (str(v) for k, v in element.items() if _ID_FIELD.match(k) and isinstance(v, str)),
                None,
            )
        for error in element.get("ValidationErrors") or []:
            message = str(error.get("Message", "")).strip()
            problems.append(RecordProblem(message, index, record_id, guess_field(element, message)))
    return problems


def raise_for_xero(
    response: httpx.Response,
    *,
    resource: str | None,
    id_field: str | None = None,
    tenant_id: str | None = None,
    positions: list[int] | None = None,
) -> None:
    """Raise the typed error for a non-2xx answer; return quietly for success."""
    status = response.status_code
    if status < 400:
        return
    method = response.request.method if response.request is not None else None
    body = body_of(response)
    common: dict[str, Any] = {"status": status, "resource": resource, "method": method}
    if status == 400:
        if isinstance(body, dict):
            elements = body.get("Elements") or []
            problems = element_problems(elements, id_field, positions)
            message = str(body.get("Message") or "Xero refused the request")
            raise XeroValidationError(
                message, problems=problems, xero_type=body.get("Type"), **common
            )
        raise XeroValidationError(str(body)[:500] if body else "Bad request", **common)
    if status == 401:
        detail = body.get("Detail") if isinstance(body, dict) else None
        raise XeroAuthError(
            f"the access token was refused ({detail or 'Unauthorized'}) even after a refresh",
            **common,
        )
    if status == 403:
        detail = body.get("Detail") if isinstance(body, dict) else str(body or "")
        raise XeroForbiddenError(
            f"organisation {tenant_id or '(none given)'} is not connected to this authorisation "
            f"or the token lacks a scope: {detail}",
            **common,
        )
    if status == 404:
        raise XeroNotFoundError(
            f"{response.request.url.path if response.request else 'resource'} does not exist in "
            f"organisation {tenant_id or '(default)'}",
            **common,
        )
    if status == 429:
        problem = (response.headers.get("X-Rate-Limit-Problem") or "").lower() or None
        wait = retry_after_seconds(response)
        if problem == "day":
            resets = datetime.now(UTC) + timedelta(seconds=wait or 0)
            raise XeroDailyLimitError(
                f"the daily call limit of organisation {tenant_id or '(default)'} is used up; "
                f"it resets at {resets:%Y-%m-%d %H:%M:%S} UTC (in {int(wait or 0)} s)",
                problem=problem,
                retry_after=wait,
                resets_at=resets,
                **common,
            )
        raise XeroRateLimitError(
            f"rate limit '{problem or 'unknown'}' hit; Xero asks to wait {wait or '?'} s",
            problem=problem,
            retry_after=wait,
            **common,
        )
    if status >= 500:
        text = body.get("Message") if isinstance(body, dict) else str(body or "")
        raise XeroServerError(f"Xero answered {status}: {str(text)[:300]}", **common)
    raise XeroError(f"unexpected answer {status}: {str(body)[:300]}", **common)
