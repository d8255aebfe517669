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
    RecordResult,
    XeroAuthError,
    XeroDailyLimitError,
    XeroError,
    XeroForbiddenError,
    XeroNotFoundError,
    XeroRateLimitError,
    XeroScopeError,
    XeroServerError,
    XeroValidationError,
)

_ID_FIELD = re.compile(r"^[A-Za-z]+ID$")


_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')
# The scope each resource needs (granular scope first; ``.read`` suffices for reads), for
# naming it when Xero's insufficient_scope answer does not (its challenge carries only the
# error: community.xero.com/developer/discussion/119166525, and the body's Detail says
# just "AuthorizationUnsuccessful": XeroAPI/Xero-NetStandard#178).
_SCOPES = {
    "contacts": "accounting.contacts",
    "invoices": "accounting.invoices",
    "creditnotes": "accounting.invoices",
    "quotes": "accounting.invoices",
    "purchaseorders": "accounting.invoices",
    "items": "accounting.settings",
    "payments": "accounting.payments",
    "banktransactions": "accounting.banktransactions",
    "banktransfers": "accounting.banktransactions",
    "accounts": "accounting.settings",
    "taxrates": "accounting.settings",
    "organisation": "accounting.settings",
}


def bearer_challenge(response: httpx.Response) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer ...`` header (RFC 6750 section 3)."""
    header = response.headers.get("WWW-Authenticate") or ""
    if not header.lower().startswith("bearer"):
        return {}
    return {
        name.lower(): quoted if quoted is not None and quoted != "" else bare or quoted
        for name, quoted, bare in _CHALLENGE_PARAM.findall(header[6:])
    }


def is_insufficient_scope(response: httpx.Response) -> bool:
    """A 401 no refresh can cure: the grant itself lacks a scope."""
    return (
        response.status_code == 401
        and bearer_challenge(response).get("error") == "insufficient_scope"
    )


def needed_scope(path: str, method: str) -> str | None:
    """The scope the accounting endpoint at ``path`` needs (``.read`` variant for reads)."""
    parts = [p for p in path.split("/") if p]
    if "api.xro" not in "/".join(parts[:1]) and "api.xro" not in path:
        return None
    try:
        resource = parts[parts.index("2.0") + 1].lower()
    except (ValueError, IndexError):
        return None
    scope = _SCOPES.get(resource)
    if scope is None:
        return None
    return scope if method.upper() not in ("GET", "HEAD") else f"{scope}.read (or {scope})"


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


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float | int) and isinstance(right, float | int):
        return float(left) == float(right)
    return left == right


def element_positions(elements: list[dict[str, Any]], sent: list[Any]) -> list[int] | None:
    """Which sent element each of Xero's error elements echoes.

    A summarised (default-mode) 400 lists only the elements that failed, each echoing
    what was sent, so its position in ``Elements`` is not the element's index: match each
    one to the first unused sent element whose fields it repeats.
    """
    if len(elements) == len(sent):
        return list(range(len(sent)))
    used: set[int] = set()
    positions = []
    for element in elements:
        match = next(
            (
                index
                for index, item in enumerate(sent)
                if index not in used
                and isinstance(item, dict)
                and all(_same(element.get(k), v) for k, v in item.items())
            ),
            None,
        )
        if match is None:
            return None
        used.add(match)
        positions.append(match)
    return positions


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
    sent: list[Any] | None = None,
) -> None:
    """Raise the typed error for a non-2xx answer; return quietly for success.

    :param positions: the caller's index of each element sent (default: 0, 1, ...).
    :param sent: the elements sent, to tell which of them Xero's error elements are.
    """
    status = response.status_code
    if status < 400:
        return
    method = response.request.method if response.request is not None else None
    body = body_of(response)
    common: dict[str, Any] = {"status": status, "resource": resource, "method": method}
    if status == 400:
        if isinstance(body, dict):
            elements = body.get("Elements") or []
            matched = element_positions(elements, sent) if sent else None
            if matched is not None and positions:
                matched = [positions[m] if m < len(positions) else m for m in matched]
            problems = element_problems(elements, id_field, matched)
            message = str(body.get("Message") or "Xero refused the request")
            raise XeroValidationError(
                message, problems=problems, xero_type=body.get("Type"), **common
            )
        raise XeroValidationError(str(body)[:500] if body else "Bad request", **common)
    if status == 401:
        detail = body.get("Detail") if isinstance(body, dict) else None
        challenge = bearer_challenge(response)
        if challenge.get("error") == "insufficient_scope":
            path = response.request.url.path if response.request is not None else ""
            needed = challenge.get("scope") or needed_scope(path, method or "GET")
            raise XeroScopeError(
                f"the connection's grant lacks the scope {needed or '(Xero did not say which)'} "
                f"for {method or ''} {path} ({detail or 'insufficient_scope'}); a refresh cannot "
                "add a scope: add it to the connection's 'scopes' and authorise the connection "
                "again",
                scope=needed,
                xero_type="insufficient_scope",
                **common,
            )
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


def element_wise(method: str, body: Any) -> bool:
    """A write whose body is one envelope holding several elements (``{"Allocations": [a,
    b]}``): Xero answers it element by element when asked with ``summarizeErrors=false``."""
    if method not in ("PUT", "POST") or not isinstance(body, dict) or len(body) != 1:
        return False
    (value,) = body.values()
    return isinstance(value, list) and len(value) > 1


def element_results(
    body: Any, list_key: str, count: int, id_field: str | None = None
) -> list[RecordResult]:
    """One result per element sent, from a ``summarizeErrors=false`` answer."""
    items = (body or {}).get(list_key) or [] if isinstance(body, dict) else []
    results = []
    for index in range(count):
        item = items[index] if index < len(items) and isinstance(items[index], dict) else {}
        errors = [str(e.get("Message", "")) for e in item.get("ValidationErrors") or []]
        status = item.get("StatusAttributeString") or ("ERROR" if errors or not item else "OK")
        ok = status != "ERROR"
        results.append(
            RecordResult(
                index=index,
                ok=ok,
                record_id=item.get(id_field) if ok and id_field else None,
                record=item if ok else None,
                errors=errors or ([] if ok else ["Xero returned no result for this element"]),
                status=status,
            )
        )
    return results
