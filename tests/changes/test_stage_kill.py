"""A process killed (SIGKILL) while it stages a large read leaves no partial stage: a
reader finds every stage whole or not at all ("gone": the sensor then reads the range
from Xero once, see test_handover.py). The stage is one INSERT in one transaction and its
token reaches the task only in the trigger's event, after the commit; this shows the
database keeps that promise when the writer dies mid-write, on SQLite (WAL) and
PostgreSQL, with a reader polling all the while."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from xero_provider.state.staged_reads import StagedReads, staged_table

REPO = Path(__file__).resolve().parents[2]
RECORDS = 5_000  # about 2.2 MB of JSON, 1.2 MB compressed
# "hold": the second put stops between its INSERT and its COMMIT (the worst moment) and
# is killed there; "random": puts run back to back and one is killed at a random moment.
# Each writer is a fresh interpreter (about 4 s to import the provider on a busy machine).
MODES = ("hold", "random")

WRITER = """
import contextlib, os, sys, time
from xero_provider.state.staged_reads import StagedReads
url, range_key, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
records = [{"InvoiceID": f"{n:08d}", "Blob": os.urandom(200).hex()} for n in range(count)]
stages = StagedReads(url)
real, hold = stages._store.transaction, []

@contextlib.contextmanager
def transaction(write):
    with real(write) as conn:
        yield conn
        if write and hold:
            print("inserted", flush=True)
            time.sleep(60)  # killed here, before the commit

stages._store.transaction = transaction
print("ready", flush=True)
while True:
    print("committed", stages.put(range_key, records), flush=True)
    hold.append(mode == "hold")
    hold[:] = [h for h in hold if h]
"""


def _tokens(url: str, range_key: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(staged_table.c.token).where(staged_table.c.range_key == range_key)
            return [t for (t,) in conn.execute(query)]
    finally:
        engine.dispose()


def _check_whole(stages: StagedReads, range_key: str, tokens: list[str]) -> int:
    """Every listed stage is whole (all RECORDS, in order) or gone; returns how many whole."""
    whole = 0
    for token in tokens:
        records = stages.get(token, range_key)
        if records is None:
            continue  # gone: the sensor reads its range once
        assert len(records) == RECORDS, f"partial stage: {len(records)} of {RECORDS}"
        assert records[-1]["InvoiceID"] == f"{RECORDS - 1:08d}"
        whole += 1
    return whole


def _run_writer(url: str, range_key: str, mode: str, rng: random.Random) -> set[str]:
    """Start a writer, kill it mid-put (``mode``); the tokens it committed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, range_key, str(RECORDS), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    committed = set()
    try:
        assert writer.stdout.readline().strip() == "ready"
        started = time.monotonic()
        line = writer.stdout.readline().split()
        assert line[0] == "committed", line
        committed.add(line[1])
        put_seconds = time.monotonic() - started
        if mode == "hold":
            assert writer.stdout.readline().strip() == "inserted"
        else:
            time.sleep(rng.uniform(0.1, 0.9) * put_seconds)
        os.kill(writer.pid, signal.SIGKILL)
        for rest in writer.stdout.read().split("\n"):
            if rest.startswith("committed"):
                committed.add(rest.split()[1])
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait(30)
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    return committed


def test_a_writer_killed_mid_stage_leaves_whole_stages_or_none(store_url: str) -> None:
    url = store_url  # SQLite and PostgreSQL (tests/changes/conftest.py)
    run = uuid.uuid4().hex
    keys = {mode: f"kill-test-{run}-{mode}" for mode in MODES}  # one range per writer
    stages = StagedReads(url)
    committed: dict[str, set[str]] = {}
    checked: set[str] = set()
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:  # polls while the writers write and die
        while not stop.is_set():
            try:
                for key in keys.values():
                    fresh = [t for t in _tokens(url, key) if t not in checked]
                    _check_whole(stages, key, fresh)
                    checked.update(fresh)
            except Exception as error:
                problems.append(f"{type(error).__name__}: {error}")
            time.sleep(0.02)

    polling = threading.Thread(target=reader, daemon=True)
    polling.start()
    rng = random.Random(20)
    try:
        for mode in MODES:
            committed[mode] = _run_writer(url, keys[mode], mode, rng)
    finally:
        stop.set()
        polling.join(30)
    assert problems == []
    listed = {mode: _tokens(url, key) for mode, key in keys.items()}
    # killed between its INSERT and its COMMIT: no row of that put
    assert set(listed["hold"]) <= committed["hold"]
    # killed at a random moment: the put may have committed just before the kill, before
    # its caller learned the token; that stage is whole, nobody holds its token, and it
    # expires with STAGE_TTL. Never more than that one.
    assert len(set(listed["random"]) - committed["random"]) <= 1
    for mode, key in keys.items():
        assert _check_whole(stages, key, listed[mode]) == len(listed[mode]) >= 1
    assert checked  # the reader read stages while the writers ran
    # the token a killed put would have returned never existed: its task finds it gone
    assert stages.get("never-committed-token", keys["hold"]) is None
    for tokens in listed.values():
        for token in tokens:
            stages.discard(token)
