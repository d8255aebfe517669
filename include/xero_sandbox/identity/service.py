"""The identity backend: apps, the demo user, consent, codes, tokens and connections.

It mirrors what Xero's identity service promises (developer.xero.com OAuth 2 guides, see
``shared/xero/API_NOTES.md`` section 2) so a client's token handling can be tested
offline: codes are single-use and live 5 minutes, access tokens 30 minutes, refresh
tokens rotate on every use with a 30-minute grace for the old one and expire unused
after 60 days, and revoking a refresh token removes the user's connections to the app.
Nothing here knows HTTP: it raises :mod:`xero_sandbox.errors` types and the routes
render them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import jwt

from xero_sandbox.clock import Clock
from xero_sandbox.errors import NotFound, OAuthError, Unauthorized
from xero_sandbox.identity.scopes import (
    IDENTITY_SCOPES,
    NON_TENANTED_SCOPES,
    broad_scopes,
    default_accounting_scopes,
    needs_tenant,
    parse_scope,
    unknown_scopes,
)
from xero_sandbox.organisation import Organisation

ISSUER = "https://identity.xero.com"
AUDIENCE = "https://identity.xero.com/resources"
ACCESS_TOKEN_SECONDS = 1800
ID_TOKEN_SECONDS = 300
CODE_SECONDS = 300
REFRESH_TOKEN_SECONDS = 60 * 86400
REFRESH_GRACE_SECONDS = 1800
CONSENT_REQUEST_SECONDS = 3600
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
_TEST_IDENTITY_SCOPES = ("openid", "profile", "email", "offline_access")
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


@dataclass(frozen=True)
class User:
    """A Xero user who can consent; the sandbox has one, with access to every organisation."""

    user_id: str
    subject: str  # the JWT ``sub``: Xero uses 32 hex digits
    xero_userid: str
    email: str
    given_name: str
    family_name: str


DEMO_USER = User(
    user_id="sandbox-user",
    subject="5f7a3c1e0d6b4c559e2a6a1d2b3c4d5e",
    xero_userid="5f7a3c1e-0d6b-4c55-9e2a-6a1d2b3c4d5e",
    email="sandbox-user@example.com",
    given_name="Sandbox",
    family_name="User",
)


@dataclass
class App:
    """A registered Xero app: a web (code flow), PKCE or custom-connection client."""

    client_id: str
    client_secret: str | None  # None for PKCE apps
    name: str
    kind: str = "web"  # "web" (code flow), "pkce", "custom" (client_credentials)
    redirect_uris: list[str] = field(default_factory=list)
    custom_tenant_id: str | None = None  # the one organisation a custom connection is bound to
    granular_only: bool = False  # app created on/after 2026-03-02: broad scopes refused

    def public(self) -> dict[str, Any]:
        """The app for ``GET /__sandbox/apps``; the secret is a fixed sandbox credential."""
        return asdict(self)


@dataclass(frozen=True)
class AccessGrant:
    """What a valid access token proves, with the tenants it reaches as of now."""

    client_id: str
    app_name: str
    user_id: str
    auth_event_id: str | None
    token_id: str  # the JWT's jti: the request log names tokens by this, never by value
    scopes: frozenset[str]
    tenant_ids: frozenset[str]  # lower-case; a deleted connection drops out immediately
    kind: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenResult:
    """A token response body plus what the request log may record about it."""

    body: dict[str, Any]
    client_id: str
    token_id: str


class AuthorizeError(OAuthError):
    """An ``/identity/connect/authorize`` failure.

    With ``redirect_uri`` set the error goes back to the app (RFC 6749 4.1.2.1); without it
    the client or redirect URI is not trusted, so the user sees an error page instead.
    """

    def __init__(
        self,
        error: str,
        description: str,
        redirect_uri: str | None = None,
        state: str | None = None,
    ) -> None:
        super().__init__(error, description, 400)
        self.redirect_uri = redirect_uri
        self.state = state

    def redirect_url(self) -> str | None:
        if self.redirect_uri is None:
            return None
        return with_query(
            self.redirect_uri,
            error=self.error,
            error_description=self.description,
            state=self.state,
        )


class NoOrganisationChosen(ValueError):
    """Consent approved without a valid organisation: the page is shown again with this."""


@dataclass
class ConsentRequest:
    """A validated authorize request waiting for the user's decision on the consent page."""

    request_id: str
    app: App
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    expires_at: float


