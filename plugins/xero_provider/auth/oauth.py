"""Xero's identity endpoints: one function per OAuth grant, plus revocation and connections.

Only network errors and 5xx are retried (4 attempts, exponential backoff with jitter). A
retried refresh resends the *same* refresh token: when the first response was lost after
Xero rotated the token, Xero still honours the old one for its 30-minute grace period,
so the retry is how a lost response recovers. Refusals are never retried: they become
:class:`XeroReauthorizationRequired` (``invalid_grant``) or :class:`XeroAuthError`, whose
messages name the connection and the error code but never a secret.
"""

from __future__ import annotations

from typing import Any

import httpx
import tenacity

from xero_provider.auth.masking import mask_token
from xero_provider.config import DEFAULT_SCOPES, XeroConnectionConfig
from xero_provider.exceptions import (
    XeroAuthError,
    XeroReauthorizationRequired,
    XeroServerError,
)

ATTEMPTS = 4
TOKEN_PATH = "/connect/token"
CLI = "python -m xero_provider.auth"
_IDENTITY_SCOPES = {"openid", "profile", "email", "offline_access"}
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class _ServerStatus(Exception):
    """A 5xx answer, raised inside the retry loop so tenacity sees it."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def register_secrets(*values: str | None) -> None:
    """Tell Airflow's secrets masker about token values, by shape: a flat cost however many
    tokens rotate (:mod:`.masking`)."""
    for value in values:
        mask_token(value)


def register_literal(*values: str | None) -> None:
    """Mask these exact values (the client secret: registered once per connection)."""
    from airflow.sdk.log import mask_secret

    for value in values:
        if value:
            mask_secret(value)


def reauthorize_hint(conn_id: str) -> str:
    """How a person gets a working grant again (used in every invalid_grant message)."""
    return (
        f"run `{CLI} authorize --conn-id {conn_id}` or use the Xero connect page in the "
        f"Airflow UI; if you already hold a new refresh token, pipe it into "
        f"`{CLI} bootstrap --conn-id {conn_id}`"
    )


@tenacity.retry(
    retry=tenacity.retry_if_exception_type((*_TRANSIENT, _ServerStatus)),
    stop=tenacity.stop_after_attempt(ATTEMPTS),
    wait=tenacity.wait_exponential_jitter(multiplier=0.5, max=8, jitter=0.5),
    reraise=True,
)
def _send(
    method: str, url: str, timeout: float, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    with httpx.Client(timeout=timeout) as client:
        response = client.request(
            method, url, headers={"Accept": "application/json", **(headers or {})}, **kwargs
        )
    if response.status_code >= 500:
        raise _ServerStatus(response.status_code)
    return response


def _request(
    config: XeroConnectionConfig, method: str, url: str, path: str, **kwargs: Any
) -> httpx.Response:
    """Send with retries; turn what is left of a transient failure into XeroServerError."""
    register_literal(config.client_secret)
    register_secrets(config.bootstrap_refresh_token)
    try:
        return _send(method, url, config.timeout, **kwargs)
    except _ServerStatus as exc:
        raise XeroServerError(
            f"connection '{config.conn_id}': HTTP {exc.status} on all {ATTEMPTS} attempts",
            status=exc.status,
            method=method,
            resource=path,
        ) from None
    except _TRANSIENT as exc:
        raise XeroServerError(
            f"connection '{config.conn_id}': no answer after {ATTEMPTS} attempts "
            f"({type(exc).__name__})",
            method=method,
            resource=path,
        ) from exc


def _client_form(config: XeroConnectionConfig, form: dict[str, str]) -> dict[str, Any]:
    """HTTP Basic for apps with a secret; PKCE apps name themselves in the form instead."""
    if config.client_secret:
        return {"data": form, "auth": (config.client_id, config.client_secret)}
    return {"data": {**form, "client_id": config.client_id}}


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refused(
    config: XeroConnectionConfig, response: httpx.Response, body: dict[str, Any], grant: str
) -> XeroAuthError:
    error = str(body.get("error") or f"HTTP {response.status_code}")
    where = {"status": response.status_code, "method": "POST", "resource": TOKEN_PATH}
    conn = config.conn_id
    if error == "invalid_grant":
        what = (
            "the authorisation code (single use, valid 5 minutes)"
            if grant == "authorization_code"
            else "the refresh token (unused for 60 days, revoked, or already rotated)"
        )
        return XeroReauthorizationRequired(
            f"connection '{conn}' must be authorised again: Xero rejected {what}; "
            + reauthorize_hint(conn),
            xero_type=error,
            **where,
        )
    description = str(body.get("error_description") or "")[:200]
    for secret in config.secrets():
        description = description.replace(secret, "***")
    detail = f" ({description})" if description else ""
    return XeroAuthError(
        f"connection '{conn}': the {grant} request was refused: {error}{detail}; check the "
        "Client ID, Client Secret and scopes of the connection",
        xero_type=error,
        **where,
    )


def _token(config: XeroConnectionConfig, form: dict[str, str]) -> dict[str, Any]:
    response = _request(config, "POST", config.token_url, TOKEN_PATH, **_client_form(config, form))
    body = _json(response)
    if response.status_code == 200 and body.get("access_token"):
        register_secrets(body.get("access_token"), body.get("refresh_token"), body.get("id_token"))
        return body
    raise _refused(config, response, body, form["grant_type"])


def refresh(config: XeroConnectionConfig, refresh_token: str) -> dict[str, Any]:
    """Trade a refresh token for a new token pair (Xero rotates the refresh token)."""
    register_secrets(refresh_token)
    return _token(config, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def client_credentials(config: XeroConnectionConfig) -> dict[str, Any]:
    """A token for a custom connection; scopes are sent only when the connection sets them."""
    form = {"grant_type": "client_credentials"}
    if config.scopes != DEFAULT_SCOPES:
        scopes = [s for s in config.scopes.split() if s not in _IDENTITY_SCOPES]
        if scopes:
            form["scope"] = " ".join(scopes)
    return _token(config, form)


def exchange_code(
    config: XeroConnectionConfig, code: str, redirect_uri: str, code_verifier: str | None = None
) -> dict[str, Any]:
    """Finish the authorization code flow (with the PKCE verifier when there was one)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        form["code_verifier"] = code_verifier
    return _token(config, form)


def revoke(config: XeroConnectionConfig, refresh_token: str) -> None:
    """Revoke the grant behind ``refresh_token``; Xero also drops its tenant connections."""
    register_secrets(refresh_token)
    path = "/connect/revocation"
    response = _request(
        config,
        "POST",
        config.revocation_url,
        path,
        **_client_form(config, {"token": refresh_token}),
    )
    if response.status_code != 200:
        raise XeroAuthError(
            f"connection '{config.conn_id}': revocation refused: "
            f"{_json(response).get('error') or 'HTTP ' + str(response.status_code)}",
            status=response.status_code,
            method="POST",
            resource=path,
        )


def connections(config: XeroConnectionConfig, access_token: str) -> list[dict[str, Any]]:
    """``GET /connections``: the organisations this grant reaches."""
    response = _request(
        config,
        "GET",
        config.connections_url,
        "/connections",
        headers={"Authorization": f"Bearer {access_token}"},
    )
    if response.status_code != 200:
        raise XeroAuthError(
            f"connection '{config.conn_id}': listing the connected organisations failed",
            status=response.status_code,
            method="GET",
            resource="/connections",
        )
    return list(response.json())
