"""The HTTP face of the Accounting API: one pipeline every call goes through.

Authenticate the bearer token, resolve the tenant, apply the rate limits, check the
scope, replay or record an Idempotency-Key, then dispatch to the generic service by
path shape. The path segments are matched case-insensitively, as Xero's are.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from xero_sandbox.accounting import service
from xero_sandbox.accounting.base import ResourceRules, WriteContext, query_flag
from xero_sandbox.accounting.registry import rules_for
from xero_sandbox.dates import DateParseError, parse_datetime
from xero_sandbox.errors import ApiException, Forbidden, InsufficientScope, NotFound, SandboxError
from xero_sandbox.idempotency import fingerprint
from xero_sandbox.identity import AccessGrant, scope_allows
from xero_sandbox.identity.scopes import missing_scope_message
from xero_sandbox.organisation import Organisation
from xero_sandbox.state import SandboxState

API_PREFIX = "/api.xro/2.0"
WRITE_METHODS = {"PUT", "POST", "DELETE"}
DEMO_USER = "sandbox-user@example.com"


def render_error(error: SandboxError, extra_headers: dict[str, str] | None = None) -> Response:
    """The HTTP response for a typed sandbox error, in Xero's format."""
    headers = {**error.headers, **(extra_headers or {})}
    body = error.body()
    if isinstance(body, str):
        return PlainTextResponse(body, status_code=error.status, headers=headers)
    return JSONResponse(body, status_code=error.status, headers=headers)


def build_accounting_router(state: SandboxState) -> APIRouter:
    """Mount ``/api.xro/2.0/...`` on the sandbox app."""
    router = APIRouter()

    @router.api_route(API_PREFIX + "/{rest:path}", methods=["GET", "PUT", "POST", "DELETE"])
    async def accounting(request: Request, rest: str) -> Response:
        return await _handle(state, request, rest)

    return router


async def _handle(state: SandboxState, request: Request, rest: str) -> Response:
    limit_headers: dict[str, str] = {}
    ticket = None
    try:
        grant = state.identity.authenticate(request.headers.get("authorization"))
        request.state.log_extra = {"client_id": grant.client_id, "token_id": grant.token_id}
        org = _resolve_tenant(state, grant, request.headers.get("xero-tenant-id"))
        starter = org.tier.upper() == "STARTER"
        try:
            ticket = state.limits.acquire(grant.client_id, org.tenant_id, starter)
        finally:
            limit_headers = state.limits.headers(grant.client_id, org.tenant_id, starter)
        if state.limits.settings.latency_ms:
            await asyncio.sleep(state.limits.settings.latency_ms / 1000)
        segments = [s for s in rest.split("/") if s]
        body_bytes = await request.body()
        outcome = _dispatch_with_idempotency(state, request, grant, org, segments, body_bytes)
        return _to_response(outcome, limit_headers)
    except SandboxError as error:
        return render_error(error, limit_headers)
    finally:
        if ticket is not None:
            state.limits.release(ticket)


def _resolve_tenant(state: SandboxState, grant: AccessGrant, header: str | None) -> Organisation:
    """The organisation named by ``xero-tenant-id``, which the token must have been granted."""
    tenant_id = (header or "").strip().lower() or state.identity.default_tenant(grant)
    if not tenant_id:
        raise Forbidden("AuthenticationUnsuccessful")
    org = state.org(tenant_id)
    if org is None or tenant_id not in grant.tenant_ids:
        raise Forbidden("AuthenticationUnsuccessful")
    return org


def _dispatch_with_idempotency(
    state: SandboxState,
    request: Request,
    grant: AccessGrant,
    org: Organisation,
    segments: list[str],
    body_bytes: bytes,
) -> service.Outcome:
    key = request.headers.get("idempotency-key")
    method = request.method.upper()
    if not key or method not in WRITE_METHODS:
        return _dispatch(state, request, grant, org, segments, body_bytes)
    state.idempotency.check_key(key)
    print_ = fingerprint(method, request.url.path, request.url.query, org.tenant_id, body_bytes)
    stored = state.idempotency.lookup(grant.client_id, key, print_)
    if stored is not None:
        request.state.log_extra["idempotent_replay"] = True
        return service.Outcome(stored.status, stored.body, stored.headers)
    outcome = _dispatch(state, request, grant, org, segments, body_bytes)
    if outcome.status < 500:
        state.idempotency.store(
            grant.client_id, key, print_, outcome.status, outcome.body, outcome.headers
        )
    return outcome


