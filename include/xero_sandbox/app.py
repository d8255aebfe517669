"""Assemble the sandbox: one origin serving Xero's identity and accounting paths,
plus the control API under ``/__sandbox/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from xero_sandbox.accounting_api import build_accounting_router
from xero_sandbox.control import build_control_router
from xero_sandbox.identity.routes import build_identity_router
from xero_sandbox.middleware import SandboxMiddleware
from xero_sandbox.state import SandboxState


def create_app(state: SandboxState | None = None) -> Any:
    """The ASGI app for ``state`` (a fresh, empty sandbox when omitted)."""
    state = state or SandboxState()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.webhooks.stop()
        for hook in state.shutdown_hooks:  # before uvicorn re-raises SIGTERM and exits
            hook()

    api = FastAPI(
        lifespan=lifespan,
        title="Xero sandbox",
        description="A local emulator of Xero's identity and Accounting APIs.",
        docs_url="/__sandbox/docs",
        openapi_url="/__sandbox/openapi.json",
        redoc_url=None,
    )
    api.state.sandbox = state
    api.include_router(build_identity_router(state))
    api.include_router(build_accounting_router(state))
    api.include_router(build_control_router(state), prefix="/__sandbox")

    @api.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("The resource you're looking for cannot be found", 404)

    app = SandboxMiddleware(api, state)
    app.state = state  # type: ignore[attr-defined]
    return app
