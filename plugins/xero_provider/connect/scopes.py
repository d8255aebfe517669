"""Which OAuth scopes to ask Xero for: exactly what the deployment's operators, sensors
and reads need, derived from the resource table.

Apps created on or after 2 March 2026 may only ask for granular scopes (Xero answers
``unauthorized_client`` / ``invalid_scope`` to a broad one); older apps hold broad scopes
until 13 September 2027 (developer.xero.com/faq/granular-scopes and the scopes page, as
summarised in API_NOTES section 2 "Scope timeline"). Writes need the full scope, reads
the ``.read`` variant; a resource the app's tier does not serve (Journals below Advanced)
is not asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xero_provider.resources import RESOURCES, Resource
from xero_provider.tiers import Tier, at_least

IDENTITY_SCOPES = ("openid", "profile", "email", "offline_access")
# The warehouse's quality check compares with Xero's TrialBalance report: (granular, broad)
# per API_NOTES section 2 (per-report granular scopes replace accounting.reports.read).
TRIAL_BALANCE_SCOPES = ("accounting.reports.trialbalance.read", "accounting.reports.read")


@dataclass(frozen=True)
class ScopeChoice:
    """The scopes chosen and why, for the connect page and the CLI to say."""

    scopes: tuple[str, ...]
    granular: bool
    left_out: tuple[str, ...] = ()  # resources the tier does not serve

    @property
    def text(self) -> str:
        return " ".join(self.scopes)

    def describe(self) -> str:
        kind = (
            "granular scopes (apps created since 2 March 2026)"
            if self.granular
            else "broad scopes (an app created before 2 March 2026; they stop working on "
            "13 September 2027)"
        )
        left = f"; left out for the app's tier: {', '.join(self.left_out)}" if self.left_out else ""
        return f"asking Xero for {kind}: {self.text}{left}"


def choose_scopes(
    writes: Iterable[Resource],
    reads: Iterable[Resource],
    *,
    granular: bool = True,
    tier: Tier | None = None,
) -> ScopeChoice:
    """The fewest scopes that cover ``writes`` (full scope) and ``reads`` (``.read``)."""
    wanted: dict[str, None] = dict.fromkeys(IDENTITY_SCOPES)
    left_out: dict[str, None] = {}
    writes = list(writes)
    full = {r.scope(write=True, granular=granular) for r in writes}
    for resource, write in [*((r, True) for r in writes), *((r, False) for r in reads)]:
        if resource.min_tier and tier is not None and not at_least(tier, resource.min_tier):
            left_out[resource.name] = None
            continue
        scope = resource.scope(write=write, granular=granular)
        if scope.endswith(".read") and scope[: -len(".read")] in full:
            continue  # the full scope already covers the read
        wanted[scope] = None
    return ScopeChoice(tuple(wanted), granular, tuple(left_out))


def operator_resources() -> tuple[list[Resource], list[Resource]]:
    """(written, read) resources of the provider's operators and sensors."""
    from xero_provider import operators, sensors
    from xero_provider.operators.generic import XeroFindOperator, XeroGetOperator

    writes, reads = [], []
    for name in operators.__all__:
        cls = getattr(operators, name)
        resource = getattr(cls, "resource_name", None)
        if resource:
            reading = issubclass(cls, (XeroGetOperator, XeroFindOperator))
            (reads if reading else writes).append(RESOURCES[resource.lower()])
    for name in sensors.__all__:
        resource = getattr(getattr(sensors, name), "resource_name", None)
        if resource:
            reads.append(RESOURCES[resource.lower()])
    return writes, reads


def deployment_scopes(
    *, granular: bool = True, tier: Tier | None = None, read_everything: bool = True
) -> ScopeChoice:
    """What this deployment needs: its operators' writes, its sensors' reads, and (with
    ``read_everything``, for the warehouse sync) a read of every resource in the table and
    the trial balance report its quality check compares with."""
    writes, reads = operator_resources()
    if read_everything:
        reads = [*reads, *RESOURCES.values()]
    choice = choose_scopes(writes, reads, granular=granular, tier=tier)
    if not read_everything:
        return choice
    report = TRIAL_BALANCE_SCOPES[0 if granular else 1]
    return ScopeChoice((*choice.scopes, report), choice.granular, choice.left_out)
