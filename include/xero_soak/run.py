"""Run the soak: sandbox, Celery stack, stream, faults, killer, approver; then the verdict.

``python -m xero_soak [--minutes 60] [--home DIR] [--seed N]`` (``make soak``). Prints
progress, the figures and a verdict; exits 1 when the verdict fails. SIGUSR1 ends the
chaos early (then the drain and the verdict run as usual); SIGTERM stops everything.
Everything it starts (sandbox, Airflow components, PostgreSQL databases, Redis keys) is
stopped or dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from xero_demo.app_tiers import gated_resources, set_app_tier, skip_notes, tier_problems, tier_usage
from xero_demo.bring_up import expected_dag_ids, on_celery, start_connected
from xero_demo.demo import stack_config, subscribe_webhooks
from xero_demo.stack import (
    TERMINAL_RUN_STATES,
    TEST_PACE,
    AirflowStack,
    postgres_database,
    redis_broker,
)
from xero_sandbox.testing import SandboxServer
from xero_soak import config
from xero_soak.approver import Approver
from xero_soak.chaos import Tally, install_faults
from xero_soak.killer import Killer
from xero_soak.stream import CarefulWriter, Stream
from xero_soak.verdict import Verdict, all_runs, judge

REPO = Path(__file__).resolve().parents[2]

# Recovery settings of a deployment that expects crashes: a task whose worker died is
# failed (then retried) after 90 s without a heartbeat instead of 5 minutes, a task
# stuck queued is re-queued after 2 minutes, and Redis hands a dead worker's unacked
# message to another after 3 minutes (Celery's default is 6 hours).
CHAOS_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "90",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "180",
}


def say(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


def organisation_keys() -> dict[str, str]:
    """Tenant ID -> organisation key, as the example DAGs name them."""
    from xero_demo.demo import demo_organisations

    return {o.tenant_id.lower(): o.key for o in demo_organisations()}


def start_stack(
    home: Path,
    sandbox: SandboxServer,
    metadata: str,
    warehouse: str,
    broker: str,
    prefix: str,
    cfg: config.SoakConfig,
) -> AirflowStack:
    """The example DAGs on CeleryExecutor (PostgreSQL, Redis), connected to the sandbox."""
    celery = on_celery(
        dataclasses.replace(stack_config(home, api_port=None), **TEST_PACE),
        metadata_url=metadata,
        broker=broker,
        prefix=prefix,
        workers=cfg.workers,
        concurrency=cfg.worker_concurrency,
        warehouse_url=warehouse,
        env=CHAOS_ENV,
    )
    stack = start_connected(celery, sandbox.url)
    try:
        subscribe_webhooks(stack, sandbox)
    except BaseException:
        stack.stop()
        raise
    return stack


def automation_dags(keys: dict[str, str]) -> list[tuple[str, str, str]]:
    """(DAG id, sensor task, feed) of every automation of every organisation."""
    return [
        (f"{prefix}{key}", task, feed)
        for feed, (prefix, task, _) in config.AUTOMATIONS.items()
        for key in keys.values()
    ]


def waiting_for_changes(stack: AirflowStack, dag_id: str, sensor: str) -> bool:
    """The DAG's current run waits in its sensor, and nothing else of it is unfinished."""
    running = [r for r in stack.runs(dag_id) if r["state"] not in TERMINAL_RUN_STATES]
    if len(running) != 1:
        return False
    tis = stack.task_instances(dag_id, running[0]["dag_run_id"])
    states = {t["task_id"]: t["state"] for t in tis}
    return states.get(sensor) == "deferred" and all(
        s in (None, "none", "scheduled") or t == sensor for t, s in states.items()
    )


