"""Xero's date forms, in and out.

Xero's JSON uses Microsoft's ``/Date(ms+0000)/`` form; clients send dates as
``YYYY-MM-DD``, ISO 8601 (with or without an offset), RFC 1123 (``If-Modified-Since``)
or the ``/Date()/`` form they received. All parse to aware UTC datetimes here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class DateParseError(ValueError):
    """A date string in none of the forms Xero accepts."""


def whole_ms(when: datetime) -> datetime:
    """``when`` at the millisecond Xero shows for it (``/Date(ms)/``), nearest first.

    Record times are stored at this precision so that If-Modified-Since and ``where``
    compare the time a client sees, never a finer one hidden behind it.
    """
    millis = round(when.microsecond / 1000)
    return when.replace(microsecond=0) + timedelta(milliseconds=millis)


def to_ms_date(when: datetime) -> str:
    """Render ``/Date(1700000000000+0000)/``, the form Xero uses for timestamps."""
    millis = round(when.timestamp() * 1000)
    return f"/Date({millis}+0000)/"


def to_ms_date_plain(when: datetime) -> str:
    """Render ``/Date(1700000000000)/``, the offset-less form of the envelope's DateTimeUTC."""
    return f"/Date({round(when.timestamp() * 1000)})/"


def to_iso_z(when: datetime) -> str:
    """Render ``2026-01-31T10:30:00Z`` (the *UTCString companions added in spec 16.1)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_date_string(day: date) -> str:
    """Render ``2026-01-31T00:00:00``: the ``DateString`` beside date-only fields."""
    return f"{day.isoformat()}T00:00:00"


def date_to_ms(day: date) -> str:
    """Render a date-only field (``Date``, ``DueDate``) as Xero does: midnight UTC in ms form."""
    return to_ms_date(datetime(day.year, day.month, day.day, tzinfo=UTC))


def ms_date(value: object) -> datetime | None:
    """``/Date(ms+HHMM)/`` as an aware datetime at that instant, in the offset's zone (UTC
    without one); None for anything else. The milliseconds are UTC and the offset only
    says which zone the value was written in (Microsoft's JSON date form), so it picks a
    date-only field's day and never moves the instant. The one parser of this form here.
    """
    match = _MS_DATE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    when = datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    offset = match.group(2)
    if offset and offset[1:] != "0000":
        sign = 1 if offset[0] == "+" else -1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        when = when.astimezone(timezone(sign * delta))
    return when


def parse_datetime(text: str) -> datetime:
    """Parse any date form a client sends into an aware UTC datetime."""
    value = text.strip()
    wire = ms_date(value)
    if wire is not None:
        return wire.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            raise DateParseError(f"'{text}' is not a valid date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: object) -> date:
    """Parse a date-only field (``YYYY-MM-DD``, ISO datetime or ``/Date()/``) to a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        raise DateParseError(f"'{value}' is not a valid date")
    text = value.strip()
    wire = ms_date(text)
    if wire is not None:
        return wire.date()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise DateParseError(f"'{value}' is not a valid date") from None
