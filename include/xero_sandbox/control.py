"""The control API under ``/__sandbox/``: seed data, move the clock, set limits,
inject faults, read the request log. Tests and the demo drive the sandbox through it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from xero_sandbox import seed, tiers
from xero_sandbox.bodies import check_value
from xero_sandbox.dates import DateParseError, parse_datetime
from xero_sandbox.errors import SandboxError
from xero_sandbox.faults import FaultRule
from xero_sandbox.state import SandboxState
from xero_sandbox.webhooks import CATEGORIES, WebhookConfig


class ClockChange(BaseModel):
    """Set the clock to ``now``, or move it by ``advance_seconds``; ``frozen`` stops it."""

    model_config = ConfigDict(extra="forbid")
    now: str | None = None
    advance_seconds: float | None = None
    frozen: bool | None = None


class FaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: int | None = None
    delay_ms: float = 0
    drop: bool = False
    after_commit: bool = False
    count: int | None = None
    fraction: float | None = None
    methods: list[str] | None = None
    path: str | None = None
    retry_after: int | None = None
    seed: int | None = None


class AppChange(BaseModel):
    """``PUT /__sandbox/apps/{client_id}``: the app's tier."""

    tier: str = Field(min_length=1, max_length=20)


class OrganisationChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    high_volume: bool | None = None


