"""Read a request body the way Xero does, refusing what would break the sandbox.

Every malformed body becomes a typed 4xx error before any rule runs, so nothing is
stored and nothing un-renderable (a lone surrogate, a 100,000-deep list) reaches the
organisation, the request log or the state view.

Sources: the 3.5 MB size limit of a POST/PUT to the Accounting API is on Xero's limits
page (developer.xero.com/documentation/auth-and-limits/xero-api-limits). The nesting
limit follows Json.NET, the .NET serialiser Xero's API answers with, whose readers
default to ``MaxDepth = 64`` since 13.0.1 (JamesNK/Newtonsoft.Json release 13.0.1); the
exact wording of Xero's answer to these bodies is not published, so the messages name
the problem in Xero's ``PostDataInvalidException`` shape.
"""

from __future__ import annotations

import json
from typing import Any

from xero_sandbox.errors import ApiException, SandboxError

MAX_BODY_BYTES = int(3.5 * 1024 * 1024)
MAX_DEPTH = 64
JSON_MEDIA = ("application/json", "text/json")


class PayloadTooLarge(SandboxError):
    """413 for a body over Xero's 3.5 MB request limit (read no further than the limit)."""

    status = 413

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        super().__init__(f"The request body is larger than the {limit:,} byte limit.")

    def body(self) -> Any:
        return {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": self.message}


class UnsupportedMediaType(SandboxError):
    """415 for a write whose Content-Type is neither JSON nor XML."""

    status = 415

    def __init__(self, content_type: str) -> None:
        shown = content_type or "(none)"
        super().__init__(
            f"Content-Type '{shown}' is not supported: "
            "send the body as application/json or application/xml."
        )

    def body(self) -> Any:
        return {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": self.message}


def invalid(message: str) -> ApiException:
    return ApiException("PostDataInvalidException", message, number=14)


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_media(content_type: str | None) -> bool:
    media = media_type(content_type)
    return media in JSON_MEDIA or media.endswith("+json")


def require_json(content_type: str | None, body: bytes) -> None:
    """Refuse a non-empty body that is not declared as JSON."""
    if body.strip() and not is_json_media(content_type):
        raise UnsupportedMediaType(media_type(content_type))


def parse_json(body: bytes) -> Any:
    """Parse ``body`` as JSON, or raise a 400 naming what is wrong; ``{}`` when empty."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    if not body.strip():
        return {}
    try:
        value = json.loads(body, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise invalid(f"Invalid Json data: nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:  # includes UnicodeDecodeError for bytes that are not UTF-8
        raise invalid(f"Invalid Json data: {_first_line(exc)}") from None
    check_value(value)
    return value


def check_value(value: Any) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` and strings that are not valid Unicode.

    Walks iteratively, so a hostile document cannot exhaust the Python stack here.
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise invalid(f"Invalid Json data: nested deeper than {MAX_DEPTH} levels.")
            for key, child in item.items():
                _check_text(key, where or "a field name")
                stack.append((child, depth + 1, key))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise invalid(f"Invalid Json data: nested deeper than {MAX_DEPTH} levels.")
            stack.extend((child, depth + 1, where) for child in item)
        elif isinstance(item, str):
            _check_text(item, where)


def _check_text(text: str, field: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        name = f"'{field}'" if field else "A value"
        raise invalid(
            f"Invalid Json data: {name} contains a lone UTF-16 surrogate (\\ud800-\\udfff), "
            "which is not valid Unicode."
        ) from None


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def safe_json(body: bytes) -> Any:
    """The body as JSON for the request log, or None when it would not parse cleanly."""
    try:
        return parse_json(body)
    except SandboxError:
        return None


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]
