"""One daily call plan per organisation: how often each watched feed may be read.

Xero gives an app 5,000 calls a day per organisation (1,000 on the Starter tier;
API_NOTES.md "Rate limits"); when they are gone every call fails until the day window
ends, writes included. So polls do not pick their own pace: every watcher of an
organisation (triggers in any triggerer, poke-mode sensors on workers) registers its feed
here and asks the plan for its interval. The plan keeps a *reserve* of the day (writes,
syncs, retries) and spreads the rest over the registered feeds:

    interval = day_seconds x polled_feeds / (limit x (1 - reserve)), never below a floor

Feeds Xero's webhooks cover (contacts and invoices: developer.xero.com/documentation/
webhooks/overview, "It's limited to contact and invoice events") are driven by webhook
deliveries while webhooks are healthy (a verified delivery or intent-to-receive seen
recently): a delivery marks the feed changed here, waiting watchers see the mark within
seconds (a read of this table, no Xero call) and read Xero once, and polling drops to a
slow safety net. When the day runs short (used calls + reserve close to the limit), the
intervals stretch to fit what is left before the day window resets, so polls slow down
long before the budget would refuse a write.

Besides the plan, the table holds what makes one read serve every watcher of a feed
across processes: the newest range a read found *empty* (no record changed in it, the
settled part of the feed, which cannot gain records later), so a watcher in another
process whose range lies inside it does not call Xero. Bills and sales invoices are one
source, ``Invoices``: one read serves both (:func:`source_of`).

Everything here is in the token store's database (shared by every process that shares a
connection) and needs no call to Xero.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from xero_provider.state.token_store import TokenStore

DAY_SECONDS = 86400.0
DEFAULT_RESERVE = 0.4  # of the day, for writes, syncs and retries
DEFAULT_FLOOR_SECONDS = 30.0  # no feed is polled more often than this
DEFAULT_SAFETY_NET_SECONDS = 900.0  # webhook-driven feeds: one poll in 15 minutes
DEFAULT_WEBHOOK_FRESH_SECONDS = 6 * 3600.0  # a delivery this recent: webhooks are healthy
FEED_TTL_FACTOR = 3.0  # a feed not heard from for 3 of its intervals is no longer watched
MIN_FEED_TTL_SECONDS = 120.0
# Polls stretch once the planned ones would eat more than this share of the polling
# calls into the reserve (a few writes early in the day do not slow every feed).
STRETCH_SLACK = 0.05
# Xero's webhook categories (overview page above); a sales invoice or a bill is an invoice.
WEBHOOK_SOURCES = frozenset({"Contacts", "Invoices"})
# Typed views read from one source: the type is selected on the client.
SOURCES = {"Bills": "Invoices", "SalesInvoices": "Invoices"}

metadata = sa.MetaData()
plan_table = sa.Table(
    "xero_call_plan",
    metadata,
    # "<org>|<source>" for a feed, "<org>|" for the organisation's webhook health,
    # "*|" for the app-level intent-to-receive
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("org", sa.String(300), nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("seen_at", sa.Float, nullable=True),  # a watcher last asked for its interval
    sa.Column("interval", sa.Float, nullable=True),  # the interval it was given
    sa.Column("changed_at", sa.Float, nullable=True),  # a webhook said it changed
    sa.Column("read_at", sa.Float, nullable=True),  # last read from Xero
    sa.Column("empty_lower", sa.BigInteger, nullable=True),  # (lower, upper] read empty (ms)
    sa.Column("empty_upper", sa.BigInteger, nullable=True),
    sa.Column("empty_feed", sa.String(64), nullable=True),  # the feed (filters) read empty
    sa.Column("webhook_at", sa.Float, nullable=True),  # a verified delivery arrived
)


def _upsert(store: TokenStore, conn: Any, org: str, source: str, **values: Any) -> None:
    """Insert the row if absent (concurrent writers agree), then set ``values``."""
    key = f"{org}|{source}"
    insert = store.insert(plan_table).on_conflict_do_nothing(index_elements=["key"])
    conn.execute(insert, [{"key": key, "org": org, "source": source}])
    conn.execute(sa.update(plan_table).where(plan_table.c.key == key).values(**values))


def source_of(resource: str) -> str:
    """The resource a feed is read from: bills and sales invoices from ``Invoices``."""
    return SOURCES.get(resource, resource)


def webhook_org(tenant_id: str | None) -> str:
    """Webhook deliveries name the organisation by tenant id only (no app): lower case."""
    return (tenant_id or "").lower()


@dataclass(frozen=True)
class PlanSettings:
    """What a plan is made of; every figure comes from the connection (see the README).

    :param per_day: the day's limit (the connection's ``rate_limit_per_day``: 5,000, or
        1,000 for ``app_tier`` starter).
    :param reserve: the share of the day kept for writes, syncs and retries.
    :param floor_seconds: the shortest interval any feed gets.
    :param safety_net_seconds: the interval of webhook-driven feeds while webhooks are healthy.
    :param webhook_fresh_seconds: how recent a delivery must be for webhooks to count as healthy.
    :param day_seconds: the day's length (shorter when the sandbox's clock is time-scaled).
    """

    per_day: int = 5000
    reserve: float = DEFAULT_RESERVE
    floor_seconds: float = DEFAULT_FLOOR_SECONDS
    safety_net_seconds: float = DEFAULT_SAFETY_NET_SECONDS
    webhook_fresh_seconds: float = DEFAULT_WEBHOOK_FRESH_SECONDS
    day_seconds: float = DAY_SECONDS

    def __post_init__(self) -> None:
        if not isinstance(self.per_day, int) or self.per_day < 1:
            raise ValueError(f"plan: per_day must be a whole number of calls, got {self.per_day!r}")
        if not 0 <= self.reserve < 1:
            raise ValueError(
                f"plan: reserve must be a share from 0 to below 1, got {self.reserve!r}"
            )
        for name in ("floor_seconds", "safety_net_seconds", "webhook_fresh_seconds", "day_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"plan: {name} must be more than 0, got {value!r}")

    @property
    def reserve_calls(self) -> int:
        return round(self.per_day * self.reserve)

    @property
    def polling_calls(self) -> int:
        return self.per_day - self.reserve_calls

    @classmethod
    def from_config(cls, config: Any) -> PlanSettings:
        """The plan a parsed ``xero`` connection asks for (time-scaled with its windows)."""
        scale = float(getattr(config, "rate_window_seconds", 60.0)) / 60.0
        return cls(
            per_day=int(config.rate_limit_per_day),
            reserve=float(getattr(config, "plan_reserve", DEFAULT_RESERVE)),
            floor_seconds=float(getattr(config, "plan_floor_seconds", DEFAULT_FLOOR_SECONDS))
            * scale,
            safety_net_seconds=float(
                getattr(config, "plan_safety_net_seconds", DEFAULT_SAFETY_NET_SECONDS)
            )
            * scale,
            webhook_fresh_seconds=DEFAULT_WEBHOOK_FRESH_SECONDS * scale,
            day_seconds=DAY_SECONDS * scale,
        )


@dataclass(frozen=True)
class FeedPlan:
    """One feed's part of the plan."""

    source: str
    interval: float  # seconds between polls
    driven_by: str  # "webhook" or "poll"
    stretched: bool  # slowed because the day runs short
    reason: str  # one sentence for the log and the page

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "interval_seconds": round(self.interval, 1),
            "driven_by": self.driven_by,
            "stretched": self.stretched,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DayLimit:
    """The day's limit a plan is made of, and where it came from.

    Xero says what is left of its day in ``X-DayLimit-Remaining`` (API_NOTES.md "Rate
    limits"); the shared rate budget learns Xero's limit from it (the calls counted before
    Xero's first figure of the day plus what it says is left, ``rate_budget`` module
    docstring). When that is smaller than the connection's (a Starter app or organisation
    whose connection does not say so), the plan is made of Xero's figure: planned on the
    larger one, what is left lies inside the reserve and polls wait for the next day. One
    function makes it for the triggers, the ``plan`` CLI and the connect page alike, so
    they show the limit the polls follow.

    :param per_day: the limit the plan works on.
    :param configured: the connection's (``rate_limit_per_day``, by default its
        ``app_tier``'s or 5,000).
    :param learned: Xero's own limit when smaller than ``configured``, else None.
    :param calls_left: calls left today (the smaller of the budget's and Xero's figure;
        None: not known).
    """

    per_day: int
    configured: int
    learned: int | None = None
    calls_left: int | None = None

    @property
    def source(self) -> str:
        return "learned from Xero" if self.learned is not None else "configured"


