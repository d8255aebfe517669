"""The sandbox's one ``/Date(ms+HHMM)/`` parser (``xero_sandbox.dates.ms_date``): every
reader (request dates, ``where`` filters, XML bodies) keeps the instant and lets the
offset pick only the local day and wall time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from xero_sandbox.dates import ms_date, parse_date, parse_datetime
from xero_sandbox.formats import _xml_value
from xero_sandbox.where import parse_xero_datetime

NOON_UTC = datetime(2026, 1, 30, 12, 0, tzinfo=UTC)
MS = int(NOON_UTC.timestamp() * 1000)


@pytest.mark.parametrize(
    ("suffix", "day", "wall"),
    [
        ("+0000", date(2026, 1, 30), "2026-01-30T12:00:00"),
        ("", date(2026, 1, 30), "2026-01-30T12:00:00"),
        ("+1300", date(2026, 1, 31), "2026-01-31T01:00:00"),
        ("-1230", date(2026, 1, 29), "2026-01-29T23:30:00"),
    ],
)
def test_every_reader_keeps_the_instant(suffix: str, day: date, wall: str) -> None:
    text = f"/Date({MS}{suffix})/"
    assert ms_date(text) == NOON_UTC
    assert parse_datetime(text) == NOON_UTC == parse_xero_datetime(text)
    assert parse_date(text) == day
    assert _xml_value(text) == wall


def test_other_text_is_not_a_wire_date() -> None:
    for value in ("2026-01-30", "/Date(x)/", f"/Date({MS}+13)/", None, 5):
        assert ms_date(value) is None
