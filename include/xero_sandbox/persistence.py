"""``--db PATH``: keep the sandbox's state in a SQLite file across restarts.

The whole state (organisations, apps, grants, tokens, the signing key, counters) is
saved as one snapshot row whenever a write happened, at most once a second, and on
shutdown; a restart with the same file picks up where it stopped.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from pathlib import Path
from typing import Any

from xero_sandbox.state import SandboxState

_TRANSIENT = {"_clock", "_orgs", "_lock"}  # identity attributes rebuilt on load
SAVE_INTERVAL_SECONDS = 1.0


def _identity_state(state: SandboxState) -> dict[str, Any]:
    return {k: v for k, v in vars(state.identity).items() if k not in _TRANSIENT}


def dump(state: SandboxState) -> bytes:
    """The state as bytes (organisations and identity; limits and logs are not kept)."""
    return pickle.dumps(
        {"orgs": dict(state.orgs), "identity": _identity_state(state)},
        protocol=pickle.HIGHEST_PROTOCOL,
    )


def restore(state: SandboxState, blob: bytes) -> None:
    data = pickle.loads(blob)
    state.orgs.clear()
    for org in data["orgs"].values():
        state.add_org(org)
    vars(state.identity).update(data["identity"])


class SnapshotFile:
    """One-row SQLite table holding the latest snapshot."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS snapshot ("
                "id INTEGER PRIMARY KEY CHECK (id = 1), saved_at TEXT NOT NULL, data BLOB NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def load(self) -> bytes | None:
        with self._connect() as db:
            row = db.execute("SELECT data FROM snapshot WHERE id = 1").fetchone()
        return row[0] if row else None

    def save(self, blob: bytes) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO snapshot (id, saved_at, data) VALUES (1, datetime('now'), ?) "
                "ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, data = excluded.data",
                (blob,),
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
    blob = file.load()
    if blob is not None:
        restore(state, blob)
    state.restored = blob is not None
    saver = Autosaver(state, file)
    saver.start()
    return saver
