"""The daily call plan: limits, reserve, feeds, webhooks and stretching, on a real store."""

from __future__ import annotations

import uuid

import pytest

from xero_provider.config import XeroConnectionConfig
from xero_provider.exceptions import XeroConfigurationError
from xero_provider.state.call_plan import (
    CallPlan,
    PlanSettings,
    day_limit_of,
    mark_webhook,
    plan_intervals,
    source_of,
)
from xero_provider.state.rate_budget import Remaining
from xero_provider.state.token_store import TokenStore

STANDARD = PlanSettings(per_day=5000)
STARTER = PlanSettings(per_day=1000)


def _plan(store_url: str, settings: PlanSettings = STANDARD) -> CallPlan:
    tenant = str(uuid.uuid4())
    return CallPlan(TokenStore(store_url), tenant, settings, tenant_id=tenant)


def test_the_polling_share_is_spread_over_the_feeds() -> None:
    # 5,000 a day, 40% kept: 3,000 polls; 3 sources (bills and sales invoices are one)
    plans = plan_intervals(STANDARD, ["Contacts", "Invoices", "CreditNotes"], False)
    assert [p.interval for p in plans.values()] == pytest.approx([86400 * 3 / 3000] * 3)
    starter = plan_intervals(STARTER, ["Contacts", "Invoices", "CreditNotes"], False)
    assert starter["Contacts"].interval == pytest.approx(86400 * 3 / 600)
    # either way the day's polls stay inside the polling share
    for settings, plan in ((STANDARD, plans), (STARTER, starter)):
        polls = sum(settings.day_seconds / p.interval for p in plan.values())
        assert polls <= settings.polling_calls + 1e-6
    assert source_of("Bills") == source_of("SalesInvoices") == "Invoices"


def test_a_floor_keeps_one_feed_from_polling_every_few_seconds() -> None:
    plans = plan_intervals(PlanSettings(per_day=5000, floor_seconds=45), ["Contacts"], False)
    assert plans["Contacts"].interval == 45  # 3,000 polls would allow one each 28.8 s


def test_webhooks_turn_their_feeds_into_a_safety_net_and_free_calls_for_the_rest() -> None:
    sources = ["Contacts", "Invoices", "CreditNotes"]
    plans = plan_intervals(STARTER, sources, webhooks_healthy=True)
    assert plans["Contacts"].driven_by == plans["Invoices"].driven_by == "webhook"
    assert plans["Contacts"].interval == STARTER.safety_net_seconds
    assert plans["CreditNotes"].driven_by == "poll"
    nets = 2 * 86400 / STARTER.safety_net_seconds
    assert plans["CreditNotes"].interval == pytest.approx(86400 / (600 - nets))


def test_polls_stretch_when_the_day_runs_short_and_wait_for_the_reset_inside_the_reserve() -> None:
    sources = ["Contacts", "Invoices"]
    calm = plan_intervals(STARTER, sources, False, calls_left=900, day_left_seconds=43200)
    assert not any(p.stretched for p in calm.values())
    # 500 left at midday: 100 above the 400 reserve, but 300 polls planned till the reset
    short = plan_intervals(STARTER, sources, False, calls_left=500, day_left_seconds=43200)
    assert all(p.stretched for p in short.values())
    polls = sum(43200 / p.interval for p in short.values())
    assert polls == pytest.approx(100)
    assert "runs short" in short["Contacts"].reason
    spent = plan_intervals(STARTER, sources, False, calls_left=400, day_left_seconds=3600)
    assert spent["Contacts"].interval == 3600 and "reserve" in spent["Contacts"].reason


def test_settings_are_checked_and_come_from_the_connection() -> None:
    with pytest.raises(ValueError, match="reserve"):
        PlanSettings(reserve=1.0)
    with pytest.raises(ValueError, match="per_day"):
        PlanSettings(per_day=0)

    class Conn:
        conn_id = "xero_plan"
        login, password, host = "client", "secret", None
        extra_dejson = {"app_tier": "starter", "plan_reserve": "0.25"}

    config = XeroConnectionConfig.from_connection(Conn())
    settings = PlanSettings.from_config(config)
    assert (settings.per_day, settings.reserve, settings.reserve_calls) == (1000, 0.25, 250)
    Conn.extra_dejson = {"plan_reserve": "1.5"}
    with pytest.raises(XeroConfigurationError, match="plan_reserve"):
        XeroConnectionConfig.from_connection(Conn())


