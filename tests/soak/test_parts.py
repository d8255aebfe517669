"""The soak's parts on their own, against the sandbox (no Airflow): the faults it installs
come at about the share asked for and of every kind, and the stream's careful writer
neither loses nor doubles a change when a third of its calls fail."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

import httpx

from xero_sandbox.testing import SandboxServer
from xero_soak.chaos import Tally, install_faults
from xero_soak.stream import CarefulWriter, Stream


def test_faults_come_at_the_share_asked_and_of_every_kind(sandbox: SandboxServer) -> None:
    sandbox.control("PUT", "/limits", json={"enabled": False})  # only injected 429s
    before = Tally()
    before.read(sandbox)  # a call of an earlier test logged after the reset is not counted
    tally = Tally(seen_seq=before.seen_seq)
    install_faults(sandbox, fraction=0.10, seed=7)
    token = sandbox.tokens()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": sandbox.demo.tenant_id}
    with httpx.Client(base_url=f"{sandbox.url}/api.xro/2.0", headers=headers) as client:
        for _ in range(800):
            with contextlib.suppress(httpx.TransportError):  # a dropped connection
                client.get("Currencies")
    tally.read(sandbox)
    figures = tally.figures()
    assert figures["api_calls"] == 800
    assert 0.08 <= figures["fault_share"] <= 0.12, figures
    assert set(figures["faults_injected"]) == {"500", "503", "429", "dropped after commit"}
    assert figures["429_not_injected"] == 0


def test_the_stream_loses_and_doubles_nothing_under_faults(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    tenants = [sandbox.demo.tenant_id, sandbox.demo.second_tenant_id]
    install_faults(sandbox, fraction=0.30, seed=3)
    writer = CarefulWriter(sandbox, tenants, "parts")
    stream = Stream(writer, tenants, seed=5, log_path=tmp_path / "stream.jsonl")
    for _ in range(4):
        stream.round()
    writer.close()
    sandbox.control("DELETE", "/faults")
    assert writer.retries > 0  # the faults hit the stream
    feeds = Counter(c.feed for c in stream.changes)
    assert feeds == {
        "contacts": 8,
        "bills": 4,
        "sales_invoices": 4,
        "credit_notes": 4,
        "payments": 8,
        "bank_transactions": 4,
    }
    for tenant in tenants:
        contacts = sandbox.control("GET", f"/state/{tenant}/Contacts").json()["Contacts"]
        names = Counter(c["Name"] for c in contacts if c["Name"].startswith("Soak "))
        assert len(names) == 4 and set(names.values()) == {1}, names  # none twice
        notes = sandbox.control("GET", f"/state/{tenant}/CreditNotes").json()["CreditNotes"]
        logged = {c.record_id for c in stream.changes if c.feed == "credit_notes"}
        ours = {n["CreditNoteID"] for n in notes if n["CreditNoteID"] in logged}
        assert len(ours) == 2  # every logged change is in Xero


class _Components:
    """What the killer needs of a stack: its processes, kill and launch (no Airflow)."""

    def __init__(self) -> None:
        self.processes = dict.fromkeys(["worker-1", "worker-2", "triggerer", "scheduler"])
        self.killed: list[str] = []

    def kill(self, name: str) -> None:
        self.processes.pop(name)
        self.killed.append(name)

    def launch(self, name: str) -> None:
        self.processes[name] = None


def test_the_killer_waits_for_the_chaos_then_kills_every_kind_in_a_cycle() -> None:
    import time

    from xero_soak.killer import Killer

    stack = _Components()
    killer = Killer(stack, every=0.001, seed=26)  # type: ignore[arg-type]
    time.sleep(0.01)
    assert killer.step() is None and stack.killed == []  # set-up: nothing is killed
    killer.start()
    time.sleep(0.01)
    first = killer.step()
    assert first is not None and stack.killed == [first]
    while len(stack.killed) < 3:  # each comes back, then the next kind goes
        for name in list(killer.down):
            killer.down[name] = 0.0
        time.sleep(0.002)
        killer.step()
    kinds = {name.split("-")[0] for name in stack.killed}
    assert kinds == {"worker", "triggerer", "scheduler"}, stack.killed


def test_a_sync_counts_as_under_the_chaos_when_it_ran_at_some_time_in_it() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from xero_soak.run import Soak

    def run(start: str | None, end: str | None) -> dict:
        return {"start_date": start, "end_date": end}

    runs = {
        "sync_a": [
            run("2026-12-08T00:00:00Z", "2026-12-08T00:04:00Z"),  # ended before it
            run("2026-12-08T00:04:00Z", "2026-12-08T00:06:00Z"),  # began before, ended in it
            run("2026-12-08T00:09:00Z", None),  # still running at the end
            run("2026-12-08T00:11:00Z", "2026-12-08T00:12:00Z"),  # began after it
        ],
        "sync_b": [run(None, None), run("2026-12-08T00:01:00Z", "2026-12-08T00:11:00Z")],
    }
    soak = SimpleNamespace(
        chaos_window=(
            datetime(2026, 12, 8, 0, 5, tzinfo=UTC),
            datetime(2026, 12, 8, 0, 10, tzinfo=UTC),
        ),
        sync_dags=["sync_a", "sync_b"],
        stack=SimpleNamespace(runs=lambda dag_id: runs[dag_id]),
    )
    assert Soak.syncs_under_chaos(soak) == {"sync_a": 2, "sync_b": 1}  # queued: not counted
