"""Property tests (hypothesis) against the sandbox: generated interleavings of writes and
page reads never make a range read miss or repeat a change.

Each example seeds records at chosen instants of a range in the past (many sharing one
millisecond, so ties straddle page boundaries of a tiny page size), then reads the range
page by page while the generated writes land between pages: records renamed or archived
(they move out of the range, to now) and new records created (outside it). The read must
return exactly the records whose current version lies in the range when it ends. A second
property cuts the range into batches of any size, as watermark runs do, and checks every
version in the range arrives exactly once.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.changes.helpers import create, sandbox_time, update
from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook
from xero_provider.state.feed import Feed, Position, in_range, parse_ms
from xero_provider.triggers.changes import batch_of
from xero_provider.triggers.reading import read_plan

FEED = Feed.build("Contacts")
_ranges = itertools.count(1)
_BASE = (datetime.now(UTC) - timedelta(hours=6)).replace(second=0, microsecond=0)

write = st.one_of(
    st.tuples(st.just("rename"), st.integers(0, 60)),
    st.tuples(st.just("archive"), st.integers(0, 60)),
    st.tuples(st.just("create"), st.just(0)),
)
scenario = st.fixed_dictionaries(
    {
        # (offset in ms inside the range, how many records share it)
        "instants": st.lists(
            st.tuples(st.sampled_from([0, 1, 999, 1000, 1500, 59_999]), st.integers(1, 8)),
            min_size=1,
            max_size=4,
        ),
        "page_size": st.integers(1, 6),
        # writes landing before page request n (n = list index, counted over all passes)
        "gaps": st.lists(st.lists(write, max_size=3), max_size=6),
    }
)


@pytest.fixture(scope="module")
def world(sandbox_server, tmp_path_factory):
    """One connection and unlimited rates for all examples (each uses its own range)."""
    sandbox_server.reset(demo=True)
    sandbox_server.control("PUT", "/limits", json={"enabled": False})
    patch = pytest.MonkeyPatch()
    # The hook paces to Xero's 60 calls a minute unless told the limit is higher.
    conn_id = xero_connection(
        sandbox_server, patch, tmp_path_factory.mktemp("p") / "t.db", rate_limit_per_minute=10**6
    )
    hook = XeroHook(conn_id)
    yield sandbox_server, hook
    patch.undo()
    sandbox_server.reset(demo=True)


def _seed(sandbox, hook, start: datetime, instants) -> None:
    for offset, count in instants:
        with sandbox_time(sandbox, start + timedelta(milliseconds=offset)):
            create(hook, "Contacts", [{"Name": f"p{next(_ranges)}"} for _ in range(count)])
    # records just outside the range on both sides
    with sandbox_time(sandbox, start - timedelta(milliseconds=1)):
        create(hook, "Contacts", [{"Name": f"p{next(_ranges)}"}])
    with sandbox_time(sandbox, start + timedelta(minutes=1)):
        create(hook, "Contacts", [{"Name": f"p{next(_ranges)}"}])


def _truth(sandbox, lower: Position, upper: Position) -> set[tuple[int, str]]:
    body = sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/Contacts").json()
    keys = {(parse_ms(r["UpdatedDateUTC"]), r["ContactID"]) for r in body["Contacts"]}
    return {k for k in keys if in_range(k, lower, upper)}


def _apply(hook, gap, seeded: list[str]) -> None:
    for kind, index in gap:
        if kind == "create" or not seeded:
            create(hook, "Contacts", [{"Name": f"p{next(_ranges)}"}])
        elif kind == "rename":
            target = seeded[index % len(seeded)]
            update(hook, "Contacts", [{"ContactID": target, "Name": f"p{next(_ranges)}"}])
        else:
            target = seeded[index % len(seeded)]
            update(hook, "Contacts", [{"ContactID": target, "ContactStatus": "ARCHIVED"}])


def _new_range() -> tuple[datetime, Position, Position]:
    """A fresh minute in the past for each example, so examples never see each other.

    Hours, not months, back: the sandbox's tokens age with its clock.
    """
    start = _BASE + timedelta(minutes=3 * next(_ranges))
    return start, Position.at(start), Position.at(start + timedelta(minutes=1))


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=scenario)
def test_a_range_read_equals_the_range_when_it_ends(world, case) -> None:
    sandbox, hook = world
    start, lower, upper = _new_range()
    _seed(sandbox, hook, start, case["instants"])
    seeded = sorted(key[1] for key in _truth(sandbox, lower, upper))
    plan = read_plan(FEED, lower, upper, page_size=case["page_size"])
    gaps = iter(case["gaps"])
    request = next(plan)
    while True:  # the writes of gap n land just before page request n
        _apply(hook, next(gaps, []), seeded)
        body = hook.call("GET", request.path, params=request.params, headers=request.headers)
        try:
            request = plan.send(body)
        except StopIteration as done:
            result = done.value
            break
    got = [FEED.version(r) for r in result.records]
    assert len(got) == len(set(got)), "a change was delivered twice"
    assert set(got) == _truth(sandbox, lower, upper)


@pytest.mark.slow
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    instants=scenario.map(lambda c: c["instants"]),
    batch=st.integers(1, 7),
    page_size=st.integers(1, 6),
)
def test_batches_cut_anywhere_deliver_each_change_once(world, instants, batch, page_size):
    from tests.changes.test_properties import _drive

    sandbox, hook = world
    start, lower, upper = _new_range()
    _seed(sandbox, hook, start, instants)
    expected = _truth(sandbox, lower, upper)
    delivered: list[tuple[int, str]] = []
    position = lower
    for _ in range(100):
        records = _drive(hook, position, upper, page_size)
        chunk, position = batch_of(FEED, records, position, upper, batch)
        delivered += [FEED.version(r) for r in chunk]
        if position == upper:
            break
    assert len(delivered) == len(set(delivered)), "a change was delivered twice"
    assert set(delivered) == expected


def _drive(hook, lower: Position, upper: Position, page_size: int):
    plan = read_plan(FEED, lower, upper, page_size=page_size)
    request = next(plan)
    try:
        while True:
            body = hook.call("GET", request.path, params=request.params, headers=request.headers)
            request = plan.send(body)
    except StopIteration as done:
        return done.value.records
