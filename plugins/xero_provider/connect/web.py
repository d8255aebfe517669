"""The connect app: a FastAPI app the api-server mounts at ``/xero`` (plugins/xero_connect.py).

Pages and buttons need an Airflow user allowed to read (GET) or edit (POST)
connections; the webhook endpoint is for Xero and is authenticated by its signature
alone. Blocking work (databases, calls to Xero) runs in the thread pool.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from xero_provider.connect import access, flow, grants, pages, preflight, settings, webhooks
from xero_provider.connect import airflow_connections as conns
from xero_provider.state.connect_state import PendingSignIns

log = logging.getLogger(__name__)
STATE_COOKIE = "xero_connect_state"
_SAFE = re.compile(r"[^\w .,:'()/-]")


def _base(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def _refuse(request: Request, status: int = 401) -> HTMLResponse:
    text = (
        "Sign in to Airflow first: this page acts on Airflow connections."
        if status == 401
        else "Your Airflow user may not change connections."
    )
    url = access.login_url(str(request.url))
    link = (url, "Sign in to Airflow") if status == 401 else None
    return HTMLResponse(pages.message_page("Xero connections", text, link), status_code=status)


async def _caller(request: Request, method: str) -> access.Caller | HTMLResponse:
    caller = await access.caller_of(request)
    if caller is None:
        return _refuse(request, 401)
    if not await run_in_threadpool(caller.may, method):
        return _refuse(request, 403)
    return caller


async def _form(request: Request, caller: access.Caller) -> dict[str, str] | None:
    """The form fields, or None when the CSRF token is missing or wrong."""
    form = await request.form()
    fields = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    given = fields.pop("csrf", "")
    return fields if hmac.compare_digest(given.encode(), caller.csrf.encode()) else None


async def _form_caller(
    request: Request, method: str
) -> tuple[access.Caller, dict[str, str]] | HTMLResponse:
    """For a button: the caller allowed to ``method`` and the CSRF-checked form, or a refusal."""
    caller = await _caller(request, method)
    if isinstance(caller, Response):
        return caller
    fields = await _form(request, caller)
    if fields is None:
        return _refuse(request, 403)
    return caller, fields


def _egress_of(members: list[conns.StoredConnection]) -> dict[str, str]:
    """Each connection's egress today and this month, from the shared egress log."""
    from xero_provider.state.egress import EgressLog
    from xero_provider.state.token_store import TokenStore

    out = {}
    for conn in members:
        config = grants.config_for(conn.conn_id)
        tenant = config.tenant_id or f"app:{config.client_id}"
        usage = EgressLog(TokenStore.for_config(config)).usage(config.client_id, tenant)
        out[conn.conn_id] = usage.describe()
    return out


def _plans_of(members: list[conns.StoredConnection]) -> dict[str, list[str]]:
    """Each organisation's daily call plan and today's calls (the store only, no Xero)."""
    from xero_provider.connect import plan_view

    return {
        conn.conn_id: plan_view.lines(plan_view.summary(grants.config_for(conn.conn_id)))
        for conn in members
        if conn.tenant_id
    }


def _grant_views() -> list[pages.GrantView]:
    groups: dict[tuple[Any, ...], list[conns.StoredConnection]] = defaultdict(list)
    for conn in conns.list_connections():
        groups[(conn.client_id, conn.store, conn.grant_key)].append(conn)
    views = []
    for (client_id, _store, key), members in sorted(groups.items(), key=lambda g: g[0][2]):
        view = pages.GrantView(key=key, connections=members, times=None, client_id=client_id)
        try:
            view.times = grants.times(grants.config_for(members[0].conn_id))
            view.egress = _egress_of(members)
            view.plans = _plans_of(members)
        except Exception as error:  # show the grant anyway, with what is wrong
            view.problem = f"{type(error).__name__}: {str(error)[:300]}"
        views.append(view)
    return views


