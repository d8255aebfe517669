"""Xero's app tiers since 2 March 2026, as far as the provider acts on them.

Sources: developer.xero.com/pricing and its FAQ "Pricing and Policy Updates" (Starter 5
connections, Core 50, Plus 1,000, Advanced 10,000, Enterprise by agreement; included
egress a month Core 10 GB, Plus 50 GB, Advanced 250 GB); Xero's limits page (1,000 calls a
day per organisation on Starter, 5,000 on the others; API_NOTES section 3); the Journals
endpoint only on Advanced and above (developers.apideck.com/apis/accounting/xero/
configuration; API_NOTES scope table). Which resources a tier gates is the resource
table's ``min_tier``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ORDER = ("starter", "core", "plus", "advanced", "enterprise")


@dataclass(frozen=True)
class Tier:
    name: str
    connections: int | None  # organisations an app may connect (None: by agreement)
    calls_per_day: int  # per organisation
    egress_included_gb: int | None  # a month (None: not published)

    @property
    def title(self) -> str:
        return self.name.title()


TIERS = {
    "starter": Tier("starter", 5, 1000, None),
    "core": Tier("core", 50, 5000, 10),
    "plus": Tier("plus", 1000, 5000, 50),
    "advanced": Tier("advanced", 10_000, 5000, 250),
    "enterprise": Tier("enterprise", None, 5000, None),
}


def parse_tier(value: str | None, where: str) -> Tier | None:
    """The tier named ``value`` (any case), None when unset; ``ValueError`` naming ``where``."""
    if value is None or not str(value).strip():
        return None
    key = str(value).strip().lower()
    if key not in TIERS:
        raise ValueError(f"{where} must be one of {', '.join(ORDER)}, got {value!r}")
    return TIERS[key]


def at_least(tier: Tier, needed: str) -> bool:
    return ORDER.index(tier.name) >= ORDER.index(needed)


def tier_error(resource: Any, app_tier: str | None, conn_id: str, status: int | None = None):
    """The ``XeroTierError`` for reading ``resource`` on an app below its ``min_tier``."""
    from xero_provider.exceptions import XeroTierError

    needed = TIERS[resource.min_tier]
    said = (
        f"connection '{conn_id}' says the app is on {TIERS[app_tier].title}"
        if app_tier
        else f"Xero refused it for connection '{conn_id}' (AuthorizationUnsuccessful)"
    )
    return XeroTierError(
        f"{resource.path} needs a Xero app on the {needed.title} tier or above; {said}. "
        "Move the app to that tier at developer.xero.com, or leave this resource out",
        needed=needed.name,
        app_tier=app_tier,
        status=status,
        resource=resource.name,
        method="GET",
    )