def day_limit_of(configured: int, left: Any | None) -> DayLimit:
    """The plan's day limit from the connection's and what the shared budget knows
    (``left``: a :class:`~xero_provider.state.rate_budget.Remaining`, None: nothing)."""
    if left is None:
        return DayLimit(configured, configured)
    calls = left.day
    if left.day_reported_by_xero is not None:
        calls = min(calls, left.day_reported_by_xero)
    learned = left.day_limit_learned
    if learned is None or not 0 < learned < configured:
        return DayLimit(configured, configured, None, calls)
    return DayLimit(learned, configured, learned, calls)


def _made_of(settings: PlanSettings, day_limit: int | None) -> PlanSettings:
    """``settings`` on Xero's smaller day limit, when there is one."""
    if day_limit is not None and 0 < day_limit < settings.per_day:
        return replace(settings, per_day=int(day_limit))
    return settings


def plan_intervals(
    settings: PlanSettings,
    sources: list[str],
    webhooks_healthy: bool,
    calls_left: int | None = None,
    day_left_seconds: float | None = None,
    day_limit: int | None = None,
) -> dict[str, FeedPlan]:
    """The interval of every source (pure arithmetic: the module docstring's formula).

    :param calls_left: calls left in today's window (None: the whole day).
    :param day_left_seconds: seconds until the day window resets (None: a whole day).
    :param day_limit: Xero's own day limit when smaller than the connection's (the calls
        used plus its ``X-DayLimit-Remaining``: a Starter app or organisation whose
        connection does not say so); the plan and its reserve are then made of it.
    """
    sources = sorted(set(sources))
    if not sources:
        return {}
    s = _made_of(settings, day_limit)
    driven = {src for src in sources if webhooks_healthy and src in WEBHOOK_SOURCES}
    polled = [src for src in sources if src not in driven]
    # calls a day the safety net of webhook-driven feeds costs, taken from the polling share
    net_calls = len(driven) * s.day_seconds / s.safety_net_seconds
    room = max(1.0, s.polling_calls - net_calls)
    base = max(s.floor_seconds, s.day_seconds * len(polled) / room) if polled else 0.0
    # What is left today: polls may use what is above the reserve, spread to the reset.
    stretch = 1.0
    wait_reset: float | None = None
    why = ""
    if calls_left is not None:
        left_seconds = s.day_seconds
        if day_left_seconds is not None:  # the budget's window has a small margin
            left_seconds = min(s.day_seconds, max(1.0, day_left_seconds))
        above_reserve = calls_left - s.reserve_calls
        planned = (len(polled) / base if polled else 0.0) * left_seconds + len(driven) * (
            left_seconds / s.safety_net_seconds
        )
        if above_reserve <= 0:
            wait_reset = left_seconds
            why = (
                f"the day is short: {calls_left} calls left, within the reserve of "
                f"{s.reserve_calls}; polls wait for the day window to reset in {left_seconds:.0f} s"
            )
        elif planned > above_reserve + STRETCH_SLACK * s.polling_calls:
            stretch = planned / above_reserve
            why = (
                f"the day runs short: {calls_left} calls left ({s.reserve_calls} reserved), "
                f"{planned:.0f} planned polls before the reset; intervals x{stretch:.2f}"
            )
    out = {}
    for src in sources:
        if src in driven:
            interval, by = s.safety_net_seconds, "webhook"
            reason = f"webhooks drive {src}; polling every {interval:.0f} s is a safety net"
        else:
            interval, by = base, "poll"
            reason = (
                f"{len(polled)} polled feed(s) share {room:.0f} calls a day: "
                f"one poll each {interval:.0f} s"
            )
        if wait_reset is not None and wait_reset > interval:
            interval, reason = wait_reset, why
        elif stretch > 1.0:
            interval, reason = interval * stretch, why
        out[src] = FeedPlan(src, interval, by, bool(why), reason)
    return out


