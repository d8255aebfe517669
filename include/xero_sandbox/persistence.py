"""``--db PATH``: keep the sandbox's state in a SQLite file across restarts.

The whole state (organisations, apps, grants, tokens, the signing key, counters) is
saved as one JSON document whenever a write happened, at most once a second, and on
shutdown; a restart with the same file picks up where it stopped.

The snapshot is plain JSON with a few tagged values (``{"$datetime": ...}``,
``{"$decimal": ...}``, a closed list of identity dataclasses), read back by a decoder that
builds nothing else: a snapshot from elsewhere can hold wrong data, never code. (Older
pickle snapshots, in the ``snapshot`` table, are ignored.)
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sqlite3
import threading
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from xero_sandbox.identity import service as identity_service
from xero_sandbox.organisation import Organisation
from xero_sandbox.state import SandboxState

_TRANSIENT = {"_clock", "_orgs", "_lock"}  # identity attributes rebuilt on load
SAVE_INTERVAL_SECONDS = 1.0
FORMAT = 1
# The only classes a snapshot may name (the identity service's records).
_DATACLASSES = {
    cls.__name__: cls
    for cls in (
        identity_service.App,
        identity_service.ConsentRequest,
        identity_service.Connection,
        identity_service._Code,
        identity_service._Grant,
        identity_service._RefreshRecord,
        identity_service._AccessRecord,
    )
}
_ORG_FIELDS = (
    "tenant_id",
    "name",
    "short_code",
    "country_code",
    "base_currency",
    "tier",
    "tenant_type",
    "high_volume",
    "tables",
    "history",
    "counters",
)


class SnapshotError(ValueError):
    """A snapshot that is not one this sandbox wrote."""


def encode(value: Any) -> Any:
    """A JSON-able form of ``value`` (dicts, lists, str, numbers, tagged dates/decimals)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, Organisation):
        return {"$organisation": {k: encode(getattr(value, k)) for k in _ORG_FIELDS}}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _DATACLASSES:
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$dataclass": type(value).__name__, "fields": fields}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"$items": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot snapshot a {type(value).__name__}")


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`; refuses any tag or class it does not know."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tags = [k for k in value if k.startswith("$")]
    if not tags:
        return {k: decode(v) for k, v in value.items()}
    tag = tags[0]
    if tag == "$datetime":
        return datetime.fromisoformat(value[tag])
    if tag == "$date":
        return date.fromisoformat(value[tag])
    if tag == "$decimal":
        return Decimal(value[tag])
    if tag == "$bytes":
        return base64.b64decode(value[tag])
    if tag == "$tuple":
        return tuple(decode(v) for v in value[tag])
    if tag == "$items":
        return {_hashable(decode(k)): decode(v) for k, v in value[tag]}
    if tag == "$organisation":
        fields = {k: decode(v) for k, v in value[tag].items() if k in _ORG_FIELDS}
        return Organisation(**fields)
    if tag == "$dataclass":
        cls = _DATACLASSES.get(value[tag])
        if cls is None:
            raise SnapshotError(f"unknown record type {value[tag]!r} in snapshot")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: decode(v) for k, v in value["fields"].items() if k in known})
    raise SnapshotError(f"unknown tag {tag!r} in snapshot")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _identity_state(state: SandboxState) -> dict[str, Any]:
    return {k: v for k, v in vars(state.identity).items() if k not in _TRANSIENT}


def dump(state: SandboxState) -> str:
    """The state as JSON text (organisations and identity; limits and logs are not kept)."""
    document = {
        "format": FORMAT,
        "orgs": list(state.orgs.values()),
        "identity": _identity_state(state),
    }
    return json.dumps(encode(document), separators=(",", ":"))


def restore(state: SandboxState, text: str) -> None:
    """Load a snapshot written by :func:`dump` into ``state``."""
    try:
        document = decode(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        raise SnapshotError(f"not a sandbox snapshot: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SnapshotError("not a sandbox snapshot (unknown format)")
    state.orgs.clear()
    for org in document["orgs"]:
        if not isinstance(org, Organisation):
            raise SnapshotError("not a sandbox snapshot: organisations expected")
        state.add_org(org)
    vars(state.identity).update(document["identity"])


class SnapshotFile:
    """One-row SQLite table holding the latest snapshot as JSON text."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS snapshot_json ("
                "id INTEGER PRIMARY KEY CHECK (id = 1), saved_at TEXT NOT NULL, data TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def load(self) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT data FROM snapshot_json WHERE id = 1").fetchone()
        return row[0] if row else None

    def save(self, text: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO snapshot_json (id, saved_at, data) VALUES (1, datetime('now'), ?) "
                "ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, data = excluded.data",
                (text,),
            )


class Autosaver:
    """Saves the state after writes (``state.dirty``), from a daemon thread, and at stop."""

    def __init__(self, state: SandboxState, file: SnapshotFile) -> None:
        self.state = state
        self.file = file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-autosave", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAVE_INTERVAL_SECONDS):
            self.save_if_dirty()

    def save_if_dirty(self) -> None:
        if self.state.dirty:
            self.state.dirty = False
            self.file.save(dump(self.state))

    def stop(self) -> None:
        self._stop.set()
        self.state.dirty = True
        self.save_if_dirty()


def attach_database(state: SandboxState, path: str | Path) -> Autosaver:
    """Load ``path`` into ``state`` if it holds a snapshot, and keep it saved from now on."""
    file = SnapshotFile(path)
    text = file.load()
    if text is not None:
        restore(state, text)
    state.restored = text is not None
    saver = Autosaver(state, file)
    saver.start()
    return saver