def until(condition: Callable[[], Any], timeout: float, what: str, every: float = 5) -> Any:
    """Poll ``condition`` (API errors count as not yet) until true; raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, RuntimeError):
            value = condition()
            if value:
                return value
        time.sleep(every)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


class Soak:
    """One soak: call :meth:`run` inside started sandbox/stack; returns the verdict."""

    def __init__(
        self,
        stack: AirflowStack,
        sandbox: SandboxServer,
        warehouse_url: str,
        cfg: config.SoakConfig,
        home: Path,
    ) -> None:
        self.stack, self.sandbox, self.cfg, self.home = stack, sandbox, cfg, home
        self.warehouse_url = warehouse_url
        self.keys = organisation_keys()
        self.tenants = sorted(self.keys)
        self.automations = automation_dags(self.keys)
        self.sync_dags = [f"{config.WAREHOUSE_DAG}{k}" for k in self.keys.values()]
        approvals = [d for d, _, feed in self.automations if feed == "approvals"]
        notes_dags = [d for d, _, feed in self.automations if feed == "bills"]  # note-only
        self.approver = Approver(
            stack,
            approvals,
            cfg.seed + 3,
            cfg.approve_share,
            noted=self.noted_bills if notes_dags else None,
        )
        self.writer = CarefulWriter(sandbox, self.tenants, f"soak-{cfg.seed}")
        self.tally = Tally(stream_client=self.writer.client_id)
        self.stream = Stream(self.writer, self.tenants, cfg.seed, home / "stream.jsonl")
        self.killer = Killer(stack, cfg.kill_every, cfg.seed + 2)
        self.sync_runs: Counter = Counter()
        self.errors: list[str] = []
        self.drain_problems: list[str] = []
        self.stop_early = False  # set by SIGUSR1: end the chaos now, then drain and judge
        self.chaos_minutes = 0.0
        now = datetime.now(UTC)
        self.chaos_window = (now, now)  # (began, ended), set by the chaos

    # --- phases ----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Unpause every example DAG; wait until each automation waits for changes and
        (unless they run under the chaos) the first warehouse loads are done: a person's
        first day with the DAGs."""
        for dag_id in expected_dag_ids(self.stack):
            self.stack.unpause(dag_id)
        sensors = {d: t for d, t, _ in self.automations}
        until(
            lambda: all(waiting_for_changes(self.stack, d, t) for d, t in sensors.items()),
            1500,
            "every automation to wait for changes",
        )
        if self.cfg.first_loads_in_chaos:
            say("automations waiting: the stream and the chaos start, the first loads with them")
            return
        until(lambda: self.syncs_finished(True), 1500, "the first warehouse loads")
        say("automations waiting, warehouse loaded: the stream and the chaos start")

    def syncs_under_chaos(self) -> dict[str, int]:
        """Per warehouse sync DAG, its runs that were running at some time in the chaos."""
        start, end = self.chaos_window
        counts = {}
        for dag_id in self.sync_dags:
            counts[dag_id] = sum(
                1
                for run in all_runs(self.stack, dag_id)
                if run.get("start_date")
                and datetime.fromisoformat(run["start_date"]) < end
                and (not run.get("end_date") or datetime.fromisoformat(run["end_date"]) > start)
            )
        return counts

    def components_healthy(self) -> bool:
        """Scheduler, triggerer and dag-processor heartbeat (the api-server's health) and
        every worker process runs. Not ``AirflowStack.wait_healthy``: it looks for a worker's
        "ready" line near the end of its log, which a busy hour pushes out of reach."""
        health = httpx.get(f"{self.stack.url}/api/v2/monitor/health", timeout=10).json()
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        workers = [p for n, p in self.stack.processes.items() if n.startswith("worker-")]
        return (
            all((health.get(p) or {}).get("status") == "healthy" for p in parts)
            and len(workers) == self.cfg.workers
            and all(p.poll() is None for p in workers)
        )

    def syncs_finished(self, at_least_one: bool = False) -> bool:
        """No warehouse sync run is unfinished (and, if asked, each DAG has had one)."""
        for dag_id in self.sync_dags:
            runs = self.stack.runs(dag_id)
            if at_least_one and not runs:
                return False
            if any(r["state"] not in TERMINAL_RUN_STATES for r in runs):
                return False
        return True

    def trigger_syncs(self, final: bool = False) -> list[tuple[str, str]]:
        """A warehouse sync run per organisation (the final one with the quality check)."""
        started = []
        for dag_id in self.sync_dags:
            conf = {"quality_check": final and self.cfg.final_quality_check}
            started.append((dag_id, self.stack.trigger(dag_id, conf=conf)))
            self.sync_runs[dag_id] += 1
        return started

    def chaos(self) -> None:
        """The stream, faults, kills and approvals, for ``cfg.minutes``."""
        cfg = self.cfg
        self.tally.read(self.sandbox)
        self.tally.calls_before_faults = self.tally.api_calls
        install_faults(self.sandbox, cfg.fault_fraction, cfg.seed + 1)
        self.killer.start()
        started = time.monotonic()
        chaos_began = datetime.now(UTC)
        end = started + cfg.minutes * 60
        next_round = next_poll = time.monotonic()
        next_sync = time.monotonic() + cfg.sync_every
        next_report = time.monotonic() + 60
        while time.monotonic() < end and not self.stop_early:
            now = time.monotonic()
            if now >= next_round:
                self.stream.round()
                next_round = now + cfg.change_every
            victim = self.killer.step()
            if victim:
                say(f"killed {victim} (kills so far: {dict(self.killer.kills)})")
            if now >= next_poll:
                self.poll()
                next_poll = now + 10
            if now >= next_sync:
                with contextlib.suppress(httpx.HTTPError, RuntimeError):
                    if self.syncs_finished():
                        self.trigger_syncs()
                next_sync = now + cfg.sync_every
            if now >= next_report:
                say(
                    f"{self.stream.rounds} rounds, {len(self.stream.changes)} changes, "
                    f"{len(self.approver.answered)} approvals, {self.tally.figures()}"
                )
                next_report = now + 60
            time.sleep(1)
        self.killer.restore()
        self.chaos_window = (chaos_began, datetime.now(UTC))
        self.chaos_minutes = round((time.monotonic() - started) / 60, 1)
        say(
            f"stream stopped after {self.stream.rounds} rounds, {self.chaos_minutes} minutes"
            "; every component restarted"
        )

    def noted_bills(self) -> set[str]:
        """Bills with the note-only automation's "Sent for approval" note in Xero."""
        found: set[str] = set()
        for tenant in self.tenants:
            history = self.sandbox.control("GET", f"/history/{tenant}").json()["history"]
            found |= {
                rid.lower()
                for rid, notes in history.items()
                if any(config.BILL_NOTE in str(n.get("Details")) for n in notes)
            }
        return found

    def poll(self) -> None:
        """Answer approvals and read the request log; the API's hiccups are noted, not
        fatal (the scheduler may be dead this minute)."""
        try:
            self.approver.step()
        except (httpx.HTTPError, RuntimeError) as error:
            self.errors.append(f"approver: {str(error)[:200]}")
        self.tally.read(self.sandbox)

    def drain(self) -> None:
        """Wait until every change reached its automations, every bill was answered and
        the automations wait again; then, faults lifted, one last warehouse sync."""
        deadline = time.monotonic() + self.cfg.drain_minutes * 60
        until(self.components_healthy, 300, "every component to be healthy again")
        changes = self.stream.changes
        bills = {c.record_id.lower() for c in changes if c.feed == "bills"}

        def settled() -> bool:
            self.poll()
            if not bills <= set(self.approver.answered):
                return False
            for dag_id, task, _feed in self.automations:
                if not waiting_for_changes(self.stack, dag_id, task):
                    return False
            return True

        until(settled, max(deadline - time.monotonic(), 60), "the automations to settle", 10)
        self.sandbox.control("DELETE", "/faults")
        until(self.syncs_finished, max(deadline - time.monotonic(), 60), "running syncs")
        for dag_id, run_id in self.trigger_syncs(final=True):
            self.stack.wait_for_run(dag_id, run_id, timeout=max(deadline - time.monotonic(), 60))
        self.tally.read(self.sandbox)
        say("drained: last runs finished, faults lifted")

    def judge(self) -> Verdict:
        tier = self.cfg.app_tier
        gated = gated_resources(tier) if tier else set()
        verdict = judge(
            self.stack,
            self.sandbox,
            self.warehouse_url,
            self.keys,
            self.stream.changes,
            self.approver.answered,
            self.tally,
            gated,
        )
        runs: dict[str, Counter] = {}
        for dag_id in expected_dag_ids(self.stack):
            runs[dag_id] = Counter(r["state"] for r in all_runs(self.stack, dag_id))
        final_sync_ok = []
        for dag_id in self.sync_dags:
            last = all_runs(self.stack, dag_id)[-1]
            final_sync_ok.append(last["state"] == "success")
        if not all(final_sync_ok):
            verdict.checks["warehouse equals Xero"].append("the final sync run did not succeed")
        if tier:  # the tier was in force: the app record, the day's calls, the skip notes
            usage = tier_usage(self.sandbox, tier)
            notes = {}
            for dag_id in self.sync_dags:
                for run in all_runs(self.stack, dag_id):
                    if run["state"] == "success":
                        notes[f"{dag_id} {run['dag_run_id']}"] = skip_notes(
                            self.stack, dag_id, run["dag_run_id"], gated
                        )
            problems = tier_problems(usage, notes, tier)
            if gated and not any(notes.values()):
                problems.append(f"no sync task of {sorted(gated)} succeeded: nothing judged")
            verdict.checks["app tier in force"] = problems
            verdict.counts["app_tier"] = usage
        verdict.checks["approver"] = list(self.approver.errors)
        verdict.checks["last runs finished in time"] = list(self.drain_problems)
        asset = sum(
            runs.get(f"{config.ASSET_DAG}{k}", Counter()).total() for k in self.keys.values()
        )
        verdict.counts.update(
            minutes=self.chaos_minutes,
            kills=dict(self.killer.kills),
            # exits nobody caused, each started again by the stack's supervisor
            component_crashes=[c.summary() for c in self.stack.crashes],
            stream_writes=self.writer.writes,
            stream_retries=self.writer.retries,
            warehouse_sync_runs=dict(self.sync_runs),  # triggered by the soak
            warehouse_syncs_under_chaos=self.syncs_under_chaos(),
            asset_dag_runs=asset,
            runs={d: dict(c) for d, c in runs.items()},
            failed_runs=sum(c.get("failed", 0) for c in runs.values()),
            soak_api_hiccups=len(self.errors),
            approvals_asked_again=self.approver.asked_again,
            # Celery spread the work: tasks each worker ran (its log, across restarts)
            tasks_per_worker={
                f"worker-{n}": self.stack.log_tail(f"worker-{n}", 50_000_000).count("succeeded in")
                for n in range(1, self.cfg.workers + 1)
            },
        )
        return verdict

    def run(self) -> Verdict:
        signal.signal(signal.SIGUSR1, lambda *_: setattr(self, "stop_early", True))
        self.prepare()
        try:
            self.chaos()
        finally:
            self.killer.restore()
            self.writer.close()
        try:
            self.drain()
        except TimeoutError as error:  # judged all the same: the verdict says what is late
            self.drain_problems.append(str(error)[:300])
            self.sandbox.control("DELETE", "/faults")
        return self.judge()


