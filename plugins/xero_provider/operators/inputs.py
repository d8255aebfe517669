"""Turn what a task is given (one dict, a list, a sensor's XCom, a DataFrame, JSON) into rows.

Values are left as they are (numpy scalars, Timestamps, NaN): the hook's write path
serialises them; the operator's validation reads them as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


def as_rows(records: Any, *, name: str = "records") -> list[Any]:
    """A list of records; a DataFrame's dotted columns (``Contact.ContactID``) are nested again.

    :param records: a dict, a list or other iterable of dicts (an XCom list from a sensor),
        a pandas DataFrame, or a JSON text of one of those.
    """
    if records is None:
        raise ValueError(f"{name}: nothing given (None); pass a dict, a list or a DataFrame")
    if isinstance(records, str | bytes):
        try:
            records = json.loads(records)
        except ValueError:
            raise TypeError(
                f"{name}: got text that is not JSON ({str(records)[:60]!r}); pass a dict, a "
                "list of dicts or a DataFrame"
            ) from None
    if hasattr(records, "to_dict") and hasattr(records, "columns"):
        rows: list[Any] = records.to_dict(orient="records")
        if any("." in str(column) for column in records.columns):
            rows = [_nest(row) for row in rows]
        return rows
    if isinstance(records, Mapping):
        return [records]
    if isinstance(records, Iterable):
        return list(records)
    raise TypeError(
        f"{name} must be a dict, a list of dicts or a DataFrame, got {type(records).__name__}"
    )


def _nest(row: Mapping[str, Any]) -> dict[str, Any]:
    """``{"Contact.ContactID": x}`` -> ``{"Contact": {"ContactID": x}}``."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        parts = str(key).split(".")
        target = out
        for part in parts[:-1]:
            existing = target.get(part)
            if not isinstance(existing, dict):
                existing = target[part] = {}
            target = existing
        target[parts[-1]] = value
    return out


def ids_as_rows(ids: Any, id_field: str, *, name: str) -> list[dict[str, Any]]:
    """``"id"`` or ``["id", ...]`` as ``[{id_field: "id"}, ...]``."""
    if isinstance(ids, str):
        stripped = ids.strip()
        if stripped.startswith("["):
            ids = json.loads(stripped)
        else:
            ids = [part.strip() for part in stripped.split(",") if part.strip()]
    if not isinstance(ids, Iterable) or isinstance(ids, Mapping | bytes):
        raise TypeError(f"{name} must be an ID or a list of IDs, got {type(ids).__name__}")
    return [{id_field: value} for value in ids]
