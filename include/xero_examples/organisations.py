"""The organisations the example DAGs serve: one set of DAGs per ``xero`` connection.

Connecting an organisation (the connect page, ``python -m xero_provider.connect connect``)
writes its connection; the DAG files build that organisation's DAGs at their next parse
and drop them once the connection is deleted. How a DAG file finds the connections:

- in the dag-processor (and on a worker, which parses the file again), Airflow 3 blocks
  database access and the Task SDK fetches a connection only by id: the connect page and
  CLI keep the Variable ``xero_organisations`` (every ``xero`` connection with its
  ``tenant_id``, ``tenant_name`` and ``dag_key``) in the transaction that writes or
  deletes a connection, and the file reads that one Variable: one lookup per parse
  however many organisations. A connection made with Airflow's own form or CLI joins at
  ``python -m xero_provider.connect organisations``;
- where Airflow's database is reachable (``airflow dags list --local``, ``dags test``),
  the ``xero`` connections are read from it directly;
- ``AIRFLOW_CONN_<ID>`` environment connections of type ``xero`` count too.

``XERO_ORGANISATIONS_FILE`` (a JSON list of ``{"key", "conn_id", "tenant_id", "name"}``)
overrides all of this: for tests, or to serve a chosen subset.

A DAG id ends in the organisation's key: the connection's ``dag_key`` extra, else its id
without the ``xero_`` prefix. A connection that cannot serve (no ``tenant_id``, a bad or
duplicate key) is skipped with a warning naming the connection and the field: one bad
connection must not take every organisation's DAGs down with an import error.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xero_provider.connect.airflow_connections import CONN_TYPE, DIRECTORY_VARIABLE

_KEY = re.compile(r"^[a-z0-9_]{1,40}$")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Organisation:
    """One Xero organisation: its DAG key, Airflow connection and tenant."""

    key: str
    conn_id: str
    tenant_id: str
    name: str = ""


def dag_key(conn_id: str, extra: dict[str, Any]) -> str:
    """The suffix of the organisation's DAG ids: ``dag_key``, else the id minus ``xero_``."""
    given = extra.get("dag_key")
    if isinstance(given, str) and given.strip():
        return given.strip()
    slug = re.sub(r"[^a-z0-9_]+", "_", conn_id.lower()).strip("_")
    return (slug.removeprefix("xero_") or slug)[:40]


def organisations(override: str | Path | None = None) -> list[Organisation]:
    """The organisations to build DAGs for, sorted by key.

    :param override: a JSON file to read instead of the connections
        (``XERO_ORGANISATIONS_FILE`` when not given).
    """
    source = override or os.environ.get("XERO_ORGANISATIONS_FILE")
    if source:
        return from_file(Path(source))
    found = {conn_id: extra for conn_id, extra in _environment_connections()}
    found.update(_stored_connections())
    return from_connections(found.items())


def from_connections(connections: Iterable[tuple[str, dict[str, Any]]]) -> list[Organisation]:
    """One organisation per usable connection (``(conn_id, extra)``); warn about the rest."""
    result: dict[str, Organisation] = {}
    for conn_id, extra in sorted(connections):
        key = dag_key(conn_id, extra)
        tenant = extra.get("tenant_id")
        if not isinstance(tenant, str) or not tenant.strip():
            log.warning("xero connection '%s' has no tenant_id: no DAGs built for it", conn_id)
        elif not _KEY.match(key):
            log.warning(
                "xero connection '%s': dag_key %r must match %s: no DAGs built for it",
                conn_id,
                key,
                _KEY.pattern,
            )
        elif key in result:
            log.warning(
                "xero connections '%s' and '%s' have the same dag_key %r: set another "
                "dag_key on one of them; no DAGs built for '%s'",
                result[key].conn_id,
                conn_id,
                key,
                conn_id,
            )
        else:
            name = extra.get("tenant_name")
            result[key] = Organisation(
                key, conn_id, tenant.strip(), name if isinstance(name, str) else ""
            )
    return sorted(result.values(), key=lambda o: o.key)


def _extra(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _environment_connections() -> Iterable[tuple[str, dict[str, Any]]]:
    """``AIRFLOW_CONN_<ID>`` connections of type ``xero`` in their JSON form."""
    for name, value in os.environ.items():
        if not name.startswith("AIRFLOW_CONN_") or not value.lstrip().startswith("{"):
            continue
        body = _extra(value)
        if body.get("conn_type") == CONN_TYPE:
            yield name.removeprefix("AIRFLOW_CONN_").lower(), _extra(body.get("extra"))


def _supervised() -> bool:
    """True inside a process the Task SDK supervises (the dag-processor's parser)."""
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def _stored_connections() -> dict[str, dict[str, Any]]:
    """``xero`` connections in Airflow's metadata database, however this process reaches it."""
    if _supervised():
        from airflow.sdk import Variable

        directory = _extra(Variable.get(DIRECTORY_VARIABLE, default="{}"))
        return {str(c): e for c, e in directory.items() if isinstance(e, dict)}
    try:
        from xero_provider.connect.airflow_connections import list_connections

        return {c.conn_id: c.extra for c in list_connections()}
    except Exception as error:  # no metadata database here (a bare import, a unit test)
        log.info("no Airflow metadata database to list xero connections from: %s", error)
        return {}


def from_file(source: Path) -> list[Organisation]:
    """Parse an organisations file; a clear error names the entry that is wrong."""
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