class _Conn:
    conn_id = "xero_plan"
    login, password, host = "client", "secret", None

    def __init__(self, **extra: object) -> None:
        self.extra_dejson = extra


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("plan_reserve", "-0.1", "from 0 up to"),
        ("plan_reserve", 1, "from 0 up to"),
        ("plan_reserve", "forty percent", "must be a number"),
        ("plan_reserve", True, "must be a number"),
        ("plan_reserve", "nan", "must be a number"),
        ("plan_floor_seconds", 0, "from 1 to a day"),
        ("plan_floor_seconds", "-30", "from 1 to a day"),
        ("plan_floor_seconds", "0.001", "from 1 to a day"),
        ("plan_floor_seconds", "soon", "must be a number"),
        ("plan_floor_seconds", "1e300", "from 1 to a day"),
        ("plan_floor_seconds", "inf", "must be a number"),
        ("plan_floor_seconds", [30], "must be a number"),
        ("plan_safety_net_seconds", 0, "from 1 to a day"),
        ("plan_safety_net_seconds", -900, "from 1 to a day"),
        ("plan_safety_net_seconds", 10**9, "from 1 to a day"),
        ("call_plan", "of", "on or off"),
        ("call_plan", "disabled", "on or off"),
        ("call_plan", 2, "on or off"),
        ("call_plan", {"on": True}, "on or off"),
        ("rate_limit_per_day", 0, "1 or more"),
        ("rate_limit_per_day", "-5000", "1 or more"),
        ("rate_limit_per_day", "0.5", "1 or more"),
        ("rate_limit_per_day", "1000.5", "whole number"),
        ("rate_limit_per_day", "1e400", "must be a number"),
        ("rate_limit_per_day", "lots", "must be a number"),
    ],
)
def test_hostile_plan_extras_are_refused_naming_the_field(field, value, says) -> None:
    """Each refusal names the field and what was wrong, when the connection is parsed:
    before any hook, trigger or sensor writes anything (the plan's rows included)."""
    with pytest.raises(XeroConfigurationError, match=f"'{field}'.*{says}"):
        XeroConnectionConfig.from_connection(_Conn(**{field: value}))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, (True, 0.4, 30.0, 900.0, 5000)),
        ({"call_plan": "OFF"}, (False, 0.4, 30.0, 900.0, 5000)),
        ({"call_plan": False, "plan_reserve": 0}, (False, 0.0, 30.0, 900.0, 5000)),
        ({"call_plan": "yes", "plan_reserve": "0.99"}, (True, 0.99, 30.0, 900.0, 5000)),
        (
            {"plan_floor_seconds": "86400", "plan_safety_net_seconds": 1},
            (True, 0.4, 86400.0, 1.0, 5000),
        ),
        ({"rate_limit_per_day": "1000.0", "call_plan": ""}, (True, 0.4, 30.0, 900.0, 1000)),
    ],
)
def test_plan_extras_in_range_are_taken(extra, expected) -> None:
    config = XeroConnectionConfig.from_connection(_Conn(**extra))
    got = (
        config.call_plan,
        config.plan_reserve,
        config.plan_floor_seconds,
        config.plan_safety_net_seconds,
        config.rate_limit_per_day,
    )
    assert got == expected
    PlanSettings.from_config(config)  # and the plan accepts them


def test_the_connection_form_states_the_same_ranges() -> None:
    from xero_provider.get_provider_info import CONN_FIELDS

    schema = {name: CONN_FIELDS[name]["schema"] for name in CONN_FIELDS}
    assert (
        schema["plan_reserve"]["minimum"] == 0 and schema["plan_reserve"]["exclusiveMaximum"] == 1
    )
    for name in ("plan_floor_seconds", "plan_safety_net_seconds"):
        assert schema[name]["minimum"] == 1 and schema[name]["maximum"] == 86400
    assert schema["rate_limit_per_day"]["minimum"] == 1


def test_watchers_register_their_feeds_in_the_store_and_expire(store_url: str) -> None:
    plan = _plan(store_url)
    other_process = CallPlan(TokenStore(store_url), plan.org, STANDARD, tenant_id=plan.org)
    first = plan.watch("Contacts", now=1000.0)
    assert first.interval == STANDARD.floor_seconds  # alone: 3,000 polls, floor 30 s
    both = other_process.watch("Bills", now=1001.0)
    assert both.source == "Invoices"
    again = plan.watch("SalesInvoices", now=1002.0)  # same source as bills: still two feeds
    assert again.interval == pytest.approx(86400 * 2 / 3000)
    assert set(plan.current(now=1002.0)) == {"Contacts", "Invoices"}
    assert set(plan.current(now=100_000.0)) == set()  # nobody asked for a day: not watched


def test_a_webhook_marks_the_feed_and_makes_webhooks_healthy(store_url: str) -> None:
    plan = _plan(store_url)
    plan.watch("Contacts", now=1000.0)
    assert not plan.webhooks_healthy(now=1000.0)
    assert plan.changed_since("Contacts", 0) is None
    mark_webhook(TokenStore(store_url), plan.org.upper(), ["Invoices"], now=1005.0)
    assert plan.webhooks_healthy(now=1006.0)
    assert plan.changed_since("Bills", 1000.0) == 1005.0  # bills read from Invoices
    assert plan.changed_since("Bills", 1005.0) is None
    assert plan.watch("Contacts", now=1006.0).driven_by == "webhook"
    assert not plan.webhooks_healthy(now=1005.0 + STANDARD.webhook_fresh_seconds + 1)


