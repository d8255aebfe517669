"""Feeds, positions and ranges: validation of careless and hostile input, and the tie
rules, without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from xero_provider.state.feed import Feed, Position, advance, in_range, parse_ms
from xero_provider.triggers.reading import list_plan


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resource": "Nope"}, "unknown Xero resource"),
        ({"resource": "TaxRates"}, "no modification date"),
        ({"resource": "Quotes", "where": 'Status=="SENT"'}, "does not accept a filter"),
        ({"resource": "Contacts", "types": ["SPEND"]}, "cannot be filtered by type"),
        ({"resource": "BankTransactions", "types": ["SPENDX"]}, "are not BankTransactions types"),
        ({"resource": "Bills", "statuses": ['PAID") OR (1==1']}, "is not a Xero code"),
        ({"resource": "Bills", "statuses": [""]}, "non-empty"),
        ({"resource": "Bills", "statuses": 5}, "must be a list"),
        ({"resource": "Bills", "where": 3}, "must be a string"),
        ({"resource": "Bills", "where": "x" * 5000}, "under 2000"),
        ({"resource": "Bills", "contact_kind": "customer"}, "only Contacts"),
        ({"resource": "Bills", "where": 'Status=="A") OR ("1"=="1'}, "unbalanced"),
        ({"resource": "Bills", "where": 'Status=="A'}, "unclosed"),
        ({"resource": "Bills", "where": "(Total>1"}, "unclosed"),
        ({"resource": "Contacts", "contact_kind": "friend"}, "customer or supplier"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_filters_are_refused_naming_the_field(kwargs, message) -> None:
    resource = kwargs.pop("resource")
    with pytest.raises((ValueError, TypeError), match=message):
        Feed.build(resource, **kwargs)


def test_parentheses_inside_strings_are_fine() -> None:
    assert Feed.build("Bills", where='Reference=="a)b" AND (Total>1)').where


def test_feed_round_trips_and_keys_are_stable() -> None:
    feed = Feed.build("BankTransactions", statuses="authorised,DELETED", types=["SPEND"])
    assert feed.statuses == ("AUTHORISED", "DELETED")
    assert Feed.from_json(feed.to_json()) == feed
    assert (
        feed.key()
        == Feed.build("BankTransactions", statuses=["DELETED", "AUTHORISED"], types="spend").key()
    )
    assert feed.key() != Feed.build("BankTransactions").key()


def test_positions_keep_ties_at_their_instant() -> None:
    at = Position(5000, frozenset({"b"}))
    assert not at.is_before((5000, "b"))  # delivered
    assert at.is_before((5000, "a")) and at.is_before((5001, "b"))
    assert not at.is_before((4999, "z"))
    lower, upper = Position(1000), Position(5000)
    assert in_range((1000, "x"), Position(999), upper) and not in_range((5000, "x"), lower, upper)
    keys = [(2000, "a"), (3000, "a"), (3000, "b")]
    cut = advance(keys[:2], lower, upper, truncated=True)
    assert cut == Position(3000, frozenset({"a"}))
    assert cut.is_before((3000, "b"))  # the tie left out of the batch comes next
    assert advance(keys, lower, upper, truncated=False) == upper
    # A cut at the lower bound's own instant remembers what was delivered there before.
    again = advance([(3000, "b")], cut, upper, truncated=True)
    assert again.ids == {"a", "b"}


def test_dates_in_xero_forms() -> None:
    assert parse_ms("/Date(1550793549320+0000)/") == 1550793549320
    assert parse_ms("/Date(1550793549320)/") == 1550793549320
    assert parse_ms("2019-02-22T00:00:00Z") == 1550793600000
    assert parse_ms("garbage") is None and parse_ms(None) is None
    with pytest.raises(ValueError, match="no timezone"):
        Position.at(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="position must be"):
        Position.from_json({"ts": "1"})


def test_the_query_rounds_if_modified_since_down_and_bounds_the_top() -> None:
    feed = Feed.build("Bills", where='Contact.Name=="A"')
    lower = Position.at(datetime(2026, 3, 1, 10, 0, 0, 700000, tzinfo=UTC))
    upper = Position.at(datetime(2026, 3, 1, 11, 0, 0, tzinfo=UTC))
    plan = list_plan(feed, lower, upper)
    assert plan.headers["If-Modified-Since"] == "2026-03-01T10:00:00"
    assert "UpdatedDateUTC<DateTime(2026,03,01,11,00,00)" in plan.params["where"]
    assert 'Type=="ACCPAY"' in plan.params["where"]
    assert plan.params["order"] == "UpdatedDateUTC ASC,InvoiceID ASC"
    tie_upper = Position(upper.ts, frozenset({"x"}))  # records AT the upper instant count
    assert "DateTime(2026,03,01,11,00,01)" in list_plan(feed, lower, tie_upper).params["where"]
    assert list_plan(Feed.build("Contacts"), lower, upper).params["includeArchived"] == "true"
    transfers = list_plan(Feed.build("BankTransfers"), lower, upper)
    assert transfers.params == {"includeDeleted": "true"}  # unpaged: one atomic answer


@pytest.mark.parametrize("value", ["true", "false"])
def test_deferrable_defaults_from_the_operators_section(value) -> None:
    import os
    import subprocess
    import sys

    code = (
        "from xero_provider.sensors import XeroNewOrUpdatedBillSensor as S;"
        "print(S(task_id='t').deferrable, S(task_id='u', deferrable=False).deferrable)"
    )
    env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": value}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.split()[-2:] == [str(value == "true"), "False"], result.stderr[-2000:]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"polling": "sometimes"}, "polling must be"),
        ({"on_empty": "explode"}, "on_empty must be"),
        ({"settle_seconds": 0}, "settle_seconds"),
        ({"max_records": 0}, "max_records"),
        ({"resource": "Nope"}, "unknown Xero resource"),
    ],
)
def test_the_sensor_refuses_bad_arguments_at_parse_time(kwargs, message) -> None:
    from xero_provider.sensors import XeroChangesSensor

    args = {"task_id": "t", "resource": "Contacts", **kwargs}
    with pytest.raises(ValueError, match=message):
        XeroChangesSensor(**args)
