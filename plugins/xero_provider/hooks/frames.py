"""Records as a pandas DataFrame, with Xero's ``/Date(ms+0000)/`` values as UTC timestamps."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from xero_provider.formats import MS_DATE
from xero_provider.resources import Resource


def records_to_dataframe(records: Iterable[dict[str, Any]], resource: Resource) -> Any:
    """Build the frame; every column holding Xero dates becomes ``datetime64[ns, UTC]``."""
    import pandas as pd

    frame = pd.DataFrame.from_records(list(records))
    for column in frame.columns:
        series = frame[column]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        sample = series.dropna()
        if sample.empty or not sample.map(lambda v: isinstance(v, str)).all():
            continue
        millis = sample.str.extract(MS_DATE.pattern)["ms"]
        if millis.notna().all() or column in resource.date_fields:
            parsed = pd.to_datetime(
                series.str.extract(MS_DATE.pattern)["ms"].astype("float64"), unit="ms", utc=True
            )
            if parsed.notna().sum() == sample.size:
                frame[column] = parsed
    return frame
