"""Deferred change sensors in a real Airflow: the DAG file, the stack, and what is measured.

One DAG holds the seven named sensors, each a mapped task (``.partial().expand(tenant_id=
...)``) in watermark mode, deferrable, spread over the organisations: ``per_pair`` task
instances for each organisation-resource pair. A real Airflow (api-server, scheduler,
dag-processor, triggerer; LocalExecutor; SQLite) from :mod:`xero_demo.stack` runs one DAG
run of it. Every task instance goes through a worker: its first check claims the feed's
watermark and defers (a sensor in watermark mode cannot start in the triggerer: its
position comes from the watermark store when the run starts, which Airflow's
``start_from_trigger`` cannot ask for). After the event the trigger delivers the records
and ends the task itself (``end_from_trigger``, the default: no worker); in the
``end_from_trigger=False`` baseline a worker delivers the records the trigger handed over,
and in the ``hand_over=False`` one a worker reads the range again.

Every figure comes from outside the trigger: memory from ``psutil`` over the ``airflow
triggerer`` process tree, calls and 429s from the sandbox's request log, and event times
from Airflow: the triggerer's "Trigger fired event" line in each task's trigger log, and
when the metadata database first shows the task instance out of ``deferred`` (polled
every :data:`OBSERVE_EVERY` seconds).
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

SENSORS = {  # named sensor class -> the feed's resource
    "XeroNewOrUpdatedContactSensor": "Contacts",
    "XeroNewOrUpdatedBillSensor": "Bills",
    "XeroNewOrUpdatedSalesInvoiceSensor": "SalesInvoices",
    "XeroNewOrUpdatedPaymentSensor": "Payments",
    "XeroNewOrUpdatedQuoteSensor": "Quotes",
    "XeroNewOrUpdatedCreditNoteSensor": "CreditNotes",
    "XeroNewOrUpdatedBankTransactionSensor": "BankTransactions",
}
DAG_ID = "xero_bench_sensors"
OBSERVE_EVERY = 0.5

DAG_TEMPLATE = """
from datetime import datetime
from airflow.sdk import DAG
from xero_provider import sensors

LAYOUT = {layout!r}
HAND_OVER = {hand_over!r}  # False: the baseline, each task reads its range again
END_FROM_TRIGGER = {end_from_trigger!r}  # False: a worker finishes each task after its event

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         max_active_tasks=2000, max_active_runs=1):
    for class_name, tenants in LAYOUT.items():
        sensor = getattr(sensors, class_name)
        if not HAND_OVER:
            sensor = type(class_name, (sensor,), {{"hand_over_records": False}})
        sensor.partial(
            task_id=class_name, xero_conn_id={conn_id!r}, polling="watermark",
            settle_seconds={settle!r}, poke_interval={poll!r}, deferrable=True, timeout=3600,
            end_from_trigger=END_FROM_TRIGGER,
        ).expand(tenant_id=tenants)
"""


def layout(tenants: list[str], count: int) -> dict[str, list[str]]:
    """Each sensor class's mapped tenants: ``count`` instances spread evenly over the pairs."""
    pairs = [(name, t) for name in SENSORS for t in tenants]
    out: dict[str, list[str]] = {name: [] for name in SENSORS}
    for n in range(count):
        name, tenant = pairs[n % len(pairs)]
        out[name].append(tenant)
    return {name: sorted(ts, key=tenants.index) for name, ts in out.items()}


def write_dag(
    dags: Path,
    tenants: list[str],
    count: int,
    conn_id: str,
    poll: float,
    settle: float,
    dag_id: str = DAG_ID,
    hand_over: bool = True,
    end_from_trigger: bool = True,
) -> None:
    dags.mkdir(parents=True, exist_ok=True)
    source = DAG_TEMPLATE.format(
        layout=layout(tenants, count),
        dag_id=dag_id,
        conn_id=conn_id,
        poll=poll,
        settle=settle,
        hand_over=hand_over,
        end_from_trigger=end_from_trigger,
    )
    (dags / f"{dag_id}.py").write_text(textwrap.dedent(source))


