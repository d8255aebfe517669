"""``python -m tests.benchmarks.triggers [--quick]``: 500 deferred change sensors on one
real ``airflow triggerer``.

**What is real.** A real Airflow 3 (:mod:`xero_demo.stack`: api-server, scheduler,
dag-processor and triggerer as separate processes, LocalExecutor, SQLite metadata
database, loopback only) runs one DAG (:mod:`tests.benchmarks.sensor_fleet`): the seven
named sensors, each a mapped task in watermark mode with ``deferrable=True``, spread over
2 organisations x 7 resources = 14 feeds, about 36 task instances per feed (500 in all;
``--quick``: 2 per feed, 28). Every task instance starts in a worker task process, claims
its watermark and defers; the one ``airflow triggerer`` runs the 500 triggers; after a
change each trigger delivers what it read and ends its task itself (``end_from_trigger``:
no worker after the event, no second read). ``--worker-baseline`` first runs the same
fleet with ``end_from_trigger=False``: each event goes back to a worker, which delivers
the records the trigger handed over. ``--reread-baseline`` first runs the same fleet the
way it worked before handover (each task reads its range from Xero again; a DAG of the
same sensors with ``hand_over_records = False``), on the same stack: the before figures. The sandbox
(its own process) enforces Xero's real limits: 60 calls a minute and 5 at once per
organisation.

**Not throttled by the daily call plan.** This measures sensors, not the plan: the
connection says ``call_plan: off`` (every trigger polls at the DAG's 10 s), the demo app
is on the Advanced tier, and the sandbox gives its Starter-tier organisation the standard
5,000 calls a day. Otherwise the plan would pace that organisation to its 1,000 a day (a
poll every few minutes: its events would not fire within the run), and two 500-sensor
fleets polling 7 feeds every 10 s would use up its 1,000. ``FLEET_CONFIGURATION`` is
printed and saved with the figures.

**Measured from outside the triggers**, printed and written under ``triggers`` in
``bench/results.json`` (the rest of the file is kept):

* the triggerer's memory: RSS and USS summed over the ``airflow triggerer`` process and
  every process under it (supervisor and trigger runner), before the DAG run and with
  all sensors deferred and polling (``psutil``);
* sandbox list calls per poll cycle, from the sandbox's request log, counted over whole
  cycles once every trigger runs (target: at most one per feed, 14);
* 429 answers over the whole run: deferral, polls, events and the workers' reads (target 0);
* delay from a change (one new record per feed, made through the sandbox's control API
  at the worst moment: just after a poll tick's newest readable instant, so only the
  next tick can see it; timed from when the request was sent) to its event, the event's
  time taken from Airflow: the triggerer's "Trigger fired event" line in the task's
  trigger log (target: one poll interval plus 5 s); also reported, not a target: when
  the metadata database first shows the task instance out of ``deferred`` (polled every
  0.5 s; SQLite takes the triggerer's 500 writes one at a time);
* that every sensor succeeded and delivered the change (task states and ``ids`` XComs),
  and how long deferring all of them and finishing them took (``finish_all_after_events_s``:
  from the events seen in the database to every task finished; ``finished_after_event_s``:
  each task's ``end_date`` less its trigger's "Trigger fired event" time, and
  ``last_finished_after_last_event_s``: the last ``end_date`` less the last event;
  ``change_to_task_end_s``: each task's ``end_date`` less its change's request, the end
  to end figure: a trigger that ends its task pushes its XComs before its "fired" line);
* extra calls: list calls on a feed after its first event fired (every trigger of a
  feed fires from one shared poll, so these are the tasks' own reads; target 0), and
  every call of any kind after the last event.

**What is not.** The unshared baseline (28 triggers with ``share=False``, 2 a feed,
polling every 2 poll intervals so they stay under Xero's minute limit) runs in-process:
a spawned child runs them on one asyncio loop as a triggerer would, while Airflow starts
(a second real Airflow would double the run's length). It gives calls per cycle only.
The machine is shared, so durations vary with its load; the targets do not depend on them.

Exit status 0 only when every target is met and every sensor succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results.json"
COMPARISON = REPO / "bench" / "sensor_end_from_trigger_measured.json"  # --worker-baseline
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
DAG_ID = "xero_bench_sensors"
# What keeps the daily call plan from pacing the fleet (module docstring); in the report.
FLEET_CONFIGURATION = {
    "call_plan": "off (connection extra): triggers poll at the DAG's poke_interval",
    "app_tier": "advanced (sandbox app)",
    "day_limit_per_organisation": 5000,
    "why": "the benchmark measures the sensors, not the plan: on the plan the Starter-tier "
    "organisation (1,000 calls a day) polls once every few minutes",
}
REREAD_DAG_ID = "xero_bench_sensors_reread"
WORKER_DAG_ID = "xero_bench_sensors_worker"


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

    from xero_provider.state.feed import Feed, Position, ceil_second
    from xero_provider.triggers import XeroChangesTrigger

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
        if control.get() == "go":
            await asyncio.wait(tasks, timeout=config["poll"] * 3 + 30)
        for task in tasks:
            task.cancel()
        events.put({"memory_end": _rss(), "done": True})

    asyncio.run(main())


def _make_changes(sandbox: Any, tenants: list[str]) -> dict[tuple[str, str], float]:
    """One new record per feed; returns when each request was sent (delays err long)."""
    made = {}
    for tenant in tenants:
        made[(tenant, "Contacts")] = time.time()
        contact = sandbox.control(
            "POST", "/generate", json={"tenant_id": tenant, "resource": "Contacts", "count": 1}
        ).json()["first"][0]
        for resource, kind in [
            ("SalesInvoices", "Invoices"),
            ("Payments", "Payments"),
            ("Quotes", "Quotes"),
            ("CreditNotes", "CreditNotes"),
            ("BankTransactions", "BankTransactions"),
        ]:
            made[(tenant, resource)] = time.time()
            body = {"tenant_id": tenant, "resource": kind, "count": 1}
            sandbox.control("POST", "/generate", json=body)
        bill = {
            "Type": "ACCPAY",
            "Contact": {"ContactID": contact},
            "LineItems": [
                {"Description": "b", "Quantity": 1, "UnitAmount": 10, "AccountCode": "400"}
            ],
        }
        made[(tenant, "Bills")] = time.time()
        sandbox.control("POST", "/seed", json={"records": {tenant: {"Invoices": [bill]}}})
    return made


def _list_calls(sandbox: Any, since: int = 0) -> list[dict[str, Any]]:
    """The accounting list calls (GET of a whole resource) logged after ``since``."""
    return [
        e
        for e in sandbox.requests(method="GET", since=since)
        if e["path"].startswith("/api.xro/2.0/") and e["path"].count("/") == 3
    ]


def baseline(sandbox: Any, conn_id: str, poll: float, cycles: int) -> dict[str, Any]:
    """28 unshared triggers (2 a feed) on one loop in a spawned child: calls per cycle."""
    context = multiprocessing.get_context("spawn")
    events, control = context.Queue(), context.Queue()
    tenants = [sandbox.demo.tenant_id, sandbox.demo.second_tenant_id]
    env = {k: v for k, v in os.environ.items() if k.startswith(("AIRFLOW", "XERO"))}
    config = {
        "env": env,
        "conn_id": conn_id,
        "tenants": tenants,
        "count": 2 * len(tenants) * len(RESOURCES),
        "poll": poll,
        "share": False,
    }
    child = context.Process(target=triggerer, args=(config, events, control), daemon=True)
    child.start()
    try:
        memory = events.get(timeout=300)["memory"]
        since = _last_seq(sandbox)
        time.sleep(poll * cycles)
        calls = _list_calls(sandbox, since)
        control.put("stop")
        return {
            "where": "in-process: a spawned child runs the triggers on one asyncio loop, "
            "as the triggerer would (not a real triggerer)",
            "triggers": config["count"],
            "share": False,
            "poll_interval_s": poll,
            "cycles": cycles,
            "calls_per_cycle": round(len(calls) / cycles, 2),
            "rate_limited_429": sum(1 for e in calls if e["status"] == 429),
            "rss_before_mb": round(memory["before"] / 2**20, 1),
            "rss_running_mb": round(memory["running"] / 2**20, 1),
        }
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
            child.join(10)


def _last_seq(sandbox: Any) -> int:
    entries = sandbox.requests()
    return entries[-1]["seq"] if entries else 0


def airflow_run(sandbox: Any, stack: Any, fleet: Any, poll: float, cycles: int) -> dict:
    """The sensor DAG's run on the started stack: deferral, polls, events, completion."""
    from tests.benchmarks.sensor_fleet import progress, triggerer_memory
    from xero_provider.triggers.shared_poll import next_tick

    count = fleet.count
    memory_before = triggerer_memory(stack)
    began, since = time.monotonic(), _last_seq(sandbox)
    fleet.start()
    fleet.wait(fleet.all_deferred, 1800, f"{count} sensors to defer")
    deferred_s = time.monotonic() - began
    fleet.wait(fleet.all_running, 300, f"{count} triggers to run in the triggerer")
    time.sleep(poll + 2)  # every trigger has polled once: the steady state
    memory_running = triggerer_memory(stack)
    progress(f"all {count} deferred after {deferred_s:.0f} s; counting {cycles} poll cycles")
    cycle_from = _last_seq(sandbox)
    time.sleep(poll * cycles)
    steady = _list_calls(sandbox, cycle_from)
    # The worst moment for a change: just after a poll tick's newest readable instant
    # (tick - settle), so that tick misses it and the next one, a poll interval later, sees it.
    now = time.time()
    time.sleep((next_tick(poll, now + SETTLE) - SETTLE - now + 0.2) % poll)
    progress("one change per feed, just after a poll tick's newest readable instant")
    made = _make_changes(sandbox, fleet.tenants)
    left = fleet.watch_events(poll * 3 + 60)
    events_at = time.monotonic()
    seen = _delays(fleet, made, left)
    fleet.wait(fleet.finished, 1800, f"{count} sensors to finish")
    finished_s = time.monotonic() - events_at
    outcome = fleet.outcome()
    fired = fleet.fired_at()  # read once every trigger log is long written
    delays = _delays(fleet, made, fired)
    every = _list_calls(sandbox, since)
    extra = _calls_after_events(fleet, fired, every)
    ended = fleet.end_dates()
    after_event = [ended[k] - at for k, at in fired.items() if k in ended]
    # end to end: from the change's request to the task's end (when a trigger ends its
    # task, its claim and XCom pushes come before its "fired" line, so event to end
    # alone leaves them out)
    after_change = [at - made[fleet.pair_of[k]] for k, at in ended.items()]
    logged = sandbox.requests(since=since)
    after_all = [e for e in logged if fired and _epoch(e) > max(fired.values())]
    # every call to Xero's API from this fleet's start to its last task's end (polls while
    # deferring and waiting included; token calls are not API calls)
    api_calls = [e for e in logged if e["path"].startswith("/api.xro/")]
    return {
        "where": "real Airflow 3 (LocalExecutor, SQLite): deferred sensor task instances, "
        "their triggers run by one `airflow triggerer` process",
        "sensors": count,
        "poll_interval_s": poll,
        "cycles": cycles,
        "defer_all_s": round(deferred_s, 1),
        "finish_all_after_events_s": round(finished_s, 1),
        "hand_over_records": fleet.dag_id != REREAD_DAG_ID,
        "end_from_trigger": fleet.dag_id == DAG_ID,
        "finished_after_event_s": _quantiles(after_event),
        "change_to_task_end_s": _quantiles(after_change),
        "last_finished_after_last_event_s": round(max(ended.values()) - max(fired.values()), 2)
        if ended and fired
        else None,
        "extra_calls_after_events": extra,
        "calls_to_xero": len(api_calls),
        "calls_after_the_last_event": len(after_all),
        "calls_per_cycle": round(len(steady) / cycles, 2),
        "calls_per_cycle_by_tenant": _by_tenant(steady, cycles),
        "calls_per_cycle_by_feed": _by_feed(steady, cycles),
        "rate_limited_429": sum(1 for e in every if e["status"] == 429),
        "refused_by_limit": dict(sandbox.control("GET", "/limits").json()["refused"]),
        "rate_limited_calls": [
            {k: e.get(k) for k in ("time", "method", "path", "query", "tenant_id")}
            for e in every
            if e["status"] == 429
        ][:10],
        "list_calls_total": len(every),
        "events": len(fired),
        "events_seen_in_db": len(left),
        "delay_s": delays,
        "delay_until_seen_in_db_s": seen,
        "event_time": "delay_s: the triggerer's 'Trigger fired event' log line; "
        "delay_until_seen_in_db_s: the task instance first seen out of 'deferred' in the "
        "metadata database (polled every 0.5 s)",
        "task_states": outcome["states"],
        "delivered_changes": outcome["delivered"],
        "triggerer_before_deferral": memory_before,
        "triggerer_with_sensors_running": memory_running,
    }


