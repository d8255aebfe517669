"""The soak's Xero faults, and its tally of what the sandbox saw.

About ``fraction`` of Accounting API calls fail, split between: a 500 or 503 before any
work, the connection dropped after Xero committed the work (the client never hears of a
write that happened), and a 429 with ``Retry-After`` (Xero's rate-limit answer:
developer.xero.com/documentation/guides/oauth2/limits, API_NOTES.md "Rate limits"). The
sandbox draws them from one seeded generator, in rule order; each rule's fraction is of
the calls the rules before it let through, so the shares below are of all calls.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from xero_sandbox.testing import SandboxServer

API_PATHS = r"^/api\.xro/2\.0/"
# share of the fault budget per kind (sums to 1)
KINDS = (
    ({"status": 503}, 0.2),
    ({"status": 500}, 0.2),
    ({"drop": True, "after_commit": True}, 0.3),
    ({"status": 429, "retry_after": 2}, 0.3),
)


def install_faults(sandbox: SandboxServer, fraction: float, seed: int) -> list[dict[str, Any]]:
    """Replace the sandbox's faults with the soak's; returns the rules installed."""
    sandbox.control("DELETE", "/faults")
    left = 1.0  # share of calls the rules so far let through
    for index, (rule, share) in enumerate(KINDS):
        wanted = fraction * share
        body = {**rule, "path": API_PATHS, "fraction": min(wanted / left, 1.0)}
        if index == 0:
            body["seed"] = seed
        sandbox.control("POST", "/faults", json=body)
        left -= wanted
    return sandbox.control("GET", "/faults").json()


def fault_kind(fault: dict[str, Any] | None) -> str | None:
    if not fault:
        return None
    if fault.get("drop"):
        return "dropped after commit" if fault.get("after_commit") else "dropped"
    return str(fault.get("status"))


@dataclass
class Tally:
    """Counts of Airflow's calls from the sandbox's request log, read as it grows (it keeps
    the last 50,000 entries: reading often loses none). The stream's calls (its own app)
    are counted apart: faults hit them too, but they are not Airflow's."""

    seen_seq: int = 0
    api_calls: int = 0
    by_status: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    uninjected_429: list[dict[str, Any]] = field(default_factory=list)
    lost_entries: int = 0
    stream_client: str = ""  # the stream's app: its calls are not Airflow's
    stream_calls: int = 0
    calls_before_faults: int = 0

    def read(self, sandbox: SandboxServer) -> None:
        entries = sandbox.requests(since=self.seen_seq)
        if entries and entries[0]["seq"] > self.seen_seq + 1:
            self.lost_entries += entries[0]["seq"] - self.seen_seq - 1
        for entry in entries:
            self.seen_seq = max(self.seen_seq, entry["seq"])
            if not entry["path"].startswith("/api.xro/"):
                continue
            if entry.get("client_id") == self.stream_client:
                self.stream_calls += 1
                continue
            self.api_calls += 1
            self.by_status[str(entry.get("status"))] += 1
            kind = fault_kind(entry.get("fault"))
            if kind:
                self.faults[kind] += 1
            elif entry.get("status") == 429:
                keep = ("time", "method", "path", "tenant_id", "client_id", "seq")
                keep += ("rate_limit_problem",)  # which of Xero's limits refused it
                self.uninjected_429.append({k: entry.get(k) for k in keep})

    def figures(self) -> dict[str, Any]:
        injected = sum(self.faults.values())
        under_faults = self.api_calls - self.calls_before_faults
        return {
            "api_calls": self.api_calls,
            "stream_api_calls": self.stream_calls,
            "faults_injected": dict(self.faults),
            "fault_share": round(injected / under_faults, 3) if under_faults else 0,
            "429_not_injected": len(self.uninjected_429),
            "request_log_entries_lost": self.lost_entries,
        }
