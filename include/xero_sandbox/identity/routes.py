"""HTTP routes of the identity service: authorize (consent page), token, revocation and
connections. Routing and wire shapes only; every rule lives in :mod:`.service`.

Each handler sets ``request.state.log_extra`` (client id, grant type, token ``jti``) for
the request log the middleware writes; secrets never go there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from xero_sandbox.errors import OAuthError, SandboxError
from xero_sandbox.identity.consent import render_consent, render_error
from xero_sandbox.identity.scopes import needs_tenant
from xero_sandbox.identity.service import (
    AuthorizeError,
    ConnectionLimitReached,
    ConsentRequest,
    IdentityService,
    NoOrganisationChosen,
    claimed_client_id,
)

if TYPE_CHECKING:
    from xero_sandbox.state import SandboxState

# Token responses must not be cached (RFC 6749 5.1); the consent page carries a request id.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error_response(error: SandboxError) -> Response:
    """A typed error in Xero's wire format (OAuth errors get no-store like any token answer)."""
    body = error.body()
    headers = dict(error.headers)
    if isinstance(error, OAuthError):
        headers.update(NO_STORE)
    if isinstance(body, str):
        return PlainTextResponse(body, status_code=error.status, headers=headers)
    return JSONResponse(body, status_code=error.status, headers=headers)


def _authorize_failure(error: AuthorizeError) -> Response:
    """Back to the app when its redirect URI is trusted; otherwise an error page, status 400."""
    url = error.redirect_url()
    if url is not None:
        return Response(status_code=302, headers={"Location": url, **NO_STORE})
    page = render_error(error.description or error.error, error.error)
    return HTMLResponse(page, status_code=400, headers=NO_STORE)


def _consent_page(
    identity: IdentityService,
    consent: ConsentRequest,
    error: str | None = None,
    chosen: list[str] | None = None,
) -> HTMLResponse:
    page = render_consent(
        request_id=consent.request_id,
        app_name=consent.app.name,
        scopes=consent.scopes,
        organisations=identity.organisations(),
        show_organisations=needs_tenant(consent.scopes),
        error=error,
        chosen=chosen or [],
    )
    return HTMLResponse(page, status_code=400 if error else 200, headers=NO_STORE)


async def _form(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The form body: first value of each field, and all values of each field."""
    form = await request.form()
    every: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            every.setdefault(key, []).append(value)
    return {k: v[0] for k, v in every.items()}, every


def _log(request: Request, client_id: str | None, grant_type: str | None = None) -> dict:
    extra: dict[str, Any] = {"client_id": client_id, "grant_type": grant_type, "token_id": None}
    request.state.log_extra = extra
    return extra


def build_identity_router(state: SandboxState) -> APIRouter:
    """The identity endpoints, at the (lower-case) paths Xero serves them on."""
    router = APIRouter(tags=["identity"])

    @router.get("/identity/connect/authorize", response_model=None)
    def authorize_page(request: Request) -> Response:
        """Validate the request and show the consent page (or send the error back)."""
        q = request.query_params
        _log(request, q.get("client_id"))
        try:
            consent = state.identity.begin_authorization(
                response_type=q.get("response_type"),
                client_id=q.get("client_id"),
                redirect_uri=q.get("redirect_uri"),
                scope=q.get("scope"),
                state=q.get("state"),
                code_challenge=q.get("code_challenge"),
                code_challenge_method=q.get("code_challenge_method"),
            )
        except AuthorizeError as error:
            return _authorize_failure(error)
        return _consent_page(state.identity, consent)

    @router.post("/identity/connect/authorize", response_model=None)
    async def authorize_decision(request: Request) -> Response:
        """Approve or deny a parked request; approval needs at least one organisation."""
        form, every = await _form(request)
        extra = _log(request, None)
        identity = state.identity
        try:
            consent = identity.consent_request(form.get("request_id"))
            extra["client_id"] = consent.app.client_id
            decision = form.get("decision")
            if decision not in ("approve", "deny"):
                return _consent_page(identity, consent, "Choose Allow access or Cancel.")
            chosen = every.get("tenant_id", [])
            try:
                url = identity.decide(consent.request_id, decision == "approve", chosen)
            except NoOrganisationChosen as problem:
                return _consent_page(identity, consent, str(problem), chosen)
            except ConnectionLimitReached as problem:  # Xero's connectionLimit page
                page = render_error(str(problem), "connection_limit")
                return HTMLResponse(page, status_code=403, headers=NO_STORE)
        except AuthorizeError as error:
            return _authorize_failure(error)
        return Response(status_code=302, headers={"Location": url, **NO_STORE})

    @router.post("/connect/token", response_model=None)
    async def token(request: Request) -> Response:
        """Exchange a code, refresh, or client_credentials: Xero's token response or error."""
        form, _ = await _form(request)
        authorization = request.headers.get("authorization")
        extra = _log(request, claimed_client_id(authorization, form), form.get("grant_type"))
        try:
            result = state.identity.token(form, authorization)
        except OAuthError as error:
            return _error_response(error)
        extra["token_id"] = result.token_id
        return JSONResponse(result.body, headers=NO_STORE)

    @router.post("/connect/revocation", response_model=None)
    async def revocation(request: Request) -> Response:
        """Revoke a refresh token's grant; 200 with an empty body, known token or not."""
        form, _ = await _form(request)
        authorization = request.headers.get("authorization")
        _log(request, claimed_client_id(authorization, form))
        try:
            state.identity.revoke(form, authorization)
        except OAuthError as error:
            return _error_response(error)
        return Response(status_code=200, headers=NO_STORE)

    @router.get("/connections", response_model=None)
    def list_connections(request: Request) -> Response:
        """The token's app + user connections, optionally for one ``authEventId``."""
        extra = _log(request, None)
        try:
            grant = state.identity.authenticate(request.headers.get("authorization"))
        except SandboxError as error:
            return _error_response(error)
        extra.update(client_id=grant.client_id, token_id=grant.token_id)
        event = next(
            (v for k, v in request.query_params.multi_items() if k.lower() == "autheventid"), None
        )
        return JSONResponse(state.identity.connections(grant, event))

    @router.delete("/connections/{connection_id}", response_model=None)
    def delete_connection(request: Request, connection_id: str) -> Response:
        """Disconnect one tenant: 204, or 404 for an id that is not this app + user's."""
        extra = _log(request, None)
        try:
            grant = state.identity.authenticate(request.headers.get("authorization"))
            extra.update(client_id=grant.client_id, token_id=grant.token_id)
            state.identity.delete_connection(grant, connection_id)
        except SandboxError as error:
            return _error_response(error)
        return Response(status_code=204)

    return router
