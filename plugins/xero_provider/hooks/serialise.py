"""Turn the caller's records into the JSON Xero expects, all of them before any request.

A write is only sent once every record of the input serialised: a value that cannot be
written (a ``set``, bytes, an infinite number, a ``Decimal`` with more digits than a JSON
number keeps) fails the whole call before the first request, naming the record index and
the field path, so a batch is never half written because record 110 of 120 was bad.

What is written how (Xero reads ``YYYY-MM-DD`` for dates and ``YYYY-MM-DDThh:mm:ss`` for
timestamps, see /work/shared/xero/API_NOTES.md "Dates (JSON)"):

* ``None``, NaN, ``pd.NA`` and ``NaT`` are omitted (the field is left out, as if not given);
* ``Decimal`` and numpy/pandas numbers become JSON numbers (a Decimal only when the JSON
  number reads back as exactly the same amount);
* ``date`` becomes ``YYYY-MM-DD``; a ``datetime``/``pd.Timestamp``/``numpy.datetime64``
  becomes ``YYYY-MM-DD`` at midnight and ``YYYY-MM-DDThh:mm:ss`` otherwise (an aware one
  is converted to UTC first);
* ``UUID`` and ``Enum`` become their text / value; tuples and numpy arrays become lists.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from xero_provider.exceptions import XeroInputError

_OMIT = object()  # a missing value: the field is left out


def normalise_records(records: Any) -> list[dict[str, Any]]:
    """One dict, a list of dicts, or a pandas DataFrame, as a list of JSON-ready dicts.

    :param records: what the caller wants written.
    :raises TypeError: ``records`` is not one of those shapes.
    :raises XeroInputError: a value cannot be written (names ``records[i].Field``).
    """
    if hasattr(records, "to_dict") and hasattr(records, "columns"):
        rows = records.to_dict(orient="records")
    elif isinstance(records, Mapping):
        rows = [records]
    elif isinstance(records, Iterable) and not isinstance(records, str | bytes):
        rows = list(records)
    else:
        raise TypeError(
            f"records must be a dict, a list of dicts or a DataFrame, got {type(records).__name__}"
        )
    out = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"records[{index}] must be a dict, got {type(row).__name__}")
        out.append(_mapping(row, f"records[{index}]"))
    return out


def _mapping(row: Mapping[Any, Any], path: str) -> dict[str, Any]:
    result = {}
    for key, value in row.items():
        if not isinstance(key, str):
            raise XeroInputError(f"{path}: field names must be text, got {key!r}")
        ready = json_value(value, f"{path}.{key}")
        if ready is not _OMIT:
            result[key] = ready
    return result


def is_missing(value: Any) -> bool:
    """None, NaN, ``pd.NA`` and ``NaT`` (checked without importing pandas)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    kind = type(value).__name__
    if kind in ("NaTType", "NAType"):
        return True
    if kind.startswith(("float", "datetime64", "timedelta64")) and hasattr(value, "dtype"):
        try:
            return bool(value != value)  # NaN and NaT are the values unequal to themselves
        except (TypeError, ValueError):
            return False
    return False


def json_value(value: Any, path: str) -> Any:
    """``value`` as JSON Xero reads, ``_OMIT`` for a missing one; ``path`` names it in errors."""
    if is_missing(value):
        return _OMIT
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _finite(value, path)
    if isinstance(value, Decimal):
        return _decimal(value, path)
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        raise XeroInputError(f"{path}: a time of day without a date cannot be written to Xero")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_value(value.value, path)
    if isinstance(value, Mapping):
        return _mapping(value, path)
    if isinstance(value, list | tuple):
        items = (json_value(v, f"{path}[{i}]") for i, v in enumerate(value))
        return [v for v in items if v is not _OMIT]
    numpy_value = _from_numpy(value, path)
    if numpy_value is not None:
        return numpy_value
    raise XeroInputError(
        f"{path}: a {type(value).__name__} cannot be written to Xero (use text, a number, "
        "a date, a dict or a list)"
    )


def _finite(number: float, path: str) -> float:
    if math.isinf(number):
        raise XeroInputError(f"{path}: {number} is not a number Xero can store")
    return number


def _decimal(value: Decimal, path: str) -> int | float:
    if not value.is_finite():
        raise XeroInputError(f"{path}: {value} is not a number Xero can store")
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) != value.normalize():
        raise XeroInputError(
            f"{path}: {value} has more significant digits than a JSON number keeps exactly; "
            "round it (Xero keeps 2 decimal places, 4 for unit amounts)"
        )
    return as_float


def _timestamp(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if value.time() == time(0, 0):
        return value.date().isoformat()
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def _from_numpy(value: Any, path: str) -> Any:
    """numpy scalars and arrays (``None`` when ``value`` is none of them)."""
    module = type(value).__module__ or ""
    if not module.startswith(("numpy", "pandas")):
        return None
    kind = type(value).__name__
    if kind == "ndarray":
        return json_value(value.tolist(), path)
    if kind.startswith("datetime64"):
        import pandas as pd

        return _timestamp(pd.Timestamp(value).to_pydatetime())
    if hasattr(value, "item"):
        item = value.item()
        if type(item).__module__ in ("numpy", "pandas"):
            return None
        return json_value(item, path)
    return None
