"""A real Airflow for the change-feed system tests: api-server, scheduler, dag-processor and
triggerer as separate processes on a SQLite metadata database in the test's directory
(Airflow 3's PostgreSQL support needs asyncpg, which this project does not install),
bound to 127.0.0.1 on free ports. Each process runs in its own session so it
(and its children) can be stopped, or killed, by process group."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from xero_sandbox.testing import free_port

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


class AirflowStack:
    """Start with :meth:`start`; :meth:`stop` always; ``kill("triggerer")`` to crash one."""

    def __init__(self, home: Path, dags: Path, env: dict[str, str]) -> None:
        self.home, self.dags = home, dags
        self.db_url = f"sqlite:///{home / 'airflow.db'}"
        self.port = free_port()
        self.env = {
            **os.environ,
            **env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "6",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self._engine: sa.Engine | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> AirflowStack:
        self.home.mkdir(parents=True, exist_ok=True)
        self.run("db", "migrate", timeout=600, check=True)
        for name in COMPONENTS:
            self.launch(name)
        self.wait(lambda: self._api_up(), 180, "the api-server to answer")
        return self

    def launch(self, name: str) -> None:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        args = [AIRFLOW, name] + (["--port", str(self.port)] if name == "api-server" else [])
        self.processes[name] = subprocess.Popen(
            args, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def kill(self, name: str) -> None:
        """SIGKILL the component and everything it started (a crash, not a shutdown)."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)

    def stop(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # workers ignore SIGTERM
        if self._engine is not None:
            self._engine.dispose()

    # --- helpers -------------------------------------------------------------------------

    def run(self, *args: str, timeout: float = 300, check: bool = False):
        result = subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)}: {result.stderr[-3000:]}")
        return result

    def _api_up(self) -> bool:
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/api/v2/monitor/health").is_success
        except httpx.TransportError:
            return False

    def sql(self, query: str, **params: Any) -> list[Any]:
        if self._engine is None:
            self._engine = sa.create_engine(self.db_url)
        with self._engine.connect() as conn:
            return list(conn.execute(sa.text(query), params))

    def wait(self, condition: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited: {self.log_tail(name)}")
            value = condition()
            if value:
                return value
            time.sleep(1)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}; {self.log_tail('scheduler')}")

    def log_tail(self, name: str, size: int = 3000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def dag_parsed(self, dag_id: str) -> bool:
        return bool(self.sql("SELECT 1 FROM dag WHERE dag_id = :d", d=dag_id))

    def ti_state(self, dag_id: str, task_id: str) -> list[str]:
        rows = self.sql(
            "SELECT state FROM task_instance WHERE dag_id = :d AND task_id = :t",
            d=dag_id,
            t=task_id,
        )
        return [r[0] for r in rows]

    def run_states(self, dag_id: str) -> list[str]:
        return [r[0] for r in self.sql("SELECT state FROM dag_run WHERE dag_id = :d", d=dag_id)]
