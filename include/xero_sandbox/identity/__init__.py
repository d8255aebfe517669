"""Xero's identity service for the sandbox: OAuth 2 apps, consent, tokens, connections."""

from xero_sandbox.identity.routes import build_identity_router
from xero_sandbox.identity.scopes import missing_scope_message, scope_allows
from xero_sandbox.identity.service import AccessGrant, App, IdentityService

__all__ = [
    "AccessGrant",
    "App",
    "IdentityService",
    "build_identity_router",
    "missing_scope_message",
    "scope_allows",
]