def _dispatch(
    state: SandboxState,
    request: Request,
    grant: AccessGrant,
    org: Organisation,
    segments: list[str],
    body_bytes: bytes,
) -> service.Outcome:
    """Route by path shape: /{R}, /{R}/{id}, /{R}/{id}/History, /{R}/{id}/{action}[/{sub}]."""
    method = request.method.upper()
    if not segments:
        raise NotFound()
    rules = rules_for(segments[0])
    if rules is None:
        raise NotFound()
    write = method in WRITE_METHODS
    if not scope_allows(grant.scopes, rules.scope, rules.granular_scope, write):
        raise InsufficientScope(missing_scope_message(rules.scope, rules.granular_scope, write))
    ctx = WriteContext(org=org, now=state.clock.now(), user=DEMO_USER, app_name=grant.app_name)
    query = _query(request)
    body = _json_body(body_bytes) if write else None

    if len(segments) == 1:
        if method == "GET":
            return _list(org, rules, query, ctx, request.headers.get("if-modified-since"))
        if method in ("PUT", "POST") and (
            rules.supports_put if method == "PUT" else rules.supports_post
        ):
            return service.write_records(
                ctx,
                rules,
                service.elements_of(rules.name, body),
                mode=method.lower(),
                summarize_errors=query_flag(query, "summarizeErrors", True),
            )
        raise NotFound()
    record_key = segments[1]
    if len(segments) == 2:
        if method == "GET":
            record = service.get_record(org, rules, record_key)
            return service.Outcome(
                200,
                service.envelope(rules.name, [rules.render(org, record)], ctx.app_name, ctx.now),
            )
        if method == "DELETE" and hasattr(rules, "delete"):
            return rules.delete(ctx, service.get_record(org, rules, record_key))
        if method == "POST" and rules.supports_post:
            record = service.get_record(org, rules, record_key)
            return service.write_records(
                ctx,
                rules,
                service.elements_of(rules.name, body)[:1],
                mode="post",
                summarize_errors=query_flag(query, "summarizeErrors", True),
                target=record,
            )
        raise NotFound()
    action = segments[2].lower()
    if action == "history" and len(segments) == 3:
        if method == "GET":
            return service.get_history(org, rules, record_key, ctx)
        if method == "PUT":
            return service.add_history_notes(ctx, rules, record_key, body)
        raise NotFound()
    handler = getattr(rules, "actions", {}).get((method, action))
    if handler is None:
        raise NotFound()
    record = service.get_record(org, rules, record_key)
    return getattr(rules, handler)(ctx, record, body, segments[3:], query)


def _list(
    org: Organisation,
    rules: ResourceRules,
    query: dict[str, str],
    ctx: WriteContext,
    if_modified_since: str | None,
) -> service.Outcome:
    if getattr(rules, "singleton", False):
        records = [rules.render(org, {})]
        return service.Outcome(200, service.envelope(rules.name, records, ctx.app_name, ctx.now))
    filters = {}
    lowered = {k.lower(): v for k, v in query.items()}
    for param in rules.list_filters:
        if param.lower() in lowered:
            filters[param] = lowered[param.lower()].split(",")
    list_query = service.ListQuery(
        modified_since=_modified_since(if_modified_since),
        where=lowered.get("where"),
        order=lowered.get("order"),
        page=_int(lowered, "page"),
        page_size=_int(lowered, "pagesize"),
        include_archived=query_flag(query, "includeArchived", False),
        filters=filters,
        params=query,
    )
    records, extra = service.list_records(org, rules, list_query)
    return service.Outcome(
        200, service.envelope(rules.name, records, ctx.app_name, ctx.now, **extra)
    )


def _query(request: Request) -> dict[str, str]:
    return dict(parse_qsl(request.url.query, keep_blank_values=True))


def _int(query: dict[str, str], name: str) -> int | None:
    if name not in query or query[name] == "":
        return None
    try:
        return int(query[name])
    except ValueError:
        raise ApiException("QueryParseException", f"'{name}' must be a whole number.") from None


def _modified_since(header: str | None) -> datetime | None:
    """Parse If-Modified-Since in the forms clients send: RFC 1123 or ISO 8601."""
    if not header or not header.strip():
        return None
    try:
        return parse_datetime(header)
    except DateParseError:
        raise ApiException(
            "QueryParseException", f"If-Modified-Since '{header}' is not a valid date."
        ) from None


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise ApiException("PostDataInvalidException", "Invalid Json data", number=14) from None


def _to_response(outcome: service.Outcome, limit_headers: dict[str, str]) -> Response:
    headers = {**outcome.headers, **limit_headers}
    if outcome.status == 204 or outcome.body is None:
        return Response(status_code=outcome.status, headers=headers)
    if isinstance(outcome.body, str):
        return PlainTextResponse(outcome.body, status_code=outcome.status, headers=headers)
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)