class CallPlan:
    """The plan of one organisation, kept in the provider's store.

    :param store: the token store whose database holds the plan.
    :param org: the organisation's key for the budget (tenant id, or ``app:<client>``).
    :param settings: the connection's plan settings.
    :param tenant_id: the organisation's tenant id (webhook deliveries name only that).
    """

    def __init__(
        self, store: TokenStore, org: str, settings: PlanSettings, tenant_id: str | None = None
    ) -> None:
        self.store = store
        self.org = org
        self.settings = settings
        self.hook_org = webhook_org(tenant_id if tenant_id is not None else org)
        store.ensure_tables(metadata)

    # --- rows ----------------------------------------------------------------------------

    def _rows(self, conn: Any, org: str) -> dict[str, Any]:
        query = sa.select(plan_table).where(plan_table.c.org == org)
        return {row.source: row for row in conn.execute(query)}

    # --- watchers ------------------------------------------------------------------------

    def watch(
        self,
        resource: str,
        calls_left: int | None = None,
        day_left_seconds: float | None = None,
        now: float | None = None,
        day_limit: int | None = None,
    ) -> FeedPlan:
        """Register (or refresh) a watcher of ``resource``; return its source's plan."""
        now = time.time() if now is None else now
        source = source_of(resource)
        plans = self.current(calls_left, day_left_seconds, now, also=source, day_limit=day_limit)
        plan = plans[source]
        with self.store.transaction(write=True) as conn:
            _upsert(self.store, conn, self.org, source, seen_at=now, interval=plan.interval)
        return plan

    def current(
        self,
        calls_left: int | None = None,
        day_left_seconds: float | None = None,
        now: float | None = None,
        also: str | None = None,
        day_limit: int | None = None,
    ) -> dict[str, FeedPlan]:
        """Every watched source's plan now (``also``: a source about to be watched;
        ``day_limit``: see :func:`plan_intervals`)."""
        now = time.time() if now is None else now
        with self.store.transaction(write=False) as conn:
            rows = self._rows(conn, self.org)
            healthy = self._webhooks_healthy(conn, now)
        sources = [
            src
            for src, row in rows.items()
            if src and row.seen_at is not None and now - row.seen_at < self._ttl(row.interval)
        ]
        if also:
            sources.append(also)
        return plan_intervals(
            self.settings, sources, healthy, calls_left, day_left_seconds, day_limit
        )

    def _ttl(self, interval: float | None) -> float:
        return max(MIN_FEED_TTL_SECONDS * self.settings.day_seconds / DAY_SECONDS, 0.0) + (
            FEED_TTL_FACTOR * (interval or self.settings.floor_seconds)
        )

    # --- webhooks ------------------------------------------------------------------------

    def _webhooks_healthy(self, conn: Any, now: float) -> bool:
        keys = [f"{self.hook_org}|", "*|"]
        query = sa.select(plan_table.c.webhook_at).where(plan_table.c.key.in_(keys))
        fresh = self.settings.webhook_fresh_seconds
        return any(at is not None and now - at < fresh for (at,) in conn.execute(query))

    def webhooks_healthy(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self.store.transaction(write=False) as conn:
            return self._webhooks_healthy(conn, now)

    def changed_since(self, resource: str, since: float) -> float | None:
        """When a webhook last marked ``resource``'s source changed, if after ``since``."""
        key = f"{self.hook_org}|{source_of(resource)}"
        with self.store.transaction(write=False) as conn:
            at = conn.execute(
                sa.select(plan_table.c.changed_at).where(plan_table.c.key == key)
            ).scalar()
        return at if at is not None and at > since else None

    # --- one read across processes -------------------------------------------------------

    def note_read(
        self, resource: str, feed_key: str, lower_ms: int, upper_ms: int, empty: bool
    ) -> None:
        """A read of ``(lower, upper]`` of the feed ``feed_key`` happened; remember the
        range when it found nothing (a settled range cannot gain records later)."""
        values: dict[str, Any] = {"read_at": time.time()}
        if empty:
            values.update(empty_lower=lower_ms, empty_upper=upper_ms, empty_feed=feed_key)
        with self.store.transaction(write=True) as conn:
            _upsert(self.store, conn, self.org, source_of(resource), **values)

    def known_empty(self, resource: str, feed_key: str, lower_ms: int, upper_ms: int) -> bool:
        """Another reader found ``(lower, upper]`` (or more) of this feed empty."""
        key = f"{self.org}|{source_of(resource)}"
        table = plan_table.c
        with self.store.transaction(write=False) as conn:
            row = conn.execute(
                sa.select(table.empty_lower, table.empty_upper, table.empty_feed).where(
                    table.key == key
                )
            ).first()
        if row is None or row.empty_lower is None or row.empty_feed != feed_key:
            return False
        return row.empty_lower <= lower_ms and upper_ms <= row.empty_upper

    # --- visibility ----------------------------------------------------------------------

    def describe(
        self,
        calls_left: int | None,
        day_left_seconds: float | None,
        now: float | None = None,
        day_limit: int | None = None,
    ) -> dict[str, Any]:
        """What the CLI and the connect page show for this organisation: the plan the
        triggers follow, so on Xero's smaller ``day_limit`` when there is one."""
        now = time.time() if now is None else now
        plans = self.current(calls_left, day_left_seconds, now, day_limit=day_limit)
        with self.store.transaction(write=False) as conn:
            rows = self._rows(conn, self.org)
            healthy = self._webhooks_healthy(conn, now)
        s = _made_of(self.settings, day_limit)
        feeds = []
        for src, plan in sorted(plans.items()):
            row = rows.get(src)
            item = plan.as_dict()
            item["last_read_seconds_ago"] = (
                round(now - row.read_at, 1) if row is not None and row.read_at else None
            )
            feeds.append(item)
        used = None if calls_left is None else s.per_day - calls_left
        return {
            "organisation": self.org,
            "limit_per_day": s.per_day,
            "reserve_calls": s.reserve_calls,
            "reserve_share": s.reserve,
            "calls_used_today": used,
            "calls_left_today": calls_left,
            "day_resets_in_seconds": None if day_left_seconds is None else round(day_left_seconds),
            "webhooks_healthy": healthy,
            "feeds": feeds,
            "short": any(p.stretched for p in plans.values()),
        }


def plan_for(config: Any, tenant_id: str | None) -> CallPlan | None:
    """The plan of the organisation a parsed ``xero`` connection works on, or None when
    the connection turned it off (``call_plan: off``). Blocking: the store's tables."""
    from xero_provider.formats import tenant_key

    if not config.call_plan:
        return None
    store = TokenStore.for_config(config)
    org = tenant_key(tenant_id, config.client_id)
    return CallPlan(store, org, PlanSettings.from_config(config), tenant_id)


def mark_webhook(
    store: TokenStore, tenant_id: str | None, resources: list[str], now: float | None = None
) -> None:
    """A verified delivery: the organisation's webhooks are healthy and these changed.

    ``tenant_id`` None is the app-level intent-to-receive (no organisation named).
    """
    now = time.time() if now is None else now
    store.ensure_tables(metadata)
    org = webhook_org(tenant_id) if tenant_id else "*"
    with store.transaction(write=True) as conn:
        _upsert(store, conn, org, "", webhook_at=now)
        for source in sorted({source_of(r) for r in resources}):
            _upsert(store, conn, org, source, changed_at=now)
