"""The organisations the example DAGs serve: one DAG per organisation (per connection).

Read at parse time from the file named by ``XERO_ORGANISATIONS_FILE``, else the
``xero_organisations.json`` the DAG file passes (the one beside it): a file, not an
Airflow Variable, so that parsing a DAG never waits on the metadata database. Adding an
organisation is one line there plus its connection and pool in ``airflow_settings.yaml``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

_KEY = re.compile(r"^[a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class Organisation:
    """One Xero organisation: its DAG key, Airflow connection and pool."""

    key: str
    conn_id: str
    tenant_id: str
    name: str = ""

    @property
    def pool(self) -> str:
        """The organisation's pool: 5 slots, Xero's concurrent-call limit."""
        return f"xero_{self.tenant_id}"


def organisations(default: str | Path) -> list[Organisation]:
    """Parse the organisations file; a clear error names the entry that is wrong.

    :param default: the file to read unless ``XERO_ORGANISATIONS_FILE`` names another.
    """
    source = Path(os.environ.get("XERO_ORGANISATIONS_FILE") or default)
    entries = json.loads(source.read_text())
    if not isinstance(entries, list):
        raise ValueError(f"{source}: expected a JSON list of organisations")
    result = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"{source}[{index}]: expected an object")
        missing = [k for k in ("key", "conn_id", "tenant_id") if not entry.get(k)]
        if missing:
            raise ValueError(f"{source}[{index}]: missing {', '.join(missing)}")
        if not _KEY.match(str(entry["key"])):
            raise ValueError(f"{source}[{index}].key must match {_KEY.pattern}")
        result.append(
            Organisation(
                str(entry["key"]),
                str(entry["conn_id"]),
                str(entry["tenant_id"]),
                str(entry.get("name", "")),
            )
        )
    keys = [o.key for o in result]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{source}: organisation keys must be unique, got {keys}")
    return result