@dataclass
class Connection:
    """One app + user + organisation link, as ``GET /connections`` lists it."""

    connection_id: str
    client_id: str
    user_id: str
    tenant_id: str
    auth_event_id: str
    created: datetime
    updated: datetime

    def public(self, org: Organisation) -> dict[str, Any]:
        return {
            "id": self.connection_id,
            "authEventId": self.auth_event_id,
            "tenantId": self.tenant_id,
            "tenantType": org.tenant_type,
            "tenantName": org.name,
            "createdDateUtc": connection_date(self.created),
            "updatedDateUtc": connection_date(self.updated),
        }


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    user_id: str
    auth_event_id: str
    code_challenge: str | None
    auth_time: int
    expires_at: float
    used: bool = False
    grant_id: str | None = None  # the grant the first exchange issued


@dataclass
class _Grant:
    """One consent (or client_credentials call) and every token descended from it."""

    grant_id: str
    client_id: str
    user_id: str
    kind: str
    scopes: tuple[str, ...]
    auth_event_id: str | None
    auth_time: int
    session_id: str
    revoked: bool = False


@dataclass
class _RefreshRecord:
    grant_id: str
    client_id: str
    expires_at: float
    used_at: float | None = None


@dataclass
class _AccessRecord:
    grant_id: str
    expires_at: float


def token_expired_detail(expires_at: float) -> str:
    """Xero's 401 ``Detail`` for an expired access token.

    Shape from a live response quoted in pyxero's tests
    (``"TokenExpired: token expired at 01/01/2001 00:00:00"``, US date order, UTC).
    """
    when = datetime.fromtimestamp(expires_at, UTC)
    return f"TokenExpired: token expired at {when:%m/%d/%Y %H:%M:%S}"


def connection_date(when: datetime) -> str:
    """Xero's connection date form: ``2019-12-07T18:46:19.5165400`` (7 digits, no Z)."""
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:06d}0"


def with_query(url: str, **params: str | None) -> str:
    """``url`` with ``params`` appended to its query (None values left out)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _digest(value: str) -> str:
    """Codes and refresh tokens are stored only as SHA-256 digests, never as values."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` for ``verifier`` (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """``(client_id, secret)`` from an HTTP Basic header, None when there is none."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client") from None
    client_id, _, secret = decoded.partition(":")
    # RFC 6749 2.3.1: both parts are form-encoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)


def claimed_client_id(authorization: str | None, form: Mapping[str, str]) -> str | None:
    """The client the request claims to be (for the request log), authenticated or not."""
    try:
        basic = _basic_credentials(authorization)
    except OAuthError:
        basic = None
    return basic[0] if basic else (form.get("client_id") or None)