def test_an_empty_range_read_by_one_process_spares_the_others(store_url: str) -> None:
    plan = _plan(store_url)
    other = CallPlan(TokenStore(store_url), plan.org, STANDARD)
    plan.note_read("SalesInvoices", "all", 1000, 5000, empty=True)
    assert other.known_empty("Bills", "all", 2000, 5000)
    assert not other.known_empty("Bills", "filtered", 2000, 5000)  # other filters
    assert not other.known_empty("Bills", "all", 500, 5000)
    assert not other.known_empty("Bills", "all", 2000, 6000)
    assert not other.known_empty("Contacts", "all", 2000, 5000)
    plan.note_read("SalesInvoices", "all", 5000, 9000, empty=False)  # found some: kept out
    assert not other.known_empty("Bills", "all", 5000, 9000)


def test_describe_shows_each_feed_the_reserve_and_the_days_use(store_url: str) -> None:
    plan = _plan(store_url, STARTER)
    plan.watch("Contacts")
    plan.watch("CreditNotes")
    shown = plan.describe(calls_left=700, day_left_seconds=40000)
    assert shown["limit_per_day"] == 1000 and shown["calls_used_today"] == 300
    assert shown["reserve_calls"] == 400
    assert [f["source"] for f in shown["feeds"]] == ["Contacts", "CreditNotes"]
    assert {f["driven_by"] for f in shown["feeds"]} == {"poll"}


@pytest.mark.slow
def test_the_cli_prints_the_plan_and_todays_calls(sandbox, monkeypatch, tmp_path) -> None:
    import io

    from tests.provider.connections import xero_connection
    from xero_provider.connect import cli
    from xero_provider.hooks import XeroHook

    store = f"sqlite:///{tmp_path / 'tokens.db'}"
    conn_id = xero_connection(sandbox, monkeypatch, store, call_plan="on", app_tier="starter")
    XeroHook(conn_id).call("GET", "Organisation")
    tenant = sandbox.demo.tenant_id
    CallPlan(TokenStore(store), tenant, STARTER, tenant_id=tenant).watch("Bills")
    out = io.StringIO()
    assert cli.main(["plan", "--conn-id", conn_id], stdout=out) == 0
    text = out.getvalue()
    assert "day's limit:     1000 calls, configured: the connection's app_tier (starter)" in text
    assert "reserve:         400 calls (40%)" in text
    assert "today:           1 used, 999 left" in text
    assert "feed Invoices    every     144 s (poll)" in text
    resets = int(text.split("the day window resets in ")[1].split(" s")[0])
    assert 86000 < resets <= 86400  # was 88949 on a fresh organisation (issue 20)


def test_xero_s_smaller_day_limit_makes_the_plan_when_the_connection_does_not_say_it() -> None:
    """A Starter organisation (or app) whose connection keeps the default 5,000: after 45
    calls Xero says 955 are left, so its limit is 1,000. Planned on 5,000 those 955 lie
    inside the 2,000 reserve and the polled feed would wait a whole day (make demo's
    credit-note automation on the Starter demo organisation did); planned on 1,000 it
    keeps polling, within the 600 calls above the 400 reserved."""
    settings = PlanSettings(per_day=5000)
    stuck = plan_intervals(settings, ["CreditNotes", "Contacts"], True, 955, 86000)
    assert stuck["CreditNotes"].interval >= 86000  # the bug this guards against
    plans = plan_intervals(settings, ["CreditNotes", "Contacts"], True, 955, 86000, 1000)
    credit = plans["CreditNotes"]
    assert credit.driven_by == "poll" and 100 < credit.interval < 600, credit
    assert plans["Contacts"].interval >= 900  # webhook-driven: the safety net
    # a larger figure than the connection's changes nothing
    same = plan_intervals(settings, ["CreditNotes"], True, 4000, 86000, 9000)
    assert same == plan_intervals(settings, ["CreditNotes"], True, 4000, 86000)


def _left(day_left: int, said: int | None, learned: int | None = None) -> Remaining:
    """What the shared budget knows: ``day_left`` by its count, Xero having said ``said``
    left and the budget having learned Xero's limit ``learned``."""
    return Remaining(60, day_left, 10000, said, 80000.0, learned)


