"""The stack's supervisor: a component that exits on its own is recorded and started again.

Real processes stand in for Airflow's components here (starting Airflow to watch it crash
would cost a minute); the supervisor only sees process handles, logs and ``launch``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from xero_demo.supervisor import Supervisor


class Components:
    """What the supervisor needs of a stack: processes, their logs, a lock and ``launch``."""

    def __init__(self, home: Path, scripts: dict[str, str]) -> None:
        self.home = home
        (home / "stack-logs").mkdir()
        self.scripts = scripts
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.components_lock = threading.RLock()
        self.launched: list[str] = []

    def launch(self, name: str) -> None:
        with open(self.home / "stack-logs" / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-c", self.scripts[name]],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.launched.append(name)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return (self.home / "stack-logs" / f"{name}.log").read_text()[-chars:]

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


CRASHING = "import sys; print('Traceback: ObjectDeletedError', flush=True); sys.exit(1)"
STEADY = "import time; time.sleep(60)"


@pytest.fixture
def components(tmp_path: Path):
    made = Components(tmp_path, {"scheduler": CRASHING, "triggerer": STEADY})
    try:
        yield made
    finally:
        made.stop()


def test_a_crashed_component_is_recorded_with_its_log_and_started_again(
    components: Components,
) -> None:
    components.launch("scheduler")
    components.launch("triggerer")
    components.processes["scheduler"].wait(10)
    supervisor = Supervisor(components, restarts=2)  # type: ignore[arg-type]
    supervisor.check()
    assert components.launched == ["scheduler", "triggerer", "scheduler"]
    (crash,) = supervisor.crashes
    assert crash.name == "scheduler" and crash.returncode == 1
    assert "ObjectDeletedError" in crash.log
    assert "started again by the stack" in components.log_tail("scheduler")
    assert components.processes["triggerer"].poll() is None  # the steady one is left alone


def test_past_its_restarts_the_supervisor_raises_with_every_crash(
    components: Components,
) -> None:
    components.launch("scheduler")
    supervisor = Supervisor(components, restarts=1)  # type: ignore[arg-type]
    components.processes["scheduler"].wait(10)
    supervisor.check()  # the first crash: restarted
    components.processes["scheduler"].wait(10)
    with pytest.raises(RuntimeError, match="scheduler exited with 1") as raised:
        supervisor.check()
    assert raised.value.args[0].count("ObjectDeletedError") >= 2
    assert components.launched == ["scheduler", "scheduler"]  # no third start
    with pytest.raises(RuntimeError):
        supervisor.check()  # and it keeps saying so


def test_a_component_killed_on_purpose_is_not_restarted(components: Components) -> None:
    """The soak's killer pops a component under the lock and starts it itself later."""
    components.launch("triggerer")
    supervisor = Supervisor(components, restarts=3, interval=0.05)  # type: ignore[arg-type]
    supervisor.start()
    try:
        with components.components_lock:
            process = components.processes.pop("triggerer")
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        time.sleep(0.5)  # ten of the supervisor's checks
    finally:
        supervisor.stop()
    assert supervisor.crashes == []
    assert components.launched == ["triggerer"]


def test_the_watching_thread_restarts_without_anyone_asking(components: Components) -> None:
    components.launch("scheduler")
    supervisor = Supervisor(components, restarts=1, interval=0.05)  # type: ignore[arg-type]
    supervisor.start()
    try:
        deadline = time.monotonic() + 20
        while len(components.launched) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        supervisor.stop()
    assert components.launched[:2] == ["scheduler", "scheduler"]
    assert supervisor.crashes[0].name == "scheduler"