class WebhookRequest(BaseModel):
    """Subscribe a receiver: Xero's ``url`` and signing ``key``, plus sandbox settings."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    key: str = Field(min_length=1, max_length=500)
    client_id: str | None = None
    categories: list[str] | None = None
    batch_seconds: float = Field(default=1.0, ge=0, le=3600)
    max_events: int = Field(default=100, ge=1, le=10_000)
    retry_delays: list[float] | None = Field(default=None, max_length=1000)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    api_base: str | None = Field(default=None, pattern=r"^https?://")
    intent_requests: int = Field(default=4, ge=2, le=20)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: str
    tenant_ids: list[str]
    scopes: list[str] | None = None


class RedirectUriRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    redirect_uri: str = Field(min_length=1, max_length=2000)


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: str
    resource: str = "Contacts"
    count: int = Field(ge=1, le=200_000)
    spread_seconds: float = Field(default=0.0, ge=0, le=10 * 366 * 86400)


def build_control_router(state: SandboxState) -> APIRouter:
    router = APIRouter(tags=["control"])

    @router.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "organisations": len(state.orgs)}

    @router.post("/reset")
    def reset(demo: bool = False) -> dict[str, Any]:
        """Forget everything; ``?demo=true`` then loads the demo data again."""
        state.reset()
        if demo:
            seed.seed_demo(state)
        return {"status": "reset", "organisations": len(state.orgs)}

    @router.post("/seed")
    def load_seed(payload: dict[str, Any]) -> dict[str, Any]:
        try:
            check_value(payload)
            return seed.load(state, payload)
        except seed.SeedError as exc:
            raise HTTPException(400, str(exc)) from None
        except SandboxError as exc:
            raise HTTPException(400, exc.message) from None

    @router.post("/generate")
    def generate(request: GenerateRequest) -> dict[str, Any]:
        try:
            ids = seed.generate(
                state, request.tenant_id, request.resource, request.count, request.spread_seconds
            )
        except seed.SeedError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"created": len(ids), "first": ids[:1], "last": ids[-1:]}

    @router.get("/apps")
    def apps() -> list[dict[str, Any]]:
        return [
            {**app.public(), "connections": state.identity.connection_count(app.client_id)}
            for app in state.identity.apps()
        ]

    @router.put("/apps/{client_id}")
    def change_app(client_id: str, change: AppChange) -> dict[str, Any]:
        """Move an app to another tier (``starter`` ... ``enterprise``)."""
        try:
            app = state.identity.set_tier(client_id, change.tier)
        except KeyError:
            raise HTTPException(404, f"unknown app '{client_id}'") from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return app.public()

    @router.get("/egress")
    def egress(client_id: str | None = None, month: str | None = None) -> dict[str, Any]:
        """Response bytes per app, month and organisation, with the app's tier and its
        included GB a month, like Xero's developer dashboard."""
        report = state.egress.report(client_id, month)
        out = {}
        for app_id, months in report.items():
            app = state.identity.app(app_id)
            limits = tiers.tier(app.tier if app else None)
            out[app_id] = {
                "tier": limits.name,
                "included_gb_per_month": limits.egress_included_gb,
                "months": months,
            }
        return out

    @router.post("/apps/{client_id}/redirect_uris")
    def add_redirect_uri(client_id: str, request: RedirectUriRequest) -> dict[str, Any]:
        """What a developer does on the app's page at developer.xero.com."""
        try:
            return state.identity.add_redirect_uri(client_id, request.redirect_uri).public()
        except KeyError:
            raise HTTPException(404, f"no app with client_id {client_id!r}") from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @router.get("/organisations")
    def organisations() -> list[dict[str, Any]]:
        return [
            {
                "tenant_id": o.tenant_id,
                "name": o.name,
                "tier": o.tier,
                "short_code": o.short_code,
                "high_volume": o.high_volume,
            }
            for o in state.orgs.values()
        ]

    @router.put("/organisations/{tenant_id}")
    def change_organisation(tenant_id: str, change: OrganisationChange) -> dict[str, Any]:
        """Switch behaviours of one organisation (``high_volume``: refuse unoptimised
        where/order as Xero does for very large organisations)."""
        org = state.org(tenant_id)
        if org is None:
            raise HTTPException(404, f"unknown organisation '{tenant_id}'")
        if change.high_volume is not None:
            org.high_volume = change.high_volume
        return {"tenant_id": org.tenant_id, "name": org.name, "high_volume": org.high_volume}

    @router.put("/webhooks")
    def put_webhook(request: WebhookRequest, http: Request) -> dict[str, Any]:
        """Subscribe ``url`` and run Xero's intent-to-receive check against it now."""
        categories = sorted({c.upper() for c in request.categories or []}) or None
        if categories and not set(categories) <= set(CATEGORIES.values()):
            raise HTTPException(400, f"categories must be among {sorted(CATEGORIES.values())}")
        if request.retry_delays is not None and any(
            not 0 <= d <= 86400 for d in request.retry_delays
        ):
            raise HTTPException(400, "retry_delays must be between 0 and 86400 seconds")
        config = WebhookConfig(
            url=request.url,
            key=request.key,
            client_id=request.client_id,
            batch_seconds=request.batch_seconds,
            max_events=request.max_events,
            timeout_seconds=request.timeout_seconds,
            api_base=(request.api_base or str(http.base_url)).rstrip("/"),
        )
        if categories:
            config.categories = categories
        if request.retry_delays is not None:
            config.retry_delays = list(request.retry_delays)
        return state.webhooks.configure(config, request.intent_requests)

    @router.get("/webhooks")
    def get_webhook() -> dict[str, Any]:
        return state.webhooks.describe()

    @router.post("/webhooks/intent")
    def rerun_intent(count: int = 4) -> dict[str, Any]:
        """Run intent to receive again (re-enables a FAILED or DISABLED webhook on success)."""
        try:
            return state.webhooks.run_intent(max(2, min(count, 20)))
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @router.post("/webhooks/flush")
    def flush_webhook(wait_seconds: float = 10.0) -> dict[str, Any]:
        """Send queued events now instead of after the batch window (tests)."""
        return state.webhooks.flush(max(0.0, min(wait_seconds, 60.0)))

    @router.delete("/webhooks")
    def delete_webhook() -> dict[str, str]:
        state.webhooks.reset()
        return {"status": "deleted"}

    @router.post("/tokens")
    def tokens(request: TokenRequest) -> dict[str, Any]:
        """Issue tokens without the consent page (tests that are not about the code flow)."""
        try:
            return state.identity.grant_for_test(
                request.client_id, request.tenant_ids, request.scopes
            )
        except SandboxError as exc:
            raise HTTPException(400, exc.message) from None

    @router.get("/identity/stats")
    def identity_stats() -> dict[str, int]:
        return state.identity.stats()

    @router.get("/limits")
    def get_limits() -> dict[str, Any]:
        return state.limits.describe()

    @router.put("/limits")
    def put_limits(changes: dict[str, Any]) -> dict[str, Any]:
        try:
            state.limits.settings.update(changes)
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return state.limits.describe()

    @router.get("/clock")
    def get_clock() -> dict[str, Any]:
        return state.clock.describe()

    @router.put("/clock")
    def put_clock(change: ClockChange) -> dict[str, Any]:
        if change.now is not None:
            try:
                state.clock.set(parse_datetime(change.now))
            except (DateParseError, ValueError, OverflowError) as exc:
                raise HTTPException(400, f"now: {exc}") from None
        if change.advance_seconds is not None:
            try:
                state.clock.advance(change.advance_seconds)
            except (ValueError, OverflowError) as exc:
                raise HTTPException(400, f"advance_seconds: {exc}") from None
        if change.frozen is not None:
            state.clock.freeze(change.frozen)
        return state.clock.describe()

    @router.get("/faults")
    def get_faults() -> list[dict[str, Any]]:
        return state.faults.describe()

    @router.post("/faults")
    def add_fault(request: FaultRequest) -> list[dict[str, Any]]:
        options = request.model_dump(exclude={"seed"})
        try:
            state.faults.add(FaultRule(**options), seed=request.seed)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return state.faults.describe()

    @router.delete("/faults")
    def clear_faults() -> dict[str, str]:
        state.faults.clear()
        return {"status": "cleared"}

    @router.get("/violations")
    def violations() -> list[dict[str, Any]]:
        """Responses that broke Xero's OpenAPI spec (only recorded with ``--validate``)."""
        return list(state.violations)

    @router.get("/requests")
    def requests(
        since: int = 0, path: str | None = None, method: str | None = None
    ) -> list[dict[str, Any]]:
        return state.requests.query(since, path, method)

    @router.delete("/requests")
    def clear_requests() -> dict[str, str]:
        state.requests.clear()
        return {"status": "cleared"}

    @router.get("/state/{tenant_id}/{resource}")
    def records(tenant_id: str, resource: str) -> dict[str, Any]:
        """Raw records of one resource, bypassing auth and limits (for assertions)."""
        from xero_sandbox.accounting.registry import rules_for

        org = state.org(tenant_id)
        rules = rules_for(resource)
        if org is None or rules is None:
            raise HTTPException(404, "unknown organisation or resource")
        rows = [rules.render(org, r) for r in rules.stored(org)]
        return {"count": len(rows), rules.name: rows}

    @router.get("/history/{tenant_id}")
    def history(tenant_id: str) -> dict[str, Any]:
        """Every record's History notes in one organisation, by record ID, bypassing auth
        and limits (a soak checks thousands of records for exactly-once notes)."""
        org = state.org(tenant_id)
        if org is None:
            raise HTTPException(404, "unknown organisation")
        with org.lock:
            return {"history": {key: list(entries) for key, entries in org.history.items()}}

    return router
