"""Xero's OAuth scope vocabulary, and the one check every API call makes against it.

Xero has two generations of accounting scopes: the broad ones (``accounting.transactions``,
``accounting.reports.read``) that apps created on or after 2026-03-02 may no longer ask
for, and the granular ones that replace them (``accounting.invoices``, ``accounting.payments``,
...). A token may carry either kind, so a resource is readable with the broad family *or*
its granular scope, each as the full scope or its ``.read`` variant; writes need a full scope.
"""

from __future__ import annotations

from collections.abc import Iterable

IDENTITY_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})

# Not tied to an organisation: the app manages its connections with a client_credentials token.
NON_TENANTED_SCOPES = frozenset({"app.connections"})

# The broad scopes apps created on/after 2026-03-02 are refused (unauthorized_client).
DEPRECATED_BROAD_SCOPES = frozenset(
    {"accounting.transactions", "accounting.transactions.read", "accounting.reports.read"}
)

# Scopes that still exist for every app, each with a ``.read`` variant.
_READ_WRITE = (
    "accounting.contacts",
    "accounting.settings",
    "accounting.attachments",
    # granular (2026-03-02)
    "accounting.invoices",
    "accounting.payments",
    "accounting.banktransactions",
    "accounting.manualjournals",
    "accounting.classicexpenses",
)
_READ_ONLY = (
    "accounting.journals.read",
    "accounting.budgets.read",
    "accounting.reports.tenninetynine.read",
    "accounting.reports.aged.read",
    "accounting.reports.balancesheet.read",
    "accounting.reports.banksummary.read",
    "accounting.reports.budgetsummary.read",
    "accounting.reports.executivesummary.read",
    "accounting.reports.profitandloss.read",
    "accounting.reports.trialbalance.read",
    "accounting.reports.taxreports.read",
)

TENANTED_SCOPES = frozenset(
    {*_READ_WRITE, *(f"{s}.read" for s in _READ_WRITE), *_READ_ONLY, "paymentservices"}
    | DEPRECATED_BROAD_SCOPES
)
ALL_SCOPES = IDENTITY_SCOPES | NON_TENANTED_SCOPES | TENANTED_SCOPES

# What a custom connection gets when its client_credentials request names no scope: every
# accounting scope the app may hold (Xero uses the scopes chosen when the connection was made).
_CUSTOM_BASE = ("accounting.contacts", "accounting.settings", "accounting.attachments")
_GRANULAR_FULL = (
    "accounting.invoices",
    "accounting.payments",
    "accounting.banktransactions",
    "accounting.manualjournals",
)
_GRANULAR_REPORTS = tuple(
    s for s in _READ_ONLY if s.startswith("accounting.reports.") and "tenninetynine" not in s
)


def default_accounting_scopes(granular_only: bool) -> list[str]:
    """The accounting scopes a test token or custom connection gets when none are named.

    Apps older than 2026-03-02 hold both generations (Xero added granular scopes to them).
    """
    scopes = [*_CUSTOM_BASE, *_GRANULAR_FULL, *_GRANULAR_REPORTS]
    if not granular_only:
        scopes += ["accounting.transactions", "accounting.reports.read", "accounting.journals.read"]
    return scopes


def parse_scope(text: str | None) -> list[str]:
    """Split a space-separated scope parameter, keeping the order and dropping repeats."""
    seen: dict[str, None] = {}
    for part in (text or "").split():
        seen.setdefault(part, None)
    return list(seen)


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    """Scopes Xero does not know (scope names are case-sensitive)."""
    return [s for s in scopes if s not in ALL_SCOPES]


def broad_scopes(scopes: Iterable[str]) -> list[str]:
    """The deprecated broad scopes among ``scopes``."""
    return [s for s in scopes if s in DEPRECATED_BROAD_SCOPES]


def needs_tenant(scopes: Iterable[str]) -> bool:
    """Whether consent must pick organisations (identity-only grants connect none)."""
    return any(s in TENANTED_SCOPES for s in scopes)


def _family_scope(family: str) -> str:
    return family if family.startswith("accounting.") else f"accounting.{family}"


def accepted_scopes(family: str, granular: str | None, write: bool) -> list[str]:
    """Every scope that satisfies the check, granular first (the ones new apps should ask for)."""
    names = [n for n in (granular, _family_scope(family)) if n]
    names = list(dict.fromkeys(names))
    if write:
        return names
    return [v for n in names for v in (f"{n}.read", n)]


def scope_allows(granted: frozenset[str], family: str, granular: str | None, write: bool) -> bool:
    """Whether ``granted`` lets the caller read (or, with ``write``, change) a resource.

    :param family: broad family, ``contacts`` / ``transactions`` / ``settings``.
    :param granular: the resource's granular scope (``accounting.invoices``), or None.
    """
    return any(s in granted for s in accepted_scopes(family, granular, write))


def missing_scope_message(family: str, granular: str | None, write: bool) -> str:
    """The 403 Detail for a token that lacks the scope: Xero's word, then what would do."""
    needed = " or ".join(accepted_scopes(family, granular, write))
    return f"AuthorizationUnsuccessful: the access token needs the scope {needed}"