async def _main_page(
    request: Request,
    caller: access.Caller,
    *,
    message: str | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    views = await run_in_threadpool(_grant_views)
    can_edit = await run_in_threadpool(caller.may, "POST")
    model = pages.PageModel(
        user=caller.name,
        csrf=caller.csrf,
        redirect_uri=settings.redirect_uri(),
        webhook_url=str(request.base_url).rstrip("/") + _base(request) + "/webhooks",
        webhook_ready=bool(settings.webhook_keys()),
        grants=views,
        connections=[c for v in views for c in v.connections],
        message=message,
        errors=errors or [],
        can_edit=can_edit,
        base=_base(request),
    )
    headers = {"Cache-Control": "no-store"}
    return HTMLResponse(pages.main_page(model), status_code=status, headers=headers)


def _back(request: Request, message: str) -> RedirectResponse:
    text = quote(_SAFE.sub("", message)[:500])
    return RedirectResponse(f"{_base(request)}/?message={text}", status_code=303)


async def _act(
    request: Request,
    caller: access.Caller,
    action: Callable[[str], Any],
    argument: str,
    done: Callable[[Any], str],
) -> Response:
    """Run a grant action off the event loop; back with what it did, or the page with why not."""
    try:
        result = await run_in_threadpool(action, argument)
    except Exception as error:
        return await _main_page(request, caller, errors=[str(error)], status=400)
    return _back(request, done(result))


def _confirm(
    request: Request,
    caller: access.Caller,
    title: str,
    text: str,
    path: str,
    fields: dict[str, str],
    button: str,
) -> HTMLResponse:
    base = _base(request)
    page = pages.confirm_page(title, text, base + path, caller.csrf, fields, button, base)
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


def _request_from(fields: dict[str, str], redirect_uri: str) -> flow.ConnectRequest:
    prefix = re.sub(r"[^A-Za-z0-9_]", "", fields.get("conn_id_prefix") or "xero")[:40] or "xero"
    if fields.get("from_conn_id"):
        stored = conns.get_connection(fields["from_conn_id"])
        if stored is None:
            raise flow.XeroConfigurationError(f"no xero connection '{fields['from_conn_id']}'")
        secret = conns.secret_of(stored.conn_id)
        return flow.ConnectRequest.from_connection(
            stored, secret, redirect_uri, conn_id_prefix=prefix, app_tier=fields.get("app_tier")
        )
    base = (fields.get("base_url") or "").rstrip("/")
    bases = {f"{n}_base_url": base for n in ("api", "identity", "login")} if base else {}
    scopes, note = flow.pick_scopes(
        fields.get("scopes"), fields.get("app_tier"), bool(fields.get("broad_scopes"))
    )
    return flow.ConnectRequest(
        client_id=fields.get("client_id", ""),
        client_secret=fields.get("client_secret") or None,
        redirect_uri=redirect_uri,
        scopes=scopes,
        scope_note=note,
        conn_id_prefix=prefix,
        app_tier=fields.get("app_tier") or None,
        **bases,
    )


def _start(fields: dict[str, str], user: str) -> tuple[str | None, str | None, list[str]]:
    """Check everything, park the sign-in; ``(authorize url, state, problems)``."""
    redirect_uri = settings.redirect_uri()
    try:
        request = _request_from(fields, redirect_uri)
        config = request.config()
    except Exception as error:
        return None, None, [str(error)]
    problems = preflight.run(
        config,
        redirect_uri,
        listen=False,
        metadata_database=True,
        reconnecting=bool(request.from_conn_id),
    )
    if problems:
        return None, None, problems
    url, pending = flow.begin(request)
    PendingSignIns(settings.state_store_url()).put(pending.state, pending.to_payload(), user)
    return url, pending.state, []


def _finish(state: str, params: dict[str, str], user: str) -> flow.ConnectResult | str:
    taken = PendingSignIns(settings.state_store_url()).take(state)
    if taken is None:
        return "This sign-in expired or was already used: start again."
    payload, started_by = taken
    if started_by != user:
        return "This sign-in was started by another Airflow user: start again."
    try:
        return flow.complete(flow.PendingFlow.from_payload(state, payload), params, user)
    except Exception as error:
        log.warning("Xero sign-in failed: %s", error)
        return f"Nothing was stored: {error}"


async def _capped_body(request: Request, cap: int) -> bytes | None:
    """The request's body, or None once it is over ``cap`` bytes: a declared length over
    the cap is refused unread, and a body without one (chunked) is read only up to it."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > cap):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app() -> FastAPI:
    """The app the plugin mounts; its routes are relative to the mount point."""
    app = FastAPI(title="Xero connect", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request, message: str | None = None) -> Response:
        caller = await _caller(request, "GET")
        if isinstance(caller, Response):
            return caller
        return await _main_page(request, caller, message=message)

    @app.post("/start")
    async def start(request: Request) -> Response:
        checked = await _form_caller(request, "POST")
        if isinstance(checked, Response):
            return checked
        caller, fields = checked
        url, state, problems = await run_in_threadpool(_start, fields, caller.name)
        if problems:
            return await _main_page(request, caller, errors=problems, status=400)
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            STATE_COOKIE,
            state,
            max_age=15 * 60,
            path=_base(request) or "/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    @app.get("/callback")
    async def callback(request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items()}
        state = params.get("state") or ""
        cookie = request.cookies.get(STATE_COOKIE) or ""
        if not state or not cookie or not secrets.compare_digest(state, cookie):
            text = (
                "This browser did not start this sign-in here, or it expired. If you started "
                "it with `python -m xero_provider.auth connect`, copy this page's whole "
                "address into that terminal."
            )
            page = pages.message_page("Xero sign-in", text, (f"{_base(request)}/", "Back"))
            return HTMLResponse(page, status_code=400)
        caller = await _caller(request, "POST")
        if isinstance(caller, Response):
            return caller
        outcome = await run_in_threadpool(_finish, state, params, caller.name)
        if isinstance(outcome, str):
            response = await _main_page(request, caller, errors=[outcome], status=400)
        else:
            names = ", ".join(f"{o.tenant_name} ({o.conn_id})" for o in outcome.organisations)
            note = f" ({outcome.scope_note})" if outcome.scope_note else ""
            response = _back(request, f"Connected {len(outcome.organisations)}: {names}{note}")
        response.delete_cookie(STATE_COOKIE, path=_base(request) or "/")
        return response

    @app.post("/grants/revoke")
    async def revoke(request: Request) -> Response:
        checked = await _form_caller(request, "POST")
        if isinstance(checked, Response):
            return checked
        caller, fields = checked
        conn_id = fields.get("conn_id", "")
        if fields.get("confirmed") != "yes":
            try:
                sharing = await run_in_threadpool(grants.sharing, conn_id)
            except Exception as error:
                return await _main_page(request, caller, errors=[str(error)], status=400)
            return _confirm(
                request,
                caller,
                "Revoke the authorisation?",
                f"Xero will end this app's authorisation, and every connection using it stops "
                f"working: {', '.join(sharing)}. Xero also removes every organisation this "
                "Xero user connected to the app. This cannot be undone; connecting again "
                "needs a new sign-in at Xero.",
                "/grants/revoke",
                {"conn_id": conn_id},
                "Revoke",
            )
        return await _act(
            request,
            caller,
            grants.revoke,
            conn_id,
            lambda ended: f"Revoked. No longer authorised: {', '.join(ended)}.",
        )

    @app.post("/connections/{conn_id}/disconnect")
    async def disconnect(request: Request, conn_id: str) -> Response:
        checked = await _form_caller(request, "DELETE")
        if isinstance(checked, Response):
            return checked
        caller, fields = checked
        if fields.get("confirmed") != "yes":
            try:  # refuse what is not a xero connection before asking
                await run_in_threadpool(grants.config_for, conn_id)
            except Exception as error:
                return await _main_page(request, caller, errors=[str(error)], status=400)
            return _confirm(
                request,
                caller,
                "Disconnect this organisation?",
                f"Xero will disconnect the organisation of '{conn_id}' from the app, and the "
                f"Airflow connection '{conn_id}' will be deleted. The other organisations of "
                "the same authorisation keep working.",
                f"/connections/{quote(conn_id, safe='')}/disconnect",
                {},
                "Disconnect",
            )
        return await _act(
            request,
            caller,
            grants.disconnect,
            conn_id,
            lambda name: f"Disconnected {name or conn_id}: deleted the connection {conn_id}.",
        )

    @app.post("/connections/{conn_id}/test")
    async def test(request: Request, conn_id: str) -> Response:
        """The Test button of this page: like Airflow's, but the reason is shown here."""
        checked = await _form_caller(request, "POST")
        if isinstance(checked, Response):
            return checked
        caller, _fields = checked
        try:
            ok, text = await run_in_threadpool(grants.test, conn_id)
        except Exception as error:
            ok, text = False, str(error)
        if ok:
            return _back(request, f"Test of {conn_id} passed: {text}")
        return await _main_page(
            request, caller, errors=[f"Test of {conn_id} failed: {text}"], status=400
        )

    @app.post("/webhooks")
    async def webhook(request: Request) -> Response:
        """Xero's deliveries: 200 (no body) when signed with our key, else 401; 413 for a
        body over the cap (never read in full, no signature computed over it). A signed
        body that is not a Xero payload is logged and answered 200: only Xero (or a holder
        of the key) can sign it, and any other answer makes Xero retry it for a day and
        then disable the webhook (configuring-your-server), over a parser's doubt."""
        body = await _capped_body(request, webhooks.MAX_BODY_BYTES)
        if body is None:
            return Response(status_code=413)
        keys = settings.webhook_keys()
        key = webhooks.signed_with(body, request.headers.get("x-xero-signature"), keys)
        if key is None:
            if not keys:
                log.warning("Xero webhook refused: [xero_connect] webhook_key is not set")
            return Response(status_code=401)
        try:
            outcome = await run_in_threadpool(
                webhooks.record, body, key, settings.state_store_url()
            )
        except webhooks.BadPayload as error:
            log.warning("Xero webhook with a valid signature but %s: ignored", error)
            return Response(status_code=200)
        log.info("Xero webhook: %s", outcome)
        return Response(status_code=200)

    return app
