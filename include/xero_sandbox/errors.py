"""Typed errors the backend raises; each renders in Xero's exact wire format.

The backend never builds HTTP responses: it raises one of these, and the HTTP layer
turns it into the status, headers and body Xero would send.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


class SandboxError(Exception):
    """Base class: ``status``, ``body()`` (JSON-able or str) and extra ``headers``."""

    status = 500
    headers: dict[str, str]

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.headers = {}

    def body(self) -> Any:
        return {"ErrorNumber": 500, "Type": "UnknownErrorException", "Message": self.message}


@dataclass
class ElementError:
    """One rejected element of a batch: the element as submitted plus its messages."""

    element: dict[str, Any]
    messages: list[str] = field(default_factory=list)

    def render(self) -> dict[str, Any]:
        return {**self.element, "ValidationErrors": [{"Message": m} for m in self.messages]}


class ValidationException(SandboxError):
    """400 ValidationException, Xero's ErrorNumber 10, with the failing elements."""

    status = 400

    def __init__(self, messages: list[str], element: dict[str, Any] | None = None) -> None:
        super().__init__("A validation exception occurred")
        self.messages = messages
        self.element = element or {}

    def element_error(self) -> ElementError:
        return ElementError(self.element, self.messages)

    def body(self) -> Any:
        return render_validation_elements([self.element_error()])


class ElementsRejected(SandboxError):
    """400 ValidationException naming every rejected element of a batch (good elements
    of a default-mode batch stay written, as on Xero)."""

    status = 400

    def __init__(self, elements: list[ElementError]) -> None:
        super().__init__("A validation exception occurred")
        self.elements = elements

    def body(self) -> Any:
        return render_validation_elements(self.elements)


def render_validation_elements(elements: list[ElementError]) -> dict[str, Any]:
    """Xero's 400 body for one or more failing elements."""
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [e.render() for e in elements],
    }


class ApiException(SandboxError):
    """400 without Elements (PostDataInvalidException, QueryParseException, ...)."""

    status = 400

    def __init__(self, type_: str, message: str, number: int = 16) -> None:
        super().__init__(message)
        self.type_ = type_
        self.number = number

    def body(self) -> Any:
        return {"ErrorNumber": self.number, "Type": self.type_, "Message": self.message}


class NotFound(SandboxError):
    """404: Xero answers a missing record or route with plain text, not JSON."""

    status = 404

    def __init__(self) -> None:
        super().__init__("The resource you're looking for cannot be found")

    def body(self) -> Any:
        return self.message


def _problem(title: str, status: int, detail: str) -> dict[str, Any]:
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


class Unauthorized(SandboxError):
    """401 for a missing, malformed, expired or revoked access token."""

    status = 401

    def __init__(self, detail: str = "AuthenticationUnsuccessful") -> None:
        super().__init__(detail)
        self.headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}

    def body(self) -> Any:
        return _problem("Unauthorized", 401, self.message)


class NotOnThisTier(Unauthorized):
    """401 ``AuthorizationUnsuccessful`` for an endpoint the app's tier does not include
    (Journals below Advanced). The token itself is fine, so no ``invalid_token``."""

    def __init__(self) -> None:
        super().__init__("AuthorizationUnsuccessful")
        self.headers = {}


class InsufficientScope(SandboxError):
    """401 for a token that lacks the scope the endpoint needs.

    Xero answers a missing scope with 401, ``WWW-Authenticate`` naming ``insufficient_scope``
    (community.xero.com/developer/discussion/119166525: "insufficient_scope under
    WWW-Authenticate"; RFC 6750 section 3.1), and the problem body's Detail
    ``AuthorizationUnsuccessful`` (XeroAPI/Xero-NetStandard#178, a missing
    accounting.settings scope on GET Accounts). Xero's challenge names no scope; the
    sandbox keeps that shape and only logs which scope would do.
    """

    status = 401

    def __init__(self, needed: str) -> None:
        super().__init__("AuthorizationUnsuccessful")
        self.needed = needed
        self.headers = {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}

    def body(self) -> Any:
        return _problem("Unauthorized", 401, self.message)


class Forbidden(SandboxError):
    """403 for a tenant the token was not granted, or a scope the token lacks."""

    status = 403

    def __init__(self, detail: str = "AuthenticationUnsuccessful") -> None:
        super().__init__(detail)

    def body(self) -> Any:
        return _problem("Forbidden", 403, self.message)


class RateLimited(SandboxError):
    """429 with ``Retry-After`` and ``X-Rate-Limit-Problem`` naming the limit hit."""

    status = 429

    def __init__(self, problem: str, retry_after: int | None) -> None:
        super().__init__(f"Rate limit exceeded: {problem}")
        self.problem = problem
        self.headers = {"X-Rate-Limit-Problem": problem}
        if retry_after is not None:
            self.headers["Retry-After"] = str(max(1, int(retry_after)))

    def body(self) -> Any:
        return f"You have exceeded the per {self.problem} rate limit"


class OAuthError(SandboxError):
    """400 (or 401 for client errors) from the identity endpoints: ``{"error": ...}``."""

    def __init__(self, error: str, description: str | None = None, status: int = 400) -> None:
        super().__init__(description or error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> Any:
        payload = {"error": self.error}
        if self.description:
            payload["error_description"] = self.description
        return payload