class IdentityService:
    """Xero's identity service for the sandbox: one demo user, any number of apps."""

    def __init__(self, clock: Clock, orgs: dict[str, Organisation]) -> None:
        self._clock = clock
        self._orgs = orgs  # the live dict, keyed by lower-case tenant id
        self._key = secrets.token_bytes(64)  # per process: tokens never outlive the sandbox
        self._lock = threading.RLock()
        self.reset()

    # ------------------------------------------------------------------ apps and state

    def reset(self) -> None:
        """Forget apps, consents, codes, tokens and connections."""
        with self._lock:
            self._apps: dict[str, App] = {}
            self._consents: dict[str, ConsentRequest] = {}
            self._codes: dict[str, _Code] = {}
            self._grants: dict[str, _Grant] = {}
            self._refresh: dict[str, _RefreshRecord] = {}
            self._access: dict[str, _AccessRecord] = {}
            self._connections: dict[str, Connection] = {}
            # Xero keeps createdDateUtc across a disconnect and reconnect.
            self._first_connected: dict[tuple[str, str, str], datetime] = {}
            self._stats = dict.fromkeys(
                (*GRANT_TYPES, "invalid_grant", "grace_reuse", "revocations"), 0
            )

    def register_app(self, app: App) -> App:
        """Add (or replace) an app."""
        if app.kind not in ("web", "pkce", "custom"):
            raise ValueError(f"app kind must be web, pkce or custom, not {app.kind!r}")
        if app.custom_tenant_id:
            app.custom_tenant_id = app.custom_tenant_id.lower()
        with self._lock:
            self._apps[app.client_id] = app
        return app

    def apps(self) -> list[App]:
        with self._lock:
            return list(self._apps.values())

    def add_redirect_uri(self, client_id: str, uri: str) -> App:
        """Register one more redirect URI for an app, as its page at developer.xero.com
        allows (an absolute http(s) URL; Xero asks for https except on localhost)."""
        parts = urlsplit(uri)
        local = parts.hostname in ("localhost", "127.0.0.1")
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
            raise ValueError(f"redirect URI must be an absolute http(s) URL, not {uri!r}")
        if parts.scheme == "http" and not local:
            raise ValueError(f"redirect URI must use https unless on localhost: {uri!r}")
        with self._lock:
            app = self._apps.get(client_id)
            if app is None:
                raise KeyError(client_id)
            if uri not in app.redirect_uris:
                app.redirect_uris.append(uri)
            return app

    def stats(self) -> dict[str, int]:
        """Token requests by grant type (every request naming one, whatever its outcome),
        ``invalid_grant`` answers, ``grace_reuse`` refreshes and accepted revocations."""
        with self._lock:
            return dict(self._stats)

    def organisations(self) -> list[Organisation]:
        """The organisations the demo user may connect (all of them), by name."""
        return sorted(self._orgs.values(), key=lambda o: (o.name.lower(), o.tenant_id))

    # ------------------------------------------------------------------ consent

    def begin_authorization(
        self,
        *,
        response_type: str | None,
        client_id: str | None,
        redirect_uri: str | None,
        scope: str | None,
        state: str | None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> ConsentRequest:
        """Validate an authorize request and park it for the consent page.

        An unknown client or unregistered redirect URI is never redirected to (that would
        make the sandbox an open redirector); every later problem is sent back to the app.
        """
        with self._lock:
            app = self._apps.get(client_id or "")
            if app is None:
                raise AuthorizeError("invalid_client", "Unknown client or client not enabled")
            if not redirect_uri or redirect_uri not in app.redirect_uris:
                raise AuthorizeError("invalid_request", "Invalid redirect_uri")

            def back(error: str, description: str) -> AuthorizeError:
                return AuthorizeError(error, description, redirect_uri, state)

            if response_type != "code":
                raise back("unsupported_response_type", "response_type must be code")
            if app.kind == "custom":
                raise back("unauthorized_client", "Custom connections use client_credentials")
            scopes = parse_scope(scope)
            self._check_scopes(app, scopes, back)
            if code_challenge is not None or code_challenge_method is not None:
                if code_challenge_method != "S256":
                    raise back("invalid_request", "code_challenge_method must be S256")
                if not _CHALLENGE.match(code_challenge or ""):
                    raise back("invalid_request", "Invalid code_challenge")
            elif app.kind == "pkce":
                raise back("invalid_request", "code_challenge is required for PKCE apps")
            now = self._clock.timestamp()
            self._purge(now)
            request = ConsentRequest(
                request_id=secrets.token_urlsafe(24),
                app=app,
                redirect_uri=redirect_uri,
                scopes=tuple(scopes),
                state=state,
                code_challenge=code_challenge,
                expires_at=now + CONSENT_REQUEST_SECONDS,
            )
            self._consents[request.request_id] = request
            return request

    def consent_request(self, request_id: str | None) -> ConsentRequest:
        """A parked authorize request; unknown or stale ones get the error page."""
        with self._lock:
            request = self._consents.get(request_id or "")
            if request is None or self._clock.timestamp() >= request.expires_at:
                raise AuthorizeError(
                    "invalid_request", "This sign-in request has expired. Start again."
                )
            return request

    def decide(self, request_id: str | None, approve: bool, tenant_ids: Iterable[str]) -> str:
        """Record the user's decision and return the URL to send the browser back to.

        :raises NoOrganisationChosen: approved without a (known) organisation.
        """
        with self._lock:
            request = self.consent_request(request_id)
            if not approve:
                del self._consents[request.request_id]
                return with_query(request.redirect_uri, error="access_denied", state=request.state)
            chosen = list(dict.fromkeys(t.strip().lower() for t in tenant_ids if t.strip()))
            if any(t not in self._orgs for t in chosen):
                raise NoOrganisationChosen("That organisation is not available to you.")
            if not needs_tenant(request.scopes):
                chosen = []  # identity-only scopes connect no organisation
            elif not chosen:
                raise NoOrganisationChosen("Choose at least one organisation to connect.")
            del self._consents[request.request_id]
            now = self._clock.now()
            auth_event_id = str(uuid.uuid4())
            self._connect(request.app.client_id, DEMO_USER.user_id, chosen, auth_event_id, now)
            code = secrets.token_urlsafe(32)
            self._codes[_digest(code)] = _Code(
                client_id=request.app.client_id,
                redirect_uri=request.redirect_uri,
                scopes=request.scopes,
                user_id=DEMO_USER.user_id,
                auth_event_id=auth_event_id,
                code_challenge=request.code_challenge,
                auth_time=int(now.timestamp()),
                expires_at=now.timestamp() + CODE_SECONDS,
            )
            return with_query(
                request.redirect_uri,
                code=code,
                scope=" ".join(request.scopes),
                state=request.state,
            )

    # ------------------------------------------------------------------ token endpoint

    def token(self, form: Mapping[str, str], authorization: str | None) -> TokenResult:
        """Answer ``POST /connect/token``.

        Refresh tokens rotate: each use returns a new access token *and* a new refresh
        token. The used one stays valid for ``REFRESH_GRACE_SECONDS`` after its first use,
        for a client whose response was lost; such a grace reuse returns another fresh
        token pair (new access token, new refresh token, same scopes and connections) and
        counts in ``stats()["grace_reuse"]``. The token issued by the first use stays valid
        too: the sandbox cannot know which response the client lost. After the grace
        period the used token answers ``invalid_grant``.
        """
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type in GRANT_TYPES:
                self._stats[grant_type] += 1
            app = self._client(authorization, form)
            if not grant_type:
                raise OAuthError("invalid_request", "grant_type is required")
            if grant_type == "authorization_code":
                return self._exchange_code(app, form)
            if grant_type == "refresh_token":
                return self._refresh_tokens(app, form)
            if grant_type == "client_credentials":
                return self._client_credentials(app, form.get("scope"))
            raise OAuthError("unsupported_grant_type")

    def _client(self, authorization: str | None, form: Mapping[str, str]) -> App:
        """Authenticate the client by HTTP Basic or body credentials (PKCE: id only)."""
        basic = _basic_credentials(authorization)
        if basic is not None:
            if form.get("client_id") and form["client_id"] != basic[0]:
                raise OAuthError("invalid_client")
            client_id, secret = basic
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        app = self._apps.get(client_id or "")
        if app is None:
            raise OAuthError("invalid_client")
        if app.client_secret is None:
            if secret:
                raise OAuthError("invalid_client")
        elif not secret or not hmac.compare_digest(
            secret.encode("utf-8"), app.client_secret.encode("utf-8")
        ):
            raise OAuthError("invalid_client")
        return app

    def _invalid_grant(self, why: str) -> OAuthError:
        """Xero says only ``invalid_grant``; ``why`` goes in the description for debugging."""
        self._stats["invalid_grant"] += 1
        return OAuthError("invalid_grant", why)

    def _exchange_code(self, app: App, form: Mapping[str, str]) -> TokenResult:
        code = form.get("code")
        if not code:
            raise OAuthError("invalid_request", "code is required")
        record = self._codes.get(_digest(code))
        now = self._clock.timestamp()
        if record is None or record.client_id != app.client_id:
            raise self._invalid_grant("unknown code")
        if record.used:
            # RFC 6749 4.1.2: a code used twice revokes every token issued from it.
            if record.grant_id is not None:
                self._grants[record.grant_id].revoked = True
            raise self._invalid_grant("code already used; tokens issued for it revoked")
        if now >= record.expires_at:
            raise self._invalid_grant("code expired")
        if form.get("redirect_uri") != record.redirect_uri:
            raise self._invalid_grant("redirect_uri does not match the authorize request")
        if record.code_challenge is not None:
            verifier = form.get("code_verifier") or ""
            if not _VERIFIER.match(verifier) or not hmac.compare_digest(
                pkce_challenge(verifier), record.code_challenge
            ):
                raise self._invalid_grant("code_verifier does not match code_challenge")
        record.used = True
        grant = self._new_grant(
            app, record.user_id, record.scopes, record.auth_event_id, record.auth_time
        )
        record.grant_id = grant.grant_id
        return self._issue(app, grant)

    def _refresh_tokens(self, app: App, form: Mapping[str, str]) -> TokenResult:
        value = form.get("refresh_token")
        if not value:
            raise OAuthError("invalid_request", "refresh_token is required")
        record = self._refresh.get(_digest(value))
        now = self._clock.timestamp()
        if record is None or record.client_id != app.client_id:
            raise self._invalid_grant("unknown refresh token")
        if self._grants[record.grant_id].revoked:
            raise self._invalid_grant("refresh token revoked")
        if now >= record.expires_at:
            raise self._invalid_grant("refresh token expired")
        if record.used_at is None:
            record.used_at = now
        elif now - record.used_at < REFRESH_GRACE_SECONDS:
            self._stats["grace_reuse"] += 1
        else:
            raise self._invalid_grant("refresh token already used")
        return self._issue(app, self._grants[record.grant_id])

    def _client_credentials(self, app: App, scope: str | None) -> TokenResult:
        if app.kind != "custom":
            raise OAuthError("unauthorized_client", "client_credentials is for custom connections")
        requested = parse_scope(scope)
        if requested:
            if any(s in IDENTITY_SCOPES or s in NON_TENANTED_SCOPES for s in requested):
                raise OAuthError("invalid_scope")
            self._check_scopes(app, requested, OAuthError)
        else:
            requested = default_accounting_scopes(app.granular_only)
        user_id = DEMO_USER.user_id
        tenant = app.custom_tenant_id
        if tenant and not self._find_connection(app.client_id, user_id, tenant):
            self._connect(app.client_id, user_id, [tenant], str(uuid.uuid4()), self._clock.now())
        grant = self._new_grant(app, user_id, tuple(requested), None, int(self._clock.timestamp()))
        return self._issue(app, grant)

    def _check_scopes(self, app: App, scopes: list[str], error: Any) -> None:
        """Raise ``error(code, description)`` for scopes this app may not ask for."""
        if not scopes:
            raise error("invalid_scope", "scope is required")
        unknown = unknown_scopes(scopes)
        if unknown:
            raise error("invalid_scope", f"Unknown scope: {' '.join(unknown)}")
        if app.kind != "custom" and any(s in NON_TENANTED_SCOPES for s in scopes):
            raise error("invalid_scope", "app.connections is only for client_credentials")
        broad = broad_scopes(scopes)
        if app.granular_only and broad:
            raise error(
                "unauthorized_client",
                f"Apps created on or after 2026-03-02 cannot use {' '.join(broad)}",
            )

    def _new_grant(
        self,
        app: App,
        user_id: str,
        scopes: tuple[str, ...],
        auth_event_id: str | None,
        auth_time: int,
    ) -> _Grant:
        grant = _Grant(
            grant_id=uuid.uuid4().hex,
            client_id=app.client_id,
            user_id=user_id,
            kind=app.kind,
            scopes=tuple(scopes),
            auth_event_id=auth_event_id,
            auth_time=auth_time,
            session_id=uuid.uuid4().hex,
        )
        self._grants[grant.grant_id] = grant
        return grant

    def _issue(self, app: App, grant: _Grant) -> TokenResult:
        """A token response for ``grant``: access token, id_token / refresh token by scope."""
        now = int(self._clock.timestamp())
        jti = uuid.uuid4().hex
        user = DEMO_USER
        claims: dict[str, Any] = {
            "nbf": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "client_id": app.client_id,
            "sub": user.subject,
            "auth_time": grant.auth_time,
            "xero_userid": user.xero_userid,
            "global_session_id": grant.session_id,
            "jti": jti,
        }
        if grant.auth_event_id is not None:
            claims["authentication_event_id"] = grant.auth_event_id
        claims["scope"] = list(grant.scopes)
        self._access[jti] = _AccessRecord(grant.grant_id, now + ACCESS_TOKEN_SECONDS)
        body: dict[str, Any] = {}
        if "openid" in grant.scopes:
            body["id_token"] = self._id_token(app, grant, now)
        body["access_token"] = jwt.encode(claims, self._key, algorithm="HS256")
        body["expires_in"] = ACCESS_TOKEN_SECONDS
        body["token_type"] = "Bearer"
        if "offline_access" in grant.scopes and grant.kind != "custom":
            refresh = secrets.token_hex(32)
            self._refresh[_digest(refresh)] = _RefreshRecord(
                grant.grant_id, app.client_id, now + REFRESH_TOKEN_SECONDS
            )
            body["refresh_token"] = refresh
        body["scope"] = " ".join(grant.scopes)
        return TokenResult(body=body, client_id=app.client_id, token_id=jti)

    def _id_token(self, app: App, grant: _Grant, now: int) -> str:
        """OpenID id_token: 5 minutes; email and names only with the scopes that ask for them."""
        user = DEMO_USER
        claims: dict[str, Any] = {
            "nbf": now,
            "exp": now + ID_TOKEN_SECONDS,
            "iss": ISSUER,
            "aud": app.client_id,
            "iat": now,
            "auth_time": grant.auth_time,
            "sub": user.subject,
            "xero_userid": user.xero_userid,
            "global_session_id": grant.session_id,
        }
        if "email" in grant.scopes:
            claims["email"] = user.email
        if "profile" in grant.scopes:
            claims["given_name"] = user.given_name
            claims["family_name"] = user.family_name
            claims["preferred_username"] = user.email
        return jwt.encode(claims, self._key, algorithm="HS256")

    # ------------------------------------------------------------------ revocation

    def revoke(self, form: Mapping[str, str], authorization: str | None) -> None:
        """Revoke the grant behind a refresh token, and the user's connections to the app.

        Every refresh and access token of that consent chain stops working. Unknown tokens,
        or another client's, are ignored (RFC 7009 2.2: the answer is 200 either way).
        """
        with self._lock:
            app = self._client(authorization, form)
            token = form.get("token")
            if not token:
                raise OAuthError("invalid_request", "token is required")
            self._stats["revocations"] += 1
            record = self._refresh.get(_digest(token))
            if record is None or record.client_id != app.client_id:
                return
            grant = self._grants[record.grant_id]
            grant.revoked = True
            for connection in self._connections_of(grant.client_id, grant.user_id):
                del self._connections[connection.connection_id]

    # ------------------------------------------------------------------ bearer tokens

    def authenticate(self, authorization: str | None) -> AccessGrant:
        """The grant an ``Authorization: Bearer`` header proves.

        :raises Unauthorized: ``TokenExpired`` for an expired token, otherwise
            ``AuthenticationUnsuccessful`` (missing, malformed, forged or revoked).
        """
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized()
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Expiry is judged on the sandbox clock below, not the wall clock.
                options={"verify_exp": False, "verify_nbf": False, "require": ["jti"]},
            )
        except jwt.PyJWTError:
            raise Unauthorized() from None
        with self._lock:
            record = self._access.get(str(claims["jti"]))
            if record is None or self._grants[record.grant_id].revoked:
                raise Unauthorized()
            if self._clock.timestamp() >= record.expires_at:
                raise Unauthorized(token_expired_detail(record.expires_at))
            grant = self._grants[record.grant_id]
            app = self._apps.get(grant.client_id)
            if app is None:
                raise Unauthorized()
            tenants = frozenset(
                c.tenant_id for c in self._connections_of(grant.client_id, grant.user_id)
            )
            return AccessGrant(
                client_id=grant.client_id,
                app_name=app.name,
                user_id=grant.user_id,
                auth_event_id=grant.auth_event_id,
                token_id=str(claims["jti"]),
                scopes=frozenset(grant.scopes),
                tenant_ids=tenants,
                kind=grant.kind,
                expires_at=datetime.fromtimestamp(record.expires_at, UTC),
            )

    def connected_tenants(self, client_id: str) -> set[str]:
        """Every organisation some user has connected ``client_id`` to (webhook scope)."""
        with self._lock:
            return {c.tenant_id for c in self._connections.values() if c.client_id == client_id}

    def default_tenant(self, grant: AccessGrant) -> str | None:
        """The implied tenant of a custom connection (``xero-tenant-id`` may be omitted)."""
        if grant.kind != "custom":
            return None
        with self._lock:
            app = self._apps.get(grant.client_id)
        tenant = app.custom_tenant_id if app else None
        return tenant if tenant in grant.tenant_ids else None

    # ------------------------------------------------------------------ connections

    def connections(self, grant: AccessGrant, auth_event_id: str | None = None) -> list[dict]:
        """``GET /connections``: the app + user's connections, oldest first."""
        wanted = (auth_event_id or "").strip().lower()
        with self._lock:
            return [
                c.public(self._orgs[c.tenant_id])
                for c in self._connections_of(grant.client_id, grant.user_id)
                if not wanted or c.auth_event_id == wanted
            ]

    def delete_connection(self, grant: AccessGrant, connection_id: str) -> None:
        """``DELETE /connections/{id}``: disconnect one tenant; 404 if not this app+user's."""
        with self._lock:
            for c in self._connections_of(grant.client_id, grant.user_id):
                if c.connection_id == connection_id.strip().lower():
                    del self._connections[c.connection_id]
                    return
        raise NotFound()

    def _connections_of(self, client_id: str, user_id: str) -> list[Connection]:
        """Live connections only: an organisation removed from the sandbox drops out."""
        return [
            c
            for c in self._connections.values()
            if c.client_id == client_id and c.user_id == user_id and c.tenant_id in self._orgs
        ]

    def _find_connection(self, client_id: str, user_id: str, tenant_id: str) -> Connection | None:
        for c in self._connections.values():
            if (c.client_id, c.user_id, c.tenant_id) == (client_id, user_id, tenant_id):
                return c
        return None

    def _connect(
        self,
        client_id: str,
        user_id: str,
        tenant_ids: Iterable[str],
        auth_event_id: str,
        now: datetime,
    ) -> None:
        """Create or refresh one connection per tenant; all share this consent's event id."""
        for tenant_id in tenant_ids:
            existing = self._find_connection(client_id, user_id, tenant_id)
            if existing is not None:
                existing.auth_event_id = auth_event_id
                existing.updated = now
                continue
            created = self._first_connected.setdefault((client_id, user_id, tenant_id), now)
            connection = Connection(
                connection_id=str(uuid.uuid4()),
                client_id=client_id,
                user_id=user_id,
                tenant_id=tenant_id,
                auth_event_id=auth_event_id,
                created=created,
                updated=now,
            )
            self._connections[connection.connection_id] = connection

    def _purge(self, now: float) -> None:
        """Drop stale consent requests and codes so a long demo does not grow without end."""
        for key in [k for k, r in self._consents.items() if now >= r.expires_at]:
            del self._consents[key]
        for key in [k for k, c in self._codes.items() if now >= c.expires_at + CODE_SECONDS]:
            del self._codes[key]

    # ------------------------------------------------------------------ control API

    def grant_for_test(
        self, client_id: str, tenant_ids: list[str], scopes: list[str] | None = None
    ) -> dict[str, Any]:
        """Skip the consent page: connect the demo user and return a token response.

        Scopes default to ``openid profile email offline_access`` plus the accounting
        scopes the app may hold; a custom app gets a client_credentials response. Not
        counted in ``stats()``: it is not a token request.
        """
        with self._lock:
            app = self._apps.get(client_id)
            if app is None:
                raise OAuthError("invalid_client", f"No app with client_id {client_id!r}")
            tenants = list(dict.fromkeys(t.strip().lower() for t in tenant_ids))
            unknown = [t for t in tenants if t not in self._orgs]
            if unknown:
                raise OAuthError("invalid_request", f"Unknown tenant: {', '.join(unknown)}")
            if app.kind == "custom":
                if tenants and tenants != [app.custom_tenant_id]:
                    raise OAuthError(
                        "invalid_request",
                        f"A custom connection is bound to {app.custom_tenant_id}",
                    )
                return self._client_credentials(app, " ".join(scopes or [])).body
            if scopes is None:
                scopes = [*_TEST_IDENTITY_SCOPES, *default_accounting_scopes(app.granular_only)]
            requested = parse_scope(" ".join(scopes))
            self._check_scopes(app, requested, OAuthError)
            now = self._clock.now()
            auth_event_id = str(uuid.uuid4())
            self._connect(app.client_id, DEMO_USER.user_id, tenants, auth_event_id, now)
            grant = self._new_grant(
                app, DEMO_USER.user_id, tuple(requested), auth_event_id, int(now.timestamp())
            )
            return self._issue(app, grant).body