@dataclass
class Fleet:
    """One run of the sensor DAG on a started stack, and the database it writes."""

    stack: Any
    tenants: list[str]
    count: int
    dag_id: str = DAG_ID
    run_id: str = ""
    engine: sa.Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = sa.create_engine(f"sqlite:///{self.stack.home}/airflow.db?timeout=60")
        self.pair_of = {
            (name, index): (tenant, SENSORS[name])
            for name, tenants in layout(self.tenants, self.count).items()
            for index, tenant in enumerate(tenants)
        }

    def sql(self, query: str, **params: Any) -> list[Any]:
        for attempt in range(5):
            try:
                with self.engine.connect() as conn:
                    return list(conn.execute(sa.text(query), params))
            except sa.exc.OperationalError:  # SQLite busy beyond its timeout
                if attempt == 4:
                    raise
                time.sleep(1)
        return []

    def states(self) -> dict[tuple[str, int], str | None]:
        rows = self.sql(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = :d AND run_id = :r",
            d=self.dag_id,
            r=self.run_id,
        )
        return {(t, m): s for t, m, s in rows if m >= 0}

    def start(self) -> None:
        self.stack.unpause(self.dag_id)
        self.run_id = self.stack.trigger(self.dag_id)

    def running_triggers(self) -> int:
        return self.sql(
            "SELECT count(*) FROM trigger WHERE triggerer_id IS NOT NULL "
            "AND classpath LIKE '%XeroChangesTrigger'"
        )[0][0]

    def wait(self, condition: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.stack._check_alive()
            value = condition()
            if value:
                return value
            time.sleep(2)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}")

    def all_deferred(self) -> bool:
        states = self.states()
        deferred = sum(1 for s in states.values() if s == "deferred")
        progress(f"{deferred}/{self.count} deferred, {self.running_triggers()} triggers running")
        if any(s in ("failed", "upstream_failed") for s in states.values()):
            raise RuntimeError(
                f"a sensor failed before deferring: {self.stack.log_tail('scheduler')}"
            )
        return len(states) == self.count and deferred == self.count

    def all_running(self) -> bool:
        return self.running_triggers() >= self.count

    def watch_events(self, timeout: float) -> dict[tuple[str, int], float]:
        """When each task instance was first seen out of ``deferred`` (wall clock)."""
        left: dict[tuple[str, int], float] = {}
        deadline = time.monotonic() + timeout
        while len(left) < self.count and time.monotonic() < deadline:
            seen = time.time()
            for key, state in self.states().items():
                if key not in left and state != "deferred":
                    left[key] = seen
            time.sleep(OBSERVE_EVERY)
        return left

    def fired_at(self) -> dict[tuple[str, int], float]:
        """When the triggerer logged each task's "Trigger fired event".

        The line is in the task's trigger log, or for some triggers (Airflow routes them so
        when a trigger's log file is not open) in the triggerer's own log.
        """
        fired: dict[tuple[str, int], float] = {}
        run = self.stack.home / "logs" / f"dag_id={self.dag_id}" / f"run_id={self.run_id}"
        for path in run.glob("task_id=*/map_index=*/attempt=*.log.trigger.*.log"):
            key = (path.parts[-3].split("=", 1)[1], int(path.parts[-2].split("=", 1)[1]))
            for line in path.read_text(errors="replace").splitlines():
                if '"Trigger fired event"' in line:
                    fired[key] = _epoch(json.loads(line)["timestamp"])
                    break
        own = self.stack.home / "stack-logs" / "triggerer.log"
        for line in own.read_text(errors="replace").splitlines():
            match = FIRED_LINE.match(line)
            if match and match["run"] == self.run_id:
                fired.setdefault((match["task"], int(match["index"])), _epoch(match["at"]))
        return fired

    def finished(self) -> bool:
        states = self.states()
        done = sum(1 for s in states.values() if s in ("success", "failed", "skipped"))
        progress(f"{done}/{self.count} finished")
        return done == self.count

    def end_dates(self) -> dict[tuple[str, int], float]:
        """When each task instance finished (its ``end_date``, wall clock)."""
        rows = self.sql(
            "SELECT task_id, map_index, end_date FROM task_instance "
            "WHERE dag_id = :d AND run_id = :r AND end_date IS NOT NULL",
            d=self.dag_id,
            r=self.run_id,
        )
        return {(t, m): _when(e) for t, m, e in rows if m >= 0}

    def outcome(self) -> dict[str, int]:
        """Task instance states, and how many delivered at least one changed record."""
        counts: dict[str, int] = {}
        for state in self.states().values():
            counts[str(state)] = counts.get(str(state), 0) + 1
        rows = self.sql(
            "SELECT value FROM xcom WHERE dag_id = :d AND run_id = :r AND key = 'ids'",
            d=self.dag_id,
            r=self.run_id,
        )
        delivered = sum(1 for (value,) in rows if _ids(value))
        return {"states": counts, "delivered": delivered}

    def close(self) -> None:
        self.engine.dispose()


FIRED_LINE = re.compile(
    r"^(?P<at>\S+Z) \[info\s*\] Trigger fired event .*? name='[^/']+/(?P<run>[^/']+)/"
    r"(?P<task>[^/']+)/(?P<index>-?\d+)/\d+ \(ID"
)


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _when(value: Any) -> float:
    """Epoch seconds of a metadata-database timestamp (SQLite keeps UTC without a zone)."""
    from datetime import UTC, datetime

    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _ids(value: Any) -> list:
    while isinstance(value, str | bytes):
        value = json.loads(value)
    return value if isinstance(value, list) else []


def triggerer_memory(stack: Any) -> dict[str, float]:
    """RSS and USS (MB) of the ``airflow triggerer`` process and every process under it."""
    import psutil

    root = psutil.Process(stack.processes["triggerer"].pid)
    processes = [root, *root.children(recursive=True)]
    rss = uss = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        uss += info.uss
    return {
        "processes": len(processes),
        "rss_mb": round(rss / 2**20, 1),
        "uss_mb": round(uss / 2**20, 1),
    }


def start_in_background(stack: Any) -> Callable[[], None]:
    """Start the stack in a thread; the returned function waits and re-raises its error."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            stack.start()
        except BaseException as error:  # handed to the caller
            errors.append(error)

    thread = threading.Thread(target=target, name="airflow-stack-start", daemon=True)
    thread.start()

    def join() -> None:
        thread.join()
        if errors:
            raise errors[0]

    return join


def progress(message: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)