def _quantiles(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": round(statistics.median(values), 2) if values else None,
        "max": round(max(values), 2) if values else None,
    }


def _epoch(entry: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()


def _feed_of(entry: dict[str, Any]) -> tuple[str, str]:
    """(organisation, resource) of a list call; Bills and SalesInvoices by their Type."""
    from urllib.parse import parse_qs

    name = entry["path"].rsplit("/", 1)[-1]
    if name == "Invoices":
        where = parse_qs(entry.get("query") or "").get("where", [""])[0]
        name = "Bills" if '"ACCPAY"' in where else "SalesInvoices"
    return str(entry.get("tenant_id")), name


def _calls_after_events(fleet: Any, fired: dict, calls: list[dict[str, Any]]) -> int:
    """List calls on a feed made after its first sensor's event fired: every trigger of a
    feed fires from one shared poll, so these are the tasks' own reads (the second read)."""
    first: dict[tuple[str, str], float] = {}
    for key, at in fired.items():
        feed = fleet.pair_of[key]
        first[feed] = min(first.get(feed, at), at)
    return sum(1 for e in calls if _feed_of(e) in first and _epoch(e) > first[_feed_of(e)])


def _delays(fleet: Any, made: dict, times: dict[tuple[str, int], float]) -> dict[str, Any]:
    """Median, min and max delay from each feed's change to its sensors' event times."""
    delays = [at - made[fleet.pair_of[key]] for key, at in times.items()]
    worst: dict[str, float] = {}
    for key, at in times.items():
        tenant, resource = fleet.pair_of[key]
        name = f"{resource}@{tenant[:8]}"
        worst[name] = round(max(worst.get(name, 0.0), at - made[(tenant, resource)]), 2)
    if not delays:
        return {"p50": None, "min": None, "max": None, "max_by_feed": {}}
    return {
        "p50": round(statistics.median(delays), 2),
        "min": round(min(delays), 2),
        "max": round(max(delays), 2),
        "max_by_feed": worst,
    }


def _by_feed(calls: list[dict[str, Any]], cycles: int) -> dict[str, float]:
    """Calls per cycle per organisation, path and ``where`` (Bills and SalesInvoices share
    a path)."""
    import re
    from urllib.parse import parse_qs

    counts: dict[str, int] = {}
    for entry in calls:
        where = parse_qs(entry.get("query") or "").get("where", [""])[0]
        kind = "".join(re.findall(r'Type=="\w+"', where))  # not the moving time bound
        name = f"{str(entry.get('tenant_id'))[:8]} {entry['path'].rsplit('/', 1)[-1]} {kind}"
        counts[name.strip()] = counts.get(name.strip(), 0) + 1
    return {name: round(n / cycles, 2) for name, n in sorted(counts.items())}


def _by_tenant(calls: list[dict[str, Any]], cycles: int) -> dict[str, float]:
    counts: dict[str, int] = {}
    for entry in calls:
        tenant = entry.get("tenant_id")
        counts[str(tenant)] = counts.get(str(tenant), 0) + 1
    return {t: round(n / cycles, 2) for t, n in counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="28 sensors, shorter cycles")
    parser.add_argument("--parallelism", type=int, default=6, help="Airflow task processes")
    parser.add_argument("--logs", type=Path, help="copy the Airflow components' logs here")
    parser.add_argument(
        "--reread-baseline",
        action="store_true",
        help="first run the same fleet the old way (each task reads its range again)",
    )
    parser.add_argument(
        "--worker-baseline",
        action="store_true",
        help="first run the same fleet resumed on workers (end_from_trigger=False)",
    )
    args = parser.parse_args(argv)
    # 10 s polls: 7 feeds an organisation poll 42 times a minute, under Xero's 60
    count, poll, cycles = (28, 10.0, 2) if args.quick else (500, 10.0, 3)
    started = time.monotonic()
    reread: dict[str, Any] | None = None
    on_worker: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="xero-trigger-bench-") as scratch:
        _env(Path(scratch))
        from tests.benchmarks.harness import real_limits
        from tests.benchmarks.sensor_fleet import Fleet, start_in_background, write_dag
        from xero_demo.stack import AirflowStack, StackConfig
        from xero_sandbox.testing import SandboxServer

        with SandboxServer(seed_demo=True) as sandbox:
            limits = real_limits(1.0, latency_ms=20)
            limits["per_day_starter"] = FLEET_CONFIGURATION["day_limit_per_organisation"]
            sandbox.control("PUT", "/limits", json=limits)
            client_id = sandbox.demo.web_client_id
            sandbox.control("PUT", f"/apps/{client_id}", json={"tier": "advanced"})
            print(f"fleet configuration: {json.dumps(FLEET_CONFIGURATION)}", file=sys.stderr)
            conn_id = _connection(sandbox, Path(scratch))
            tenants = [sandbox.demo.tenant_id, sandbox.demo.second_tenant_id]
            write = functools.partial(
                write_dag, Path(scratch) / "dags", tenants, count, conn_id, poll, SETTLE
            )
            write()
            if args.reread_baseline:
                write(dag_id=REREAD_DAG_ID, hand_over=False)
            if args.worker_baseline:
                write(dag_id=WORKER_DAG_ID, end_from_trigger=False)
            env = {
                f"AIRFLOW_CONN_{conn_id.upper()}": os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"],
                "AIRFLOW__TRIGGERER__CAPACITY": str(max(1000, count)),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2000",
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
                # a loaded machine answers the Execution API slowly: wait, do not fail tasks
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
                "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
            }
            config = StackConfig(
                home=Path(scratch) / "stack",
                dags_folder=Path(scratch) / "dags",
                parallelism=args.parallelism,
                env=env,
            )
            stack = AirflowStack(config)
            try:
                print("[1/3] starting Airflow; meanwhile the unshared baseline", file=sys.stderr)
                joined = start_in_background(stack)
                # Unshared, each trigger reads for itself: 2 per feed, polling half as often
                # so 14 calls per organisation per cycle stay under Xero's 60 a minute.
                base = baseline(sandbox, conn_id, 2 * poll, 1 if args.quick else 2)
                base_done = time.monotonic()
                joined()
                stack.wait_for_dags(
                    [
                        DAG_ID,
                        *([REREAD_DAG_ID] if args.reread_baseline else []),
                        *([WORKER_DAG_ID] if args.worker_baseline else []),
                    ]
                )
                if not args.quick:  # a fresh Xero minute (quick: the hook's budget paces)
                    time.sleep(max(0.0, 61 - (time.monotonic() - base_done)))

                def before(what: str, dag_id: str) -> Any:
                    """A baseline fleet's run, then a fresh Xero minute for the next fleet."""
                    print(f"[2/3] {count} sensors {what} (before)", file=sys.stderr)
                    fleet = Fleet(stack, tenants, count, dag_id=dag_id)
                    try:
                        figures = airflow_run(sandbox, stack, fleet, poll, cycles)
                    finally:
                        fleet.close()
                    if not args.quick:
                        time.sleep(61)
                    return figures

                if args.reread_baseline:
                    reread = before("that read again", REREAD_DAG_ID)
                if args.worker_baseline:
                    on_worker = before("finished by workers", WORKER_DAG_ID)
                print(f"[2/3] {count} deferred sensors in a real Airflow", file=sys.stderr)
                fleet = Fleet(stack, tenants, count)
                try:
                    shared = airflow_run(sandbox, stack, fleet, poll, cycles)
                finally:
                    fleet.close()
            finally:
                print("[3/3] stopping Airflow", file=sys.stderr)
                stack.stop()
                if args.logs:
                    shutil.copytree(stack.home / "stack-logs", args.logs, dirs_exist_ok=True)
                    if (stack.home / "logs").exists():
                        shutil.copytree(
                            stack.home / "logs", args.logs / "tasks", dirs_exist_ok=True
                        )
    per_sensor_base = base["calls_per_cycle"] / base["triggers"]
    per_sensor = shared["calls_per_cycle"] / shared["sensors"]
    feeds = len(tenants) * len(RESOURCES)
    report = {
        "mode": "quick" if args.quick else "full",
        "duration_s": round(time.monotonic() - started, 1),
        "parallelism": args.parallelism,
        "fleet_configuration": FLEET_CONFIGURATION,
        "baseline_unshared": base,
        "shared": shared,
        "reread_before_handover": reread,
        "finished_by_workers": on_worker,
        "calls_per_sensor_ratio": round(per_sensor / per_sensor_base, 4)
        if per_sensor_base
        else None,
        "targets": {
            "calls_per_cycle_max": feeds,
            "rate_limited_429": 0,
            "delay_max_s": poll + 5,
            "succeeded": count,
            "extra_calls_after_events": 0,
        },
    }
    met = (
        shared["calls_per_cycle"] <= feeds
        and shared["rate_limited_429"] == 0
        and shared["delay_s"]["max"] is not None
        and shared["delay_s"]["max"] <= poll + 5
        and shared["events"] == count
        and shared["events_seen_in_db"] == count
        and shared["task_states"].get("success") == count
        and shared["delivered_changes"] == count
        and shared["extra_calls_after_events"] == 0
    )
    report["targets_met"] = met
    if on_worker is not None:
        report["end_from_trigger_comparison"] = compare(on_worker, shared)
        report["end_from_trigger_comparison"]["mode"] = report["mode"]
        COMPARISON.write_text(json.dumps(report["end_from_trigger_comparison"], indent=2) + "\n")
    print(json.dumps(report, indent=2))
    for label, figures in (
        ("before (read again)", reread),
        ("before (finished by workers)", on_worker),
        ("after (ended by triggers)", shared),
    ):
        if figures:
            print(
                f"{label}: {figures['sensors']} sensors finished "
                f"{figures['finish_all_after_events_s']} s after their events were seen, the "
                f"last {figures['last_finished_after_last_event_s']} s after the last event, "
                f"{figures['extra_calls_after_events']} extra calls; event to task end "
                f"p50 {figures['finished_after_event_s']['p50']} s, max "
                f"{figures['finished_after_event_s']['max']} s; change to task end p50 "
                f"{figures['change_to_task_end_s']['p50']} s, max "
                f"{figures['change_to_task_end_s']['max']} s; {figures['calls_to_xero']} "
                "calls to Xero",
                file=sys.stderr,
            )
    _save(report)
    return 0 if met else 1


