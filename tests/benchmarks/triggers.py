"""``python -m tests.benchmarks.triggers [--quick]``: many deferred change sensors on one
triggerer.

2 organisations x the 7 named sensors' resources = 14 feeds, with several waiting sensors
per feed (500 in all), each a :class:`XeroChangesTrigger` in watermark mode. They run as
the triggerer runs deferred tasks' triggers: all in one asyncio event loop in one process
(a spawned child, so its memory is its own). The sandbox enforces Xero's real limits
(60 calls a minute and 5 at once per organisation; the second organisation is on the
starter tier). Figures printed, and added to ``bench/results.json`` under ``triggers``:

* the triggerer process's memory before and with the triggers running;
* sandbox calls per poll cycle (target: at most one per feed, 14), against a baseline
  of unshared triggers measured in the same run;
* 429 answers (target 0);
* delay from a change to its event (target: within one poll interval plus 5 s).

Exit status 0 when every target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results.json"
RESOURCES = [
    "Contacts",
    "Bills",
    "SalesInvoices",
    "Payments",
    "Quotes",
    "CreditNotes",
    "BankTransactions",
]
SETTLE = 2.0


def _env(scratch: Path) -> None:
    from cryptography.fernet import Fernet

    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow_home")
    os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def triggerer(config: dict[str, Any], events: Any, control: Any) -> None:
    """The child: run ``config["count"]`` triggers in one loop; report events and memory."""
    os.environ.update(config["env"])
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"  # figures, not each poll's log

    from xero_provider.triggers import XeroChangesTrigger
    from xero_provider.triggers.feed import Feed, Position, ceil_second

    async def main() -> None:
        start = Position(ceil_second(int(time.time() * 1000)))
        pairs = [(t, r) for t in config["tenants"] for r in RESOURCES]
        triggers = []
        for n in range(config["count"]):
            tenant, resource = pairs[n % len(pairs)]
            trigger = XeroChangesTrigger(
                xero_conn_id=config["conn_id"],
                tenant_id=tenant,
                feed=Feed.build(resource).to_json(),
                mode="watermark",
                lower=start.to_json(),
                settle_seconds=SETTLE,
                poll_interval=config["poll"],
                share=config["share"],
            )
            triggers.append(((tenant, resource), trigger))
        before = _rss()

        async def run(pair, trigger) -> None:
            async for event in trigger.run():
                events.put({"pair": list(pair), "at": time.time(), "payload": event.payload})

        tasks = [asyncio.create_task(run(p, t)) for p, t in triggers]
        await asyncio.sleep(config["poll"] * 1.5)
        events.put({"memory": {"before": before, "running": _rss()}})
        while control.empty():
            await asyncio.sleep(0.2)
        await asyncio.wait(tasks, timeout=config["poll"] * 3 + 30)
        for task in tasks:
            task.cancel()
        events.put({"memory_end": _rss(), "done": True})

    asyncio.run(main())


def _make_changes(sandbox: Any, tenants: list[str]) -> dict[tuple[str, str], float]:
    """One new record per feed; returns when each was made."""
    made = {}
    for tenant in tenants:
        contact = sandbox.control(
            "POST", "/generate", json={"tenant_id": tenant, "resource": "Contacts", "count": 1}
        ).json()["first"][0]
        made[(tenant, "Contacts")] = time.time()
        for resource, kind in [
            ("SalesInvoices", "Invoices"),
            ("Payments", "Payments"),
            ("Quotes", "Quotes"),
            ("CreditNotes", "CreditNotes"),
            ("BankTransactions", "BankTransactions"),
        ]:
            body = {"tenant_id": tenant, "resource": kind, "count": 1}
            sandbox.control("POST", "/generate", json=body)
            made[(tenant, resource)] = time.time()
        bill = {
            "Type": "ACCPAY",
            "Contact": {"ContactID": contact},
            "LineItems": [
                {"Description": "b", "Quantity": 1, "UnitAmount": 10, "AccountCode": "400"}
            ],
        }
        sandbox.control("POST", "/seed", json={"records": {tenant: {"Invoices": [bill]}}})
        made[(tenant, "Bills")] = time.time()
    return made


def _list_calls(sandbox: Any) -> list[dict[str, Any]]:
    return [
        e
        for e in sandbox.requests(method="GET")
        if e["path"].startswith("/api.xro/2.0/") and e["path"].count("/") == 3
    ]


def phase(sandbox: Any, conn_id: str, count: int, poll: float, cycles: int, share: bool) -> dict:
    """Start ``count`` triggers in a child; measure calls per cycle, 429s, delay, memory."""
    context = multiprocessing.get_context("spawn")
    events, control = context.Queue(), context.Queue()
    tenants = [sandbox.demo.tenant_id, sandbox.demo.second_tenant_id]
    env = {k: v for k, v in os.environ.items() if k.startswith(("AIRFLOW", "XERO"))}
    config = {
        "env": env,
        "conn_id": conn_id,
        "tenants": tenants,
        "count": count,
        "poll": poll,
        "share": share,
    }
    child = context.Process(target=triggerer, args=(config, events, control), daemon=True)
    child.start()
    try:
        memory = events.get(timeout=300)["memory"]
        sandbox.control("DELETE", "/requests")
        time.sleep(poll * cycles)
        calls = _list_calls(sandbox)
        made = _make_changes(sandbox, tenants)
        control.put("go")
        fired: list[dict] = []
        end = None
        deadline = time.time() + poll * 3 + 60
        while time.time() < deadline:
            item = events.get(timeout=deadline - time.time())
            if "done" in item:
                end = item["memory_end"]
                break
            fired.append(item)
        delays = [e["at"] - made[tuple(e["pair"])] for e in fired if e["payload"]["count"]]
        every = _list_calls(sandbox)
        return {
            "triggers": count,
            "share": share,
            "poll_interval_s": poll,
            "calls_per_cycle": round(len(calls) / cycles, 2),
            "rate_limited_429": sum(1 for e in every if e["status"] == 429),
            "events": len(fired),
            "errors": sum(1 for e in fired if e["payload"].get("status") != "success"),
            "delay_p50_s": round(statistics.median(delays), 2) if delays else None,
            "delay_max_s": round(max(delays), 2) if delays else None,
            "rss_before_mb": round(memory["before"] / 2**20, 1),
            "rss_running_mb": round(memory["running"] / 2**20, 1),
            "rss_end_mb": round((end or 0) / 2**20, 1),
        }
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
            child.join(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="140 triggers, shorter cycles")
    args = parser.parse_args(argv)
    count, poll, cycles = (140, 8.0, 2) if args.quick else (500, 10.0, 3)
    with tempfile.TemporaryDirectory(prefix="xero-trigger-bench-") as scratch:
        _env(Path(scratch))
        from tests.benchmarks.harness import real_limits
        from xero_sandbox.testing import SandboxServer

        with SandboxServer(seed_demo=True) as sandbox:
            sandbox.control("PUT", "/limits", json=real_limits(1.0, latency_ms=20))
            conn_id = _connection(sandbox, Path(scratch))
            # Unshared, each trigger reads for itself: 2 per feed, polling half as often so
            # 14 calls per organisation per cycle stay under Xero's 60 a minute.
            print(f"[1/2] baseline: 28 unshared triggers, {2 * poll:.0f} s polls", file=sys.stderr)
            baseline = phase(sandbox, conn_id, 28, 2 * poll, 2, share=False)
            time.sleep(61)  # a fresh Xero minute for the next phase
            print(f"[2/2] {count} shared triggers on one loop", file=sys.stderr)
            shared = phase(sandbox, conn_id, count, poll, cycles, share=True)
    per_trigger_base = baseline["calls_per_cycle"] / baseline["triggers"]
    per_trigger = shared["calls_per_cycle"] / shared["triggers"]
    report = {
        "baseline_unshared": baseline,
        "shared": shared,
        "calls_per_trigger_ratio": round(per_trigger / per_trigger_base, 4),
        "targets": {
            "calls_per_cycle_max": 14,
            "rate_limited_429": 0,
            "delay_max_s": poll + 5,
        },
    }
    met = (
        shared["calls_per_cycle"] <= 14
        and shared["rate_limited_429"] == 0
        and shared["delay_max_s"] is not None
        and shared["delay_max_s"] <= poll + 5
        and shared["events"] == count
        and shared["errors"] == 0
    )
    report["targets_met"] = met
    print(json.dumps(report, indent=2))
    _save(report)
    return 0 if met else 1


def _connection(sandbox: Any, scratch: Path) -> str:
    """One connection granted both organisations (the triggers override the tenant)."""
    tokens = sandbox.tokens(tenant_ids=[sandbox.demo.tenant_id, sandbox.demo.second_tenant_id])
    conn_id = "xero_bench_triggers"
    body = {
        "conn_type": "xero",
        "login": sandbox.demo.web_client_id,
        "password": sandbox.demo.web_client_secret,
        "extra": {
            "tenant_id": sandbox.demo.tenant_id,
            "api_base_url": sandbox.url,
            "identity_base_url": sandbox.url,
            "login_base_url": sandbox.url,
            "token_store": f"sqlite:///{scratch / 'tokens.db'}",
            "token_key": conn_id,
            "refresh_token": tokens["refresh_token"],
        },
    }
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(body)
    return conn_id


def _save(report: dict[str, Any]) -> None:
    """Add the figures under ``triggers`` in bench/results.json, keeping the rest."""
    current: dict[str, Any] = {}
    if RESULTS.exists():
        try:
            current = json.loads(RESULTS.read_text())
        except ValueError:
            current = {}
    current["triggers"] = report
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(current, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
