"""Restart an Airflow component that exits on its own, the way systemd or Kubernetes would.

Airflow's scheduler is built to crash and be restarted: on some database errors it exits
rather than carry on with a session it no longer trusts. Airflow 3.3 has one such path
under load: ``_schedule_all_dag_runs`` retries a DB error after a rollback with the same ORM
objects, and a run created in the rolled-back transaction then raises ``ObjectDeletedError``
out of the scheduler loop (``airflow/jobs/scheduler_job_runner.py``, see apache/airflow
PR 62893 for the per-run isolation that does not cover it). Every production deployment
runs the scheduler under a supervisor; a stack without one fails a whole test group on
one such crash. So each exit is recorded (with the log that explains it) and the component
is started again, a bounded number of times; past that, the stack reports the crashes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xero_demo.stack import AirflowStack

CRASH_LOG_CHARS = 20_000


@dataclass(frozen=True)
class Crash:
    """One component that exited while the stack was meant to be running."""

    name: str
    returncode: int | None
    at: float
    log: str

    def summary(self) -> str:
        when = time.strftime("%H:%M:%S", time.gmtime(self.at))
        return f"airflow {self.name} exited with {self.returncode} at {when} UTC"


class Supervisor:
    """Watches a stack's components from a thread and restarts those that exit.

    :param stack: the stack whose ``processes`` to watch (a component popped from it, as
        :meth:`AirflowStack.kill` does, is someone else's business).
    :param restarts: how many restarts in all before giving up; 0 only records.
    :param interval: seconds between checks.
    """

    def __init__(self, stack: AirflowStack, restarts: int, interval: float = 1.0) -> None:
        self.stack = stack
        self.restarts = restarts
        self.interval = interval
        self.crashes: list[Crash] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="airflow-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; call before stopping the components, or it would restart them."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    @property
    def gave_up(self) -> bool:
        return len(self.crashes) > self.restarts

    def check(self) -> None:
        """Restart what exited (within the budget); raise once the budget is spent."""
        with self.stack.components_lock:
            for name, process in list(self.stack.processes.items()):
                if process.poll() is None or self.gave_up:
                    continue
                crash = Crash(name, process.returncode, time.time(), self._log(name))
                self.crashes.append(crash)
                if not self.gave_up:
                    self._note(name, f"--- {crash.summary()}: started again by the stack ---")
                    self.stack.launch(name)
            if self.gave_up:
                raise RuntimeError(self.report())

    def report(self) -> str:
        """Every crash so far, each with the end of its component's log."""
        return "\n\n".join(f"{c.summary()}:\n{c.log}" for c in self.crashes)

    def _log(self, name: str) -> str:
        return self.stack.log_tail(name, CRASH_LOG_CHARS)

    def _note(self, name: str, line: str) -> None:
        with open(self.stack.home / "stack-logs" / f"{name}.log", "a") as log:
            log.write(f"\n{line}\n")

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except RuntimeError:
                return  # the budget is spent: callers see it through check()
