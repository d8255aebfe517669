"""What a grant is and does: its tokens' times, the connections that share it, revoking
it (which ends every one of them) and disconnecting one organisation from it.

Xero ties a refresh token to one consent: revoking it ends the authorisation for every
organisation approved in that consent, and Xero also removes all of that user's
connections to the app (xero-node 4.10.1 release note, "revokeToken() ... removes all
their connections"; API_NOTES section 1). ``DELETE /connections/{id}`` instead disconnects
one organisation and leaves the others working (openapi/xero-identity.yaml).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from xero_provider.auth import oauth
from xero_provider.auth.tokens import REFRESH_TOKEN_DAYS, TokenManager
from xero_provider.config import XeroConnectionConfig
from xero_provider.connect import airflow_connections as conns
from xero_provider.exceptions import XeroAuthError, XeroConfigurationError
from xero_provider.state.token_store import TokenSet, TokenStore


def expose(conn_id: str, fresh: bool = False) -> bool:
    """Copy a connection kept in Airflow's database into this process's environment.

    Outside a task, ``airflow.sdk.BaseHook`` reads only environment variables and secrets
    backends; the CLI and the api-server run where the metadata database is. ``fresh``
    copies it again: the api-server lives long, and a connection deleted and created
    again under the same id (connect, disconnect, connect) must not be tested as it was.
    """
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    if name in os.environ and not fresh:
        return True
    if fresh:  # Airflow reads environment variables first: our own old copy would win
        os.environ.pop(name, None)
    try:
        from airflow.models.connection import Connection

        found = Connection.get_connection_from_secrets(conn_id)
    except Exception:
        return False
    os.environ[name] = found.as_json()
    return True


def config_for(conn_id: str) -> XeroConnectionConfig:
    """The parsed connection, looked up as Airflow does (env vars, backends, database).

    Read afresh on every call: the api-server lives long and connections change under it.
    """
    try:
        from airflow.models.connection import Connection

        conn = Connection.get_connection_from_secrets(conn_id)
    except ImportError:  # pragma: no cover - airflow-core is always installed with the SDK
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    if (conn.conn_type or "xero") != "xero":
        raise XeroConfigurationError(
            f"connection '{conn_id}' is of type {conn.conn_type!r}, not a xero connection"
        )
    config = XeroConnectionConfig.from_connection(conn)
    if config.token_store and "://" not in config.token_store:
        expose(config.token_store)  # TokenStore.for_config reads it through the SDK
    return config


@dataclass(frozen=True)
class GrantTimes:
    """When a grant's tokens expire and were last refreshed (never the tokens)."""

    access_expires_at: datetime
    last_refresh: datetime
    refresh_expires_at: datetime | None

    @classmethod
    def of(cls, tokens: TokenSet) -> GrantTimes:
        refresh = (
            tokens.issued_at + timedelta(days=REFRESH_TOKEN_DAYS) if tokens.refresh_token else None
        )
        return cls(tokens.expires_at, tokens.issued_at, refresh)


def times(config: XeroConnectionConfig) -> GrantTimes | None:
    tokens = TokenStore.for_config(config).load(config.token_key)
    return GrantTimes.of(tokens) if tokens else None


def live_organisations(config: XeroConnectionConfig) -> list[dict[str, Any]]:
    """``GET /connections`` with the grant's access token (refreshed when needed)."""
    manager = TokenManager(config)
    return oauth.connections(config, manager.access_token().access_token)


def sharing(conn_id: str) -> list[str]:
    """The ids of every connection that revoking ``conn_id``'s grant would stop."""
    config_for(conn_id)  # a clear error for what is not a xero connection
    stored = conns.get_connection(conn_id)
    return [c.conn_id for c in conns.sharing_grant(stored)] if stored else [conn_id]


def test(conn_id: str) -> tuple[bool, str]:
    """The connection's Test, run for the connect page, which shows its reason in full."""
    from xero_provider.hooks import XeroHook

    expose(conn_id, fresh=True)  # first: an older copy in the environment would shadow it
    return XeroHook(conn_id).test_connection(config=config_for(conn_id))


def revoke(conn_id: str) -> list[str]:
    """Revoke the grant of ``conn_id`` at Xero and forget its tokens.

    Returns the ids of every connection that used the grant (they all stop working).
    """
    config = config_for(conn_id)
    ended = sharing(conn_id)
    TokenManager(config).revoke()
    return ended or [conn_id]


def disconnect(conn_id: str, delete_connection: bool = True) -> str | None:
    """Disconnect one organisation at Xero (``DELETE /connections/{id}``).

    The grant stays valid for its other organisations. Returns the organisation's name
    at Xero, or None when Xero no longer listed it. The Airflow connection is deleted too
    unless ``delete_connection`` is False.
    """
    config = config_for(conn_id)
    if not config.tenant_id:
        raise XeroConfigurationError(
            f"connection '{conn_id}' names no tenant_id, so there is no one organisation to "
            "disconnect; use revoke to end its whole authorisation"
        )
    manager = TokenManager(config)
    token = manager.access_token().access_token
    found = next(
        (
            t
            for t in oauth.connections(config, token)
            if str(t.get("tenantId", "")).lower() == config.tenant_id.lower()
        ),
        None,
    )
    name = None
    if found is not None:
        name = str(found.get("tenantName") or config.tenant_id)
        response = httpx.delete(
            f"{config.connections_url}/{found['id']}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=config.timeout,
        )
        if response.status_code not in (200, 204, 404):
            raise XeroAuthError(
                f"connection '{conn_id}': Xero refused to disconnect {name}",
                status=response.status_code,
                method="DELETE",
                resource="/connections",
            )
    if delete_connection:
        conns.delete(conn_id)
    return name