def test_the_day_limit_is_the_connections_unless_xero_said_a_smaller_one() -> None:
    # nothing heard from Xero today: the connection's
    day = day_limit_of(5000, _left(5000, None))
    assert (day.per_day, day.learned, day.calls_left, day.source) == (
        5000,
        None,
        5000,
        "configured",
    )
    # the budget learned 1,000 (45 calls counted, then Xero said 955 left)
    day = day_limit_of(5000, _left(955, 955, learned=1000))
    assert (day.per_day, day.configured, day.learned) == (1000, 5000, 1000)
    assert day.calls_left == 955 and day.source == "learned from Xero"
    # a learned figure no smaller than the connection's (it says starter): the connection's
    day = day_limit_of(1000, _left(955, 955, learned=1000))
    assert (day.per_day, day.learned, day.calls_left) == (1000, None, 955)
    # Xero's figure below the budget's count: what is left is Xero's
    assert day_limit_of(5000, _left(4990, 4900)).calls_left == 4900


def test_describe_plans_on_the_learned_limit_as_the_triggers_do(store_url: str) -> None:
    """The CLI and the page used to plan on the connection's 5,000 while the triggers
    followed Xero's 1,000: 955 left looked like 4,045 used and the intervals differed."""
    plan = _plan(store_url, STANDARD)
    day = day_limit_of(5000, _left(955, 955, learned=1000))
    polled = plan.watch("CreditNotes", day.calls_left, 80000.0, day_limit=day.learned)
    shown = plan.describe(day.calls_left, 80000.0, day_limit=day.learned)
    assert shown["limit_per_day"] == 1000 and shown["reserve_calls"] == 400
    assert shown["calls_used_today"] == 45 and shown["calls_left_today"] == 955
    (feed,) = shown["feeds"]
    assert feed["interval_seconds"] == round(polled.interval, 1)
    assert 100 < polled.interval < 600  # 600 polling calls a day, not waiting for tomorrow
    # planned on the connection's limit instead, the feed would wait for the next day
    assert plan.describe(day.calls_left, 80000.0)["feeds"][0]["interval_seconds"] >= 80000


@pytest.mark.slow
def test_the_cli_shows_the_limit_learned_from_xero_and_the_triggers_plan(
    sandbox, monkeypatch, tmp_path
) -> None:
    """A Starter app whose connection keeps the default 5,000: after a call Xero's
    X-DayLimit-Remaining says 999; the CLI plans on 1,000, says where it came from, and
    gives the feed the interval the trigger's feed group gets (it used to plan on 5,000:
    998 left lay inside the 2,000 reserve, and the feed waited for the next day)."""
    import asyncio
    import io
    import json

    from tests.provider.connections import xero_connection
    from xero_provider.connect import cli
    from xero_provider.hooks import XeroHook
    from xero_provider.state.feed import Feed
    from xero_provider.triggers.shared_poll import FeedGroup

    sandbox.control("PUT", f"/apps/{sandbox.demo.web_client_id}", json={"tier": "starter"})
    store = f"sqlite:///{tmp_path / 'tokens.db'}"
    conn_id = xero_connection(sandbox, monkeypatch, store, call_plan="on")
    hook = XeroHook(conn_id)
    hook.call("GET", "Organisation")
    hook.call("GET", "Organisation")  # Xero's figure for the first is filed with this one

    async def trigger_side() -> float:
        group = FeedGroup(conn_id, None, Feed.build("CreditNotes"))
        interval = await group.interval(1.0)  # registers the feed, as a waiting trigger does
        await group.hook.aclose()
        return interval

    polled = asyncio.run(trigger_side())
    out = io.StringIO()
    assert cli.main(["plan", "--conn-id", conn_id], stdout=out) == 0
    text = out.getvalue()
    assert (
        "day's limit:     1000 calls, learned from Xero's X-DayLimit-Remaining; "
        "the connection's is 5000"
    ) in text, text
    assert "reserve:         400 calls (40%)" in text
    assert "today:           2 used, 998 left" in text
    assert f"feed CreditNotes every {polled:>7.0f} s (poll)" in text, text
    assert polled == pytest.approx(86400 / 600)
    as_json = io.StringIO()
    assert cli.main(["plan", "--conn-id", conn_id, "--json"], stdout=as_json) == 0
    shown = json.loads(as_json.getvalue())
    assert shown["limit_source"] == "learned from Xero" and shown["limit_per_day"] == 1000
    assert (shown["limit_configured"], shown["limit_learned_from_xero"]) == (5000, 1000)
    # the default connection on a standard app: configured, and said so
    sandbox.control("PUT", f"/apps/{sandbox.demo.web_client_id}", json={"tier": "advanced"})
    other = xero_connection(sandbox, monkeypatch, tmp_path / "other.db", call_plan="on")
    XeroHook(other).call("GET", "Organisation")
    out = io.StringIO()
    assert cli.main(["plan", "--conn-id", other], stdout=out) == 0
    assert "day's limit:     5000 calls, configured: rate_limit_per_day's default" in out.getvalue()
