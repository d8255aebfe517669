"""Poke-mode sensors read through the daily call plan, as triggers do (issue 20): a range
another reader (a trigger's feed group, another sensor) found empty is not read again,
bills and sales invoices share one ``Invoices`` read, a range holding a change is never
taken for empty, and a position with IDs at its instant is not covered by an empty range
that begins at that instant. Against the sandbox (GETs counted in its request log) and a
real store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.changes.helpers import SETTLED, create
from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook
from xero_provider.hooks.driver import Blocking
from xero_provider.hooks.paging import PageRequest
from xero_provider.sensors import XeroChangesSensor
from xero_provider.state.call_plan import CallPlan, PlanSettings
from xero_provider.state.feed import Feed, Position
from xero_provider.state.token_store import TokenStore
from xero_provider.triggers.reading import planned_read
from xero_provider.triggers.shared_poll import FeedGroup


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _window(start: datetime, end: datetime) -> dict[str, Any]:
    return {"ti": _TI(), "data_interval_start": start, "data_interval_end": end}


def _sensor(conn_id: str, resource: str) -> XeroChangesSensor:
    return XeroChangesSensor(
        task_id=f"poke_{resource.lower()}",
        resource=resource,
        xero_conn_id=conn_id,
        polling="window",
        settle_seconds=1,
        on_empty="succeed",
        deferrable=False,
    )


def _poke(conn_id: str, resource: str, start: datetime, end: datetime) -> list[dict]:
    result = _sensor(conn_id, resource).poke(_window(start, end))
    assert result.is_done
    return result.xcom_value


def _invoice_gets(sandbox) -> int:
    return len(sandbox.requests(path="/api.xro/2.0/Invoices", method="GET"))


@pytest.fixture
def planned(sandbox, monkeypatch, tmp_path) -> str:
    store = f"sqlite:///{tmp_path / 'tokens.db'}"
    return xero_connection(sandbox, monkeypatch, store, call_plan="on")


def test_a_window_one_poke_sensor_found_empty_costs_the_others_nothing(sandbox, planned) -> None:
    end = datetime.now(UTC) - timedelta(seconds=5)  # before the demo data's reset
    start = end - timedelta(minutes=10)
    before = _invoice_gets(sandbox)
    assert _poke(planned, "Bills", start, end) == []
    assert _invoice_gets(sandbox) == before + 1  # one Invoices read, noted empty
    # another bills sensor, a sales-invoices one (same source), a narrower window
    assert _poke(planned, "Bills", start, end) == []
    assert _poke(planned, "SalesInvoices", start, end) == []
    assert _poke(planned, "Bills", start + timedelta(minutes=1), end) == []
    assert _invoice_gets(sandbox) == before + 1
    # a wider window is not covered: read
    assert _poke(planned, "Bills", start - timedelta(minutes=1), end) == []
    assert _invoice_gets(sandbox) == before + 2

    # a trigger's feed group (another process) sees the sensors' empty range too
    group = FeedGroup(planned, None, Feed.build("Invoices"))

    async def trigger_read() -> int:
        await group.read(1, Position.at(start), Position.at(end), last_poll=-1.0)
        await group.hook.aclose()
        return group.spared

    assert asyncio.run(trigger_read()) == 1 and group.reads == 0
    assert _invoice_gets(sandbox) == before + 2


def test_a_range_a_trigger_found_empty_is_not_read_by_a_poke_sensor(sandbox, planned) -> None:
    end = datetime.now(UTC) - timedelta(seconds=5)  # before the demo data's reset
    start = end - timedelta(minutes=10)
    group = FeedGroup(planned, None, Feed.build("Contacts"))

    async def trigger_read() -> None:
        await group.read(1, Position.at(start), Position.at(end), last_poll=-1.0)
        await group.hook.aclose()

    # the demo data's contacts were made long before: the last ten minutes are empty
    before = len(sandbox.requests(path="/api.xro/2.0/Contacts", method="GET"))
    asyncio.run(trigger_read())
    assert group.reads == 1
    assert _poke(planned, "Contacts", start, end) == []
    assert len(sandbox.requests(path="/api.xro/2.0/Contacts", method="GET")) == before + 1


def test_a_window_holding_a_change_is_read_by_every_sensor(sandbox, planned) -> None:
    hook = XeroHook(planned)
    time.sleep(1.1)  # the demo data, made at the sandbox's reset, stays before the window
    start = datetime.now(UTC)
    contact = create(hook, "Contacts", [{"Name": f"plan poke {uuid.uuid4().hex[:6]}"}])[0]
    line = {"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200"}
    bill = create(hook, "Bills", [{"Contact": {"ContactID": contact}, "LineItems": [line]}])[0]
    hook.close()
    time.sleep(SETTLED)
    end = datetime.now(UTC) - timedelta(seconds=1.5)
    before = _invoice_gets(sandbox)
    first = _poke(planned, "Bills", start, end)
    second = _poke(planned, "Bills", start, end)
    assert [r["InvoiceID"] for r in first] == [r["InvoiceID"] for r in second] == [bill]
    assert _poke(planned, "SalesInvoices", start, end) == []  # the bill is not a sale
    assert _invoice_gets(sandbox) == before + 3  # nothing found: nothing noted empty


def test_the_plan_off_keeps_the_old_read(sandbox, monkeypatch, tmp_path) -> None:
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")  # call_plan off
    end = datetime.now(UTC) - timedelta(seconds=5)  # before the demo data's reset
    start = end - timedelta(minutes=10)
    before = _invoice_gets(sandbox)
    for _ in range(2):
        assert _poke(conn_id, "Bills", start, end) == []
    assert _invoice_gets(sandbox) == before + 2


@pytest.fixture(params=["sqlite", "postgres"])
def plan(request: pytest.FixtureRequest, tmp_path) -> CallPlan:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tokens.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    org = str(uuid.uuid4())
    return CallPlan(TokenStore(url), org, PlanSettings(), tenant_id=org)


def _first_effect(plan: CallPlan, feed: Feed, lower: Position, upper: Position) -> Any:
    """Run ``planned_read``'s store steps against the real store; return the first effect
    that is not one (a page request means Xero would be called), or the result."""
    steps = planned_read(plan, feed, lower, upper)
    answer = None
    try:
        while True:
            effect = steps.send(answer)
            if not isinstance(effect, Blocking):
                return effect
            answer = effect.function(*effect.args)
    except StopIteration as done:
        return done.value


def test_ids_at_the_lower_instant_are_not_covered_by_an_empty_range_from_it(plan) -> None:
    feed = Feed.build("Contacts")
    plan.note_read("Contacts", feed.key(), 1_000_000, 5_000_000, empty=True)
    spared = _first_effect(plan, feed, Position(1_000_000), Position(4_000_000))
    assert spared.spared and spared.records == []
    # a cut at 1_000_000 left other records of that instant to deliver: read them
    cut = Position(1_000_000, ("a-delivered-id",))
    assert isinstance(_first_effect(plan, feed, cut, Position(4_000_000)), PageRequest)
    assert _first_effect(plan, feed, Position(1_500_000, ("x",)), Position(4_000_000)).spared
