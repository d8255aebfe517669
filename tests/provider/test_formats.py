"""Xero's small wire forms, written once in ``xero_provider.formats``: the offset of a
``/Date(ms+zzzz)/`` never moves the instant, but it decides a date-only field's day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from xero_provider.formats import is_guid, ms_of, parse_ms_date, tenant_key
from xero_provider.hooks.frames import records_to_dataframe
from xero_provider.operators.quotes import _day
from xero_provider.resources import get_resource
from xero_provider.state.feed import parse_ms

NOON_UTC = datetime(2026, 1, 30, 12, 0, tzinfo=UTC)
MS = int(NOON_UTC.timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "day", "offset"),
    [
        (f"/Date({MS}+0000)/", "2026-01-30", timedelta(0)),
        (f"/Date({MS})/", "2026-01-30", timedelta(0)),
        (f"/Date({MS}+1300)/", "2026-01-31", timedelta(hours=13)),  # Auckland: next day
        (f"/Date({MS}-1230)/", "2026-01-29", -timedelta(hours=12, minutes=30)),
    ],
)
def test_the_offset_picks_the_day_never_the_instant(text, day, offset) -> None:
    when = parse_ms_date(text)
    assert when == NOON_UTC and when.utcoffset() == offset
    assert ms_of(text) == MS == parse_ms(text)
    assert _day(text) == day


def test_other_text_is_not_a_ms_date() -> None:
    for text in ("2026-01-30", "/Date(abc)/", f"/Date({MS}+13)/", None, 12):
        assert parse_ms_date(text) is None and ms_of(text) is None
    assert _day("2026-01-31T00:00:00") == "2026-01-31"


def test_frames_read_every_offset_as_its_utc_instant() -> None:
    records = [{"UpdatedDateUTC": f"/Date({MS}+1300)/"}, {"UpdatedDateUTC": f"/Date({MS})/"}]
    frame = records_to_dataframe(records, get_resource("Contacts"))
    assert list(frame["UpdatedDateUTC"]) == [pd.Timestamp(NOON_UTC)] * 2


def test_guid_and_tenant_key() -> None:
    assert is_guid("f7d6e0a4-1b2c-4d5e-8f90-a1b2c3d4e5f6")
    assert not is_guid(" f7d6e0a4-1b2c-4d5e-8f90-a1b2c3d4e5f6")  # callers strip when they may
    assert not is_guid("INV-001") and not is_guid(None)
    assert tenant_key("t-1", "client") == "t-1"
    assert tenant_key(None, "client") == tenant_key("", "client") == "app:client"
