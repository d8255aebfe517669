"""The HTTP face of the Accounting API: one pipeline every call goes through.

Authenticate the bearer token, resolve the tenant, apply the rate limits, check the
scope, replay or record an Idempotency-Key, then dispatch to the generic service by
path shape. The path segments are matched case-insensitively, as Xero's are.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from xero_sandbox import tiers
from xero_sandbox.accounting import attachments, service
from xero_sandbox.accounting.base import ResourceRules, WriteContext, query_flag
from xero_sandbox.accounting.documents import round_unit, unit_places
from xero_sandbox.accounting.registry import rules_for
from xero_sandbox.dates import DateParseError, parse_datetime
from xero_sandbox.errors import (
    ApiException,
    Forbidden,
    InsufficientScope,
    NotFound,
    NotOnThisTier,
    SandboxError,
)
from xero_sandbox.formats import PDF_RESOURCES, document_pdf, to_xml, wants_json, wants_pdf
from xero_sandbox.idempotency import fingerprint
from xero_sandbox.identity import AccessGrant, scope_allows
from xero_sandbox.identity.scopes import missing_scope_message
from xero_sandbox.organisation import Organisation
from xero_sandbox.responses import Outcome, outcome_of
from xero_sandbox.state import SandboxState
from xero_sandbox.xml_bodies import read_write_body

API_PREFIX = "/api.xro/2.0"
WRITE_METHODS = {"PUT", "POST", "DELETE"}
DEMO_USER = "sandbox-user@example.com"


def render_error(
    error: SandboxError, extra_headers: dict[str, str] | None = None, xml: bool = False
) -> Response:
    """The HTTP response for a typed sandbox error, in Xero's format (XML if asked)."""
    headers = {**error.headers, **(extra_headers or {})}
    body = error.body()
    if isinstance(body, str):
        return PlainTextResponse(body, status_code=error.status, headers=headers)
    if xml and "ErrorNumber" in body:
        return Response(to_xml(body), error.status, headers, media_type="text/xml")
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
    accept = request.headers.get("accept")
    try:
        grant = state.identity.authenticate(request.headers.get("authorization"))
        request.state.log_extra = {"client_id": grant.client_id, "token_id": grant.token_id}
        org = _resolve_tenant(state, grant, request.headers.get("xero-tenant-id"))
        app = state.identity.app(grant.client_id)
        app_tier = app.tier if app else None
        starter = org.tier.upper() == "STARTER" or app_tier == "starter"
        try:
            ticket = state.limits.acquire(grant.client_id, org.tenant_id, starter)
        finally:
            limit_headers = state.limits.headers(grant.client_id, org.tenant_id, starter)
        if state.limits.settings.latency_ms:
            await asyncio.sleep(state.limits.settings.latency_ms / 1000)
        segments = [s for s in rest.split("/") if s]
        body_bytes = await request.body()
        places = 4 if _query(request).get("unitdp", "").strip() == "4" else 2
        with unit_places(places):
            outcome = _dispatch_with_idempotency(state, request, grant, org, segments, body_bytes)
        if places == 2:
            _round_unit_amounts(outcome.body)
        return _to_response(outcome, limit_headers, xml=not wants_json(accept))
    except SandboxError as error:
        return render_error(error, limit_headers, xml=not wants_json(accept))
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
) -> Outcome:
    key = request.headers.get("idempotency-key")
    method = request.method.upper()
    if not key or method not in WRITE_METHODS:
        return _answer(state, request, grant, org, segments, body_bytes)
    state.idempotency.check_key(key)
    print_ = fingerprint(method, request.url.path, request.url.query, org.tenant_id, body_bytes)
    stored = state.idempotency.lookup(grant.client_id, key, print_)
    if stored is not None:
        request.state.log_extra["idempotent_replay"] = True
        return Outcome(stored.status, stored.body, stored.headers)
    outcome = _answer(state, request, grant, org, segments, body_bytes)
    if outcome.status < 500:
        state.idempotency.store(
            grant.client_id, key, print_, outcome.status, outcome.body, outcome.headers
        )
    return outcome


def _answer(
    state: SandboxState,
    request: Request,
    grant: AccessGrant,
    org: Organisation,
    segments: list[str],
    body_bytes: bytes,
) -> Outcome:
    """The backend's result as a response (see :func:`responses.outcome_of`)."""
    return outcome_of(
        lambda: _dispatch(state, request, grant, org, segments, body_bytes),
        grant.app_name,
        state.clock.now(),
    )


