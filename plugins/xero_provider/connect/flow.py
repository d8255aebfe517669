"""The OAuth code flow that connects organisations: start with ``state`` and PKCE, finish
by storing the grant's tokens and writing one ``xero`` connection per organisation.

Used by the connect page and the CLI alike. Every organisation approved in one consent
shares one grant (one refresh token), so their connections share one ``grant_key``;
revoking that grant ends all of them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from xero_provider.auth import oauth
from xero_provider.config import (
    DEFAULT_SCOPES,
    XERO_API_BASE,
    XERO_IDENTITY_BASE,
    XERO_LOGIN_BASE,
    XeroConnectionConfig,
)
from xero_provider.connect import airflow_connections as conns
from xero_provider.exceptions import XeroAuthError, XeroConfigurationError
from xero_provider.state.token_store import TokenSet, TokenStore


class ConnectError(XeroAuthError):
    """The sign-in came back unusable (tampered, denied, expired); nothing was stored."""


@dataclass(frozen=True)
class ConnectRequest:
    """What a person starts a connection with; ``repr`` never shows the secret.

    :param client_id: the Xero app's client id.
    :param client_secret: its secret (None for a PKCE app).
    :param redirect_uri: registered for the app; fixed by configuration in the plugin.
    :param conn_id_prefix: new connections are named ``<prefix>_<organisation>``.
    :param from_conn_id: the existing connection this started from (its settings are kept).
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str = ""
    scopes: str = DEFAULT_SCOPES
    api_base_url: str = XERO_API_BASE
    identity_base_url: str = XERO_IDENTITY_BASE
    login_base_url: str = XERO_LOGIN_BASE
    credential_store: str | None = None
    conn_id_prefix: str = "xero"
    from_conn_id: str | None = None

    @classmethod
    def from_connection(
        cls, conn: conns.StoredConnection, secret: str | None, redirect_uri: str, **kw: Any
    ) -> ConnectRequest:
        extra = conn.extra
        return cls(
            client_id=conn.client_id,
            client_secret=secret,
            redirect_uri=redirect_uri,
            scopes=str(extra.get("scopes") or DEFAULT_SCOPES),
            api_base_url=str(extra.get("api_base_url") or XERO_API_BASE),
            identity_base_url=str(extra.get("identity_base_url") or XERO_IDENTITY_BASE),
            login_base_url=str(extra.get("login_base_url") or XERO_LOGIN_BASE),
            credential_store=conn.store,
            from_conn_id=conn.conn_id,
            **kw,
        )

    def base_extra(self) -> dict[str, Any]:
        """The extra fields every connection of this request gets (defaults left out)."""
        extra: dict[str, Any] = {"auth_mode": "authorization_code", "scopes": self.scopes}
        for name, default in (
            ("api_base_url", XERO_API_BASE),
            ("identity_base_url", XERO_IDENTITY_BASE),
            ("login_base_url", XERO_LOGIN_BASE),
        ):
            value = getattr(self, name).rstrip("/")
            if value != default:
                extra[name] = value
        if self.credential_store:
            extra["credential_store"] = self.credential_store
        if self.redirect_uri:
            extra["redirect_uri"] = self.redirect_uri
        return extra

    def config(self, conn_id: str = "xero_connect", **extra: Any) -> XeroConnectionConfig:
        """A parsed connection for the token calls (built the way Airflow's would be)."""
        from airflow.sdk import Connection

        if not self.client_id.strip():
            raise XeroConfigurationError("the Client ID is empty; copy it from your Xero app")
        conn = Connection(
            conn_id=conn_id,
            conn_type="xero",
            login=self.client_id.strip(),
            password=self.client_secret or None,
            extra=json.dumps({**self.base_extra(), **extra}),
        )
        return XeroConnectionConfig.from_connection(conn)

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PendingFlow:
    """A sign-in sent to Xero: the ``state`` to expect back and the PKCE verifier."""

    state: str
    verifier: str = field(repr=False)
    request: ConnectRequest

    def to_payload(self) -> dict[str, Any]:
        return {"verifier": self.verifier, "request": self.request.to_payload()}

    @classmethod
    def from_payload(cls, state: str, payload: dict[str, Any]) -> PendingFlow:
        return cls(state, payload["verifier"], ConnectRequest(**payload["request"]))


@dataclass(frozen=True)
class ConnectedOrganisation:
    """One organisation a sign-in connected, and the connection written for it."""

    conn_id: str
    tenant_id: str
    tenant_name: str
    created: bool