def compare(on_worker: dict[str, Any], by_trigger: dict[str, Any]) -> dict[str, Any]:
    """Event-to-task-end and calls to Xero, finished by workers vs ended by triggers."""

    def ratio(before: float | None, after: float | None) -> float | None:
        return round(before / after, 1) if before is not None and after else None

    keys = (
        "finished_after_event_s",
        "change_to_task_end_s",
        "delay_s",
        "calls_to_xero",
        "extra_calls_after_events",
    )
    worker = {k: on_worker[k] for k in keys}
    trigger = {k: by_trigger[k] for k in keys}
    return {
        "sensors": by_trigger["sensors"],
        "fleet_configuration": FLEET_CONFIGURATION,
        "finished_by_workers": worker,
        "ended_by_triggers": trigger,
        "event_to_task_end_ratio_workers_over_triggers": {
            q: ratio(worker["finished_after_event_s"][q], trigger["finished_after_event_s"][q])
            for q in ("p50", "max")
        },
        "change_to_task_end_ratio_workers_over_triggers": {
            q: ratio(worker["change_to_task_end_s"][q], trigger["change_to_task_end_s"][q])
            for q in ("p50", "max")
        },
        "event_note": "event: the trigger's 'Trigger fired event' log line (delay_s: change to "
        "event). A trigger that ends its task claims the delivery and pushes its XComs "
        "through the triggerer's one supervisor loop before that line, so its events come "
        "later and event-to-end is shorter than the whole; change_to_task_end_s is the "
        "figure to compare end to end",
        "calls_to_xero_ratio_workers_over_triggers": ratio(
            worker["calls_to_xero"], trigger["calls_to_xero"]
        ),
        "calls_note": "calls_to_xero counts every API call from a fleet's start to its last "
        "task's end, polls while deferring included: it follows how long each fleet ran, "
        "not only how it ends; extra_calls_after_events are reads after a feed's event",
    }


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
            "call_plan": "off",  # FLEET_CONFIGURATION: measure the sensors, not the plan
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