def _dispatch(
    state: SandboxState,
    request: Request,
    grant: AccessGrant,
    org: Organisation,
    segments: list[str],
    body_bytes: bytes,
) -> service.Result:
    """Route by path shape: /{R}, /{R}/{id}, /{R}/{id}/History, /{R}/{id}/{action}[/{sub}]."""
    method = request.method.upper()
    if not segments:
        raise NotFound()
    rules = rules_for(segments[0])
    if rules is None:
        raise NotFound()
    app = state.identity.app(grant.client_id)
    if not tiers.allows(app.tier if app else None, segments[0]):
        # Xero's answer to a Journals read below Advanced (support.databuzz.com.au
        # article 742, API_NOTES section 5): 401 "AuthorizationUnsuccessful".
        raise NotOnThisTier()
    write = method in WRITE_METHODS
    files = attachments.is_attachment_route(segments)
    family = "attachments" if files else rules.scope
    granular = None if files else rules.granular_for(segments)
    if not scope_allows(grant.scopes, family, granular, write):
        raise InsufficientScope(missing_scope_message(family, granular, write))
    ctx = WriteContext(
        org=org,
        now=state.clock.now(),
        user=DEMO_USER,
        app_name=grant.app_name,
        client_id=grant.client_id,
    )
    query = _query(request)
    if files:  # the body is the file itself, not JSON
        base_url = str(request.base_url).rstrip("/")
        content_type = request.headers.get("content-type")
        return attachments.handle(
            ctx, rules, method, segments, body_bytes, content_type, query, base_url
        )
    body = None
    if write:
        body = read_write_body(request.headers.get("content-type"), body_bytes)

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
    pdf = method == "GET" and rules.name.lower() in PDF_RESOURCES
    if pdf and (
        (len(segments) == 2 and wants_pdf(request.headers.get("accept")))
        or (len(segments) == 3 and segments[2].lower() == "pdf")
    ):
        record = rules.render(org, service.get_record(org, rules, record_key))
        return service.FileContent(document_pdf(rules.name, record), "application/pdf")
    if len(segments) == 2:
        if method == "GET":
            record = rules.get_one(org, record_key, query, ctx.now)
            if record is None:
                record = service.get_record(org, rules, record_key)
            return service.Listing(rules.name, [rules.render(org, record)])
        if method == "DELETE":
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
            return service.get_history(org, rules, record_key)
        if method == "PUT":
            return service.add_history_notes(ctx, rules, record_key, body)
        raise NotFound()
    handler = rules.actions.get((method, action))
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
) -> service.Listing:
    if rules.singleton:
        return service.Listing(rules.name, [rules.render(org, {})])
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
        client_id=ctx.client_id,
    )
    records, extra = service.list_records(org, rules, list_query)
    return service.Listing(rules.name, records, extra)


def _query(request: Request) -> dict[str, str]:
    return dict(parse_qsl(request.url.query, keep_blank_values=True))


# page/pageSize beyond a 32-bit int are refused: the spec says only "integer", and .NET
# (Xero's API) binds such a parameter to Int32 - our assumption, stated in the docs.
MAX_INT32 = 2**31 - 1


def _int(query: dict[str, str], name: str) -> int | None:
    """A whole-number query parameter; absurd values are a 400, never a crash."""
    text = query.get(name, "").strip()
    if not text:
        return None
    if len(text) > 12 or not text.lstrip("+-").isdigit():
        raise ApiException("QueryParseException", f"'{name}' must be a whole number.")
    value = int(text)
    if not -MAX_INT32 - 1 <= value <= MAX_INT32:
        raise ApiException("QueryParseException", f"'{name}' is out of range.")
    return value


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


def _to_response(outcome: Outcome, limit_headers: dict[str, str], xml: bool = False) -> Response:
    headers = {**outcome.headers, **limit_headers}
    if outcome.status == 204 or outcome.body is None:
        return Response(status_code=outcome.status, headers=headers)
    if isinstance(outcome.body, bytes):
        media = headers.pop("Content-Type", "application/octet-stream")
        return Response(outcome.body, outcome.status, headers, media_type=media)
    if isinstance(outcome.body, str):
        return PlainTextResponse(outcome.body, status_code=outcome.status, headers=headers)
    if xml:
        return Response(to_xml(outcome.body), outcome.status, headers, media_type="text/xml")
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


def _round_unit_amounts(body: Any) -> None:
    """Show each line's UnitAmount at 2 places unless the client asked ``unitdp=4``."""
    if not isinstance(body, dict):
        return
    for value in body.values():
        if not isinstance(value, list):
            continue
        for record in value:
            lines = record.get("LineItems") if isinstance(record, dict) else None
            for line in lines if isinstance(lines, list) else []:
                amount = line.get("UnitAmount") if isinstance(line, dict) else None
                if isinstance(amount, (int, float)) and not isinstance(amount, bool):
                    line["UnitAmount"] = float(round_unit(Decimal(str(amount)), 2))