@dataclass(frozen=True)
class ConnectResult:
    """What a finished sign-in stored: the grant key, its expiry and the connections."""

    grant_key: str
    expires_at: datetime
    organisations: list[ConnectedOrganisation]


def pkce_pair() -> tuple[str, str]:
    """A verifier (RFC 7636: 43-128 characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def begin(request: ConnectRequest) -> tuple[str, PendingFlow]:
    """The consent page URL and what the callback must be checked against.

    PKCE is sent for every app: Xero requires it for PKCE apps and accepts it with a
    client secret too, and it binds the code to this sign-in even if the code leaks.
    """
    config = request.config()
    verifier, challenge = pkce_pair()
    pending = PendingFlow(secrets.token_urlsafe(32), verifier, request)
    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": request.redirect_uri,
        "scope": config.scopes,
        "state": pending.state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{config.authorize_url}?{urlencode(query)}", pending


def check_callback(pending: PendingFlow, params: dict[str, str]) -> str:
    """The authorisation code, once the callback proved it belongs to ``pending``."""
    state = params.get("state") or ""
    if not secrets.compare_digest(state.encode(), pending.state.encode()):
        raise ConnectError("the sign-in came back with a different state: start again")
    if params.get("error"):
        raise ConnectError(
            f"Xero did not grant access: {params['error']}"
            + (f" ({params['error_description'][:200]})" if params.get("error_description") else "")
        )
    code = params.get("code") or ""
    if not code:
        raise ConnectError("the sign-in came back without a code: start again")
    return code


def _auth_event_id(access_token: str) -> str | None:
    """``authentication_event_id`` from Xero's access token (a JWT; not verified here: it
    only selects which of our own connections came from this consent)."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    value = claims.get("authentication_event_id") if isinstance(claims, dict) else None
    return str(value) if value else None


def complete(
    pending: PendingFlow, params: dict[str, str], user: str | None = None
) -> ConnectResult:
    """Check the callback, exchange the code, store the tokens, write the connections."""
    code = check_callback(pending, params)
    request = pending.request
    config = request.config()
    body = oauth.exchange_code(config, code, request.redirect_uri, pending.verifier)
    tokens = TokenSet.from_response(body, datetime.now(UTC))
    oauth.register_secrets(*tokens.secrets())
    event = _auth_event_id(tokens.access_token)
    tenants = oauth.connections(config, tokens.access_token)
    granted = [t for t in tenants if not event or str(t.get("authEventId", "")) == event]
    if not granted:
        raise ConnectError("Xero granted no organisation: approve at least one and try again")
    grant_key = f"xero-grant-{event or secrets.token_hex(8)}"
    store = TokenStore.for_config(config)
    store.save(grant_key, tokens)
    try:
        written = write_connections(request, grant_key, granted, user)
    except Exception:
        store.delete(grant_key)  # no tokens without the connections that use them
        raise
    return ConnectResult(grant_key, tokens.expires_at, written)


def write_connections(
    request: ConnectRequest, grant_key: str, tenants: list[dict[str, Any]], user: str | None
) -> list[ConnectedOrganisation]:
    """One connection per organisation, in one transaction; the app's existing connection
    for an organisation is updated rather than duplicated."""
    existing = conns.list_connections()
    taken = conns.all_conn_ids()
    mine = {
        (c.tenant_id or "").lower(): c.conn_id
        for c in existing
        if c.client_id == request.client_id and c.tenant_id
    }
    start = next((c for c in existing if c.conn_id == request.from_conn_id), None)
    if start is not None and not start.tenant_id and tenants:
        mine.setdefault(str(tenants[0].get("tenantId", "")).lower(), start.conn_id)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    by = f" by {user}" if user else ""
    specs, names = [], []
    for tenant in tenants:
        tenant_id = str(tenant.get("tenantId", ""))
        name = str(tenant.get("tenantName") or tenant_id)
        conn_id = mine.get(tenant_id.lower()) or conns.new_conn_id(
            request.conn_id_prefix, name, taken
        )
        taken.add(conn_id)
        extra = {
            **request.base_extra(),
            "tenant_id": tenant_id,
            "tenant_name": name,
            "grant_key": grant_key,
        }
        specs.append(
            conns.ConnectionSpec(
                conn_id=conn_id,
                client_id=request.client_id,
                client_secret=request.client_secret,
                extra=extra,
                description=f"Xero organisation {name}, connected {stamp}{by}",
            )
        )
        names.append((conn_id, tenant_id, name))
    created = conns.upsert_many(specs)
    return [
        ConnectedOrganisation(conn_id, tenant_id, name, flag)
        for (conn_id, tenant_id, name), flag in zip(names, created, strict=True)
    ]
