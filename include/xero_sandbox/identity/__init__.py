"""Xero's identity service for the sandbox: OAuth 2 apps, consent, tokens, connections.

The package exports the backend only; the HTTP routes live in :mod:`.routes` and are
imported by the app, so the state model never pulls in the web framework.
"""

from xero_sandbox.identity.scopes import missing_scope_message, scope_allows
from xero_sandbox.identity.service import AccessGrant, App, IdentityService

__all__ = [
    "AccessGrant",
    "App",
    "IdentityService",
    "missing_scope_message",
    "scope_allows",
]
