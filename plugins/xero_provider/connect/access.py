"""Who is asking: the Airflow user behind a request, checked through Airflow's auth manager.

A plugin's FastAPI app is mounted by the api-server but is not behind Airflow's login, so
every page and button of the connect app resolves the user from the same JWT the UI uses
(the ``_token`` cookie, or an ``Authorization: Bearer`` header) and asks the auth
manager whether that user may read or edit connections.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN


@dataclass(frozen=True)
class Caller:
    """An authenticated Airflow user and the JWT it came with (to derive the CSRF token)."""

    user: Any
    name: str
    jwt: str

    @property
    def csrf(self) -> str:
        """A per-session form token: only a page that could read the JWT can compute it."""
        return hmac.new(self.jwt.encode(), b"xero-connect-form", hashlib.sha256).hexdigest()[:40]

    def may(self, method: str) -> bool:
        """Whether the auth manager lets this user do ``method`` (GET, POST, ...) on connections."""
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

        return bool(
            get_auth_manager().is_authorized_connection(
                method=method, details=ConnectionDetails(), user=self.user
            )
        )


def _token(headers: Any, cookies: Any) -> str | None:
    scheme, _, value = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(COOKIE) or None


async def caller_of(request: Any) -> Caller | None:
    """The logged-in Airflow user, or None (no token, expired, forged)."""
    from airflow.api_fastapi.app import get_auth_manager

    token = _token(request.headers, request.cookies)
    if not token:
        return None
    try:
        user = await get_auth_manager().get_user_from_token(token)
    except Exception:
        return None
    if user is None:
        return None
    return Caller(user=user, name=str(user.get_name()), jwt=token)


def login_url(next_url: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager

    try:
        return get_auth_manager().get_url_login(next_url=next_url)
    except Exception:
        return "/auth/login"
