"""The daily call plan as people read it: the ``plan`` CLI command and the connect page.

One summary per organisation (a connection), from the store every process shares: the
day's limit the triggers plan on and where it came from (the connection, or Xero's
``X-DayLimit-Remaining`` when that shows a smaller one), the reserve, calls used and left
today, and each watched feed's interval and whether a webhook or polling drives it (see
:mod:`xero_provider.state.call_plan`).
No call to Xero is made.
"""

from __future__ import annotations

from typing import Any

from xero_provider.config import XeroConnectionConfig


def summary(config: XeroConnectionConfig) -> dict[str, Any]:
    """The organisation's plan and today's use, as a JSON-able dict: the plan the
    triggers follow, on the same day limit (Xero's when it said a smaller one)."""
    from xero_provider.formats import tenant_key
    from xero_provider.state.call_plan import CallPlan, PlanSettings, day_limit_of
    from xero_provider.state.rate_budget import Limits, budget_for
    from xero_provider.state.token_store import TokenStore

    store = TokenStore.for_config(config)
    org = tenant_key(config.tenant_id, config.client_id)
    left = budget_for(store, config.client_id, Limits.from_config(config)).remaining(org)
    settings = PlanSettings.from_config(config)
    day = day_limit_of(settings.per_day, left)
    plan = CallPlan(store, org, settings, config.tenant_id)
    shown = plan.describe(day.calls_left, left.day_resets_in_seconds or None, day_limit=day.learned)
    shown["conn_id"] = config.conn_id
    shown["enabled"] = config.call_plan
    shown["limit_source"] = day.source
    shown["limit_configured"] = day.configured
    shown["limit_learned_from_xero"] = day.learned
    shown["limit_detail"] = _limit_detail(config, day)
    return shown


def _limit_detail(config: XeroConnectionConfig, day: Any) -> str:
    """Where the day's limit came from, in words."""
    if day.learned is not None:
        return f"learned from Xero's X-DayLimit-Remaining; the connection's is {day.configured}"
    tier = config.app_tier
    if tier is not None and config.rate_limit_per_day == tier.calls_per_day:
        return f"configured: the connection's app_tier ({tier.name})"
    if tier is None and config.rate_limit_per_day == 5000:
        return "configured: rate_limit_per_day's default (the connection sets no app_tier)"
    return "configured: the connection's rate_limit_per_day"


def lines(shown: dict[str, Any]) -> list[str]:
    """The summary as aligned text lines (the CLI prints them; the page shows them)."""
    out = [
        f"organisation:    {shown['organisation']} (connection {shown['conn_id']})",
        f"day's limit:     {shown['limit_per_day']} calls, {shown['limit_detail']}",
        f"reserve:         {shown['reserve_calls']} calls ({shown['reserve_share']:.0%}) for "
        "writes, syncs and retries",
        f"today:           {shown['calls_used_today']} used, {shown['calls_left_today']} left"
        + (
            f"; the day window resets in {shown['day_resets_in_seconds']} s"
            if shown["day_resets_in_seconds"]
            else ""
        ),
        f"webhooks:        {'healthy' if shown['webhooks_healthy'] else 'none seen recently'}",
    ]
    if not shown["enabled"]:
        out.append("plan:            OFF (extra call_plan: off): triggers poll at their own pace")
    if shown["short"]:
        out.append("plan:            THE DAY RUNS SHORT: polling slowed to keep the reserve")
    if not shown["feeds"]:
        out.append("feeds:           none watched now")
    for feed in shown["feeds"]:
        ago = feed["last_read_seconds_ago"]
        out.append(
            f"feed {feed['source']:<11} every {feed['interval_seconds']:>7.0f} s "
            f"({feed['driven_by']}){' STRETCHED' if feed['stretched'] else ''}"
            + (f"; last read {ago:.0f} s ago" if ago is not None else "")
            + f": {feed['reason']}"
        )
    return out
