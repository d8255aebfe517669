"""Xero's app tiers since 2 March 2026: what each allows an app.

Sources: developer.xero.com/pricing and its FAQ "Pricing and Policy Updates" (five tiers
priced on connections and egress: Starter 5 connections, Core 50, Plus 1,000, Advanced
10,000, Enterprise by agreement; included egress Core 10 GB, Plus 50 GB, Advanced 250 GB
a month); the limits page (1,000 calls a day per organisation for Starter, 5,000 for
higher tiers; API_NOTES section 3); the Journals endpoint and bulk connections only on
Advanced and above (developers.apideck.com/apis/accounting/xero/configuration, chift.eu's
March 2026 guide; API_NOTES scope table). Xero's connection-limit message is the one its
consent page shows ("... has reached their Xero connection limit, please let them know so
they can connect more Xero organisations.", quoted in PipedreamHQ/pipedream issues 12215
and 21951, which also name the page authorize.xero.com/connectionLimit).
"""

from __future__ import annotations

from dataclasses import dataclass

ORDER = ("starter", "core", "plus", "advanced", "enterprise")
DEFAULT_TIER = "advanced"  # an app registered without one: everything is served


@dataclass(frozen=True)
class Tier:
    name: str
    connections: int | None  # None: by agreement (Enterprise)
    calls_per_day: int  # per organisation
    egress_included_gb: int | None  # None: not published here
    gated_endpoints: bool  # Journals (and Practice Manager)
    bulk_connections: bool


TIERS: dict[str, Tier] = {
    "starter": Tier("starter", 5, 1000, None, False, False),
    "core": Tier("core", 50, 5000, 10, False, False),
    "plus": Tier("plus", 1000, 5000, 50, False, False),
    "advanced": Tier("advanced", 10_000, 5000, 250, True, True),
    "enterprise": Tier("enterprise", None, 5000, None, True, True),
}

# Resource path (lower case) -> the lowest tier that may read it.
GATED_RESOURCES = {"journals": "advanced"}


def tier(name: str | None) -> Tier:
    """The tier called ``name`` (any case); ``ValueError`` naming the choices otherwise."""
    key = (name or DEFAULT_TIER).strip().lower()
    if key not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(ORDER)}, not {name!r}")
    return TIERS[key]


def allows(app_tier: str | None, resource: str) -> bool:
    """May an app on ``app_tier`` call ``resource`` (a path segment)?"""
    needed = GATED_RESOURCES.get(resource.lower())
    return needed is None or ORDER.index(tier(app_tier).name) >= ORDER.index(needed)


def connection_limit_message(app_name: str) -> str:
    return (
        f"Sorry! {app_name} has reached their Xero connection limit, please let them know "
        "so they can connect more Xero organisations."
    )