def soak(cfg: config.SoakConfig, home: Path) -> Verdict:
    """Start everything, run one soak, stop everything; returns the verdict."""
    home.mkdir(parents=True, exist_ok=True)
    sandbox = SandboxServer(seed_demo=True, log_file=home / "sandbox.log")
    sandbox.start()
    try:
        # The second demo organisation is on Xero's Starter plan: 1,000 calls a day (the
        # sandbox's limits.py). The soak puts days of changes into an hour, and used those
        # up in half an hour of its first full run (the rate budget then, rightly, stopped
        # calling and tasks failed); it gives that organisation the usual 5,000, so it
        # tests faults and kills. The rate budget's own tests cover the day limit.
        sandbox.control("PUT", "/limits", json={"per_day_starter": 5000})
        if cfg.app_tier:  # before the connections are authorised, as a real app would be
            set_app_tier(sandbox, cfg.app_tier)
        with (
            postgres_database("xero_soak_airflow") as metadata,
            postgres_database("xero_soak_warehouse") as warehouse,
            redis_broker("xero_soak") as (broker, prefix),
        ):
            say(f"starting Airflow on Celery ({cfg.workers} workers) in {home}")
            stack = start_stack(home / "airflow", sandbox, metadata, warehouse, broker, prefix, cfg)
            try:
                verdict = Soak(stack, sandbox, warehouse, cfg, home).run()
            finally:
                stack.stop()
    finally:
        sandbox.stop()
    (home / "verdict.json").write_text(
        json.dumps(
            {"passed": verdict.passed, "checks": verdict.checks, "counts": verdict.counts},
            indent=2,
            default=str,
        )
    )
    return verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xero_soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--home", default=str(REPO / ".airflow" / "soak"))
    parser.add_argument("--change-every", type=float, default=config.SoakConfig.change_every)
    parser.add_argument("--kill-every", type=float, default=config.SoakConfig.kill_every)
    parser.add_argument("--sync-every", type=float, default=config.SoakConfig.sync_every)
    parser.add_argument(
        "--app-tier", help="the demo app's Xero tier (starter ... enterprise; default advanced)"
    )
    args = parser.parse_args(argv)
    # stopped from outside (SIGTERM, or Ctrl-C even when started in the background): stop
    # the stack and the sandbox and drop the databases on the way out, as at the end
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cfg = config.SoakConfig(
        minutes=args.minutes,
        seed=args.seed,
        change_every=args.change_every,
        kill_every=args.kill_every,
        sync_every=args.sync_every,
        app_tier=args.app_tier,
    )
    home = Path(args.home)
    if home.exists():
        import shutil

        shutil.rmtree(home)
    verdict = soak(cfg, home)
    print(verdict.report(), flush=True)
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
