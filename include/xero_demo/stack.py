"""Start and stop a real Airflow 3 stack on this machine, and leave nothing behind.

``airflow standalone`` is no good for tests or for a demo that must clean up: SIGTERM to its
parent leaves the children running, and Celery workers ignore SIGTERM. So each component
(api-server, scheduler, dag-processor, triggerer, Celery workers) runs in its own session
(process group) under an environment marker; :meth:`AirflowStack.stop` terminates every
group, kills what is left, and then checks ``/proc`` for any process still carrying the
marker: a stack that cannot be cleaned up is an error, not a warning.

Defaults: SQLite and LocalExecutor in a scratch ``AIRFLOW_HOME``. With
``executor="CeleryExecutor"`` pass a PostgreSQL URL (see :func:`postgres_database`) and a
Redis broker (see :func:`redis_broker`); N workers run on this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from xero_demo.supervisor import Crash, Supervisor
from xero_sandbox.testing import free_port

MARKER = "XERO_STACK_ID"
TERMINAL_RUN_STATES = {"success", "failed"}


def airflow_executable() -> str:
    """The ``airflow`` script beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("airflow")
    if beside.exists():
        return str(beside)
    found = shutil.which("airflow")
    if not found:
        raise RuntimeError("no `airflow` executable: run `make install` first")
    return found


TEST_PARSE_INTERVAL = 120  # the test and soak stacks' (see StackConfig.parse_interval)
TEST_SCHEDULER_IDLE_SLEEP = 3  # theirs too (see StackConfig.scheduler_idle_sleep)
# The StackConfig fields every test and soak stack sets, in one place
TEST_PACE = {
    "parse_interval": TEST_PARSE_INTERVAL,
    "scheduler_idle_sleep": TEST_SCHEDULER_IDLE_SLEEP,
}


@dataclass
class StackConfig:
    """What to run; every field has a working default for a laptop.

    :param home: the ``AIRFLOW_HOME`` (created; holds the SQLite DB, logs, passwords).
    :param dags_folder: the DAGs to serve.
    :param executor: ``LocalExecutor`` or ``CeleryExecutor``.
    :param database_url: SQLAlchemy URL of the metadata DB (SQLite file in ``home`` if None).
    :param broker_url: Celery broker (Redis) URL; required for CeleryExecutor.
    :param broker_prefix: key prefix for everything Celery writes to Redis.
    :param celery_workers: how many Celery worker processes to start.
    :param api_port: api-server port on 127.0.0.1 (a free one if None).
    :param admin_password: the UI login's password (random if None).
    :param env: extra environment for every component (connections, settings).
    :param migrate: run ``airflow db migrate`` on start; False when the database is
        already migrated (the tests copy one SQLite file migrated once per run).
    :param restarts: how many times in all a component that exits on its own is started
        again (see :mod:`xero_demo.supervisor`) before the stack reports the crashes.
    :param parse_interval: seconds between two parses of an unchanged DAG file (Airflow's
        default, 30 s, for the demo's UI, where a person may unpause an asset DAG, whose
        watcher starts at its file's next parse). A new or edited file is parsed at once
        (the dag-processor compares modification times), connecting or disconnecting an
        organisation queues a parse of the DAG files (``xero_provider.connect.reparse``)
        and :meth:`AirflowStack.unpause` queues one of an asset DAG's file, so the test stacks,
        which do everything through those, parse every ``TEST_PARSE_INTERVAL`` s: parsing
        every file every 10 s cost an idle stack 5% of a core (0.7% at 120 s).
    :param scheduler_idle_sleep: seconds the scheduler sleeps after a loop that queued
        nothing (Airflow's ``scheduler_idle_sleep_time``, 1 s). Each loop examines every
        running DAG run, so a stack whose automations all wait in deferred sensors cost
        4.2 CPU s a minute in its scheduler at 1 s, 2.6 at 3 s (1.0 and 0.6 with nothing
        running). The test and soak stacks, several on two cores, sleep
        ``TEST_SCHEDULER_IDLE_SLEEP`` s: a finished task still wakes the next loop at once,
        a resumed sensor waits a loop.
    """

    home: Path
    dags_folder: Path
    executor: str = "LocalExecutor"
    database_url: str | None = None
    broker_url: str | None = None
    broker_prefix: str | None = None
    celery_workers: int = 0
    worker_concurrency: int = 4
    parallelism: int = 6
    api_port: int | None = None
    admin_user: str = "admin"
    admin_password: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    migrate: bool = True
    restarts: int = 3
    parse_interval: int = 30
    scheduler_idle_sleep: float = 1


def stale_dag_threshold(config: StackConfig) -> int:
    """``[dag_processor] stale_dag_threshold`` for a stack: two parse intervals and a minute.

    Airflow 3.3 retires a DAG when its ``last_parsed_time`` is more than this older than
    its file's last parse, and a parse whose result could not be stored (SQLite busy past
    its timeout) or that timed out still counts as the file's last parse
    (``DagFileProcessorManager._collect_results_from_processor`` and
    ``_kill_timed_out_processors`` set ``last_finish_time``; ``deactivate_stale_dags``
    compares it). With Airflow's 50 s and a parse interval of 120 s, one such parse on a
    loaded machine made every DAG of the file 404 until the next good parse (a CI failure:
    ``POST /dags/xero_warehouse_sync_demo/dagRuns: 404``). A DAG really gone from its file
    (a disconnected organisation) is retired a parse or two later instead.
    """
    return 2 * config.parse_interval + 60


class ApiError(RuntimeError):
    """An error status from Airflow's REST API, with the body Airflow sent."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path}: {status} {body[:2000]}")
        self.status = status


class AirflowStack:
    """A running Airflow: components, their logs, and a REST client with a token.

    Use as a context manager: ``with AirflowStack(config) as stack: stack.trigger(...)``.
    """

    components = ("api-server", "scheduler", "dag-processor", "triggerer")

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.home = Path(config.home).resolve()
        self.stack_id = uuid.uuid4().hex
        self.api_port = config.api_port or free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        # SQLite: writers wait up to 60 s for the lock (5 s by default is too short when the
        # scheduler, api-server and task processes all write on a busy machine)
        self.database_url = config.database_url or f"sqlite:///{self.home}/airflow.db?timeout=60"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # one lock for starting, killing and restarting components: the supervisor's thread
        # must not restart a component that a caller is killing on purpose
        self.components_lock = threading.RLock()
        self.supervisor = Supervisor(self, config.restarts)
        self._token: str | None = None
        self._client: httpx.Client | None = None
        self._file_tokens: dict[str, str] = {}  # DAG id -> its file's token, once seen parsed
        self.password = config.admin_password or self._stored_password()

    # --- environment ---------------------------------------------------------------------

    def _stored_password(self) -> str:
        """Keep one admin password per home, so `make airflow` restarts keep the login."""
        path = self.home / "admin_password.txt"
        if path.exists():
            return path.read_text().strip()
        return secrets.token_urlsafe(12)

    def _secret(self, name: str, make: Any) -> str:
        """A per-home secret shared by every component (JWT, Fernet, session key)."""
        path = self.home / f".{name}"
        if not path.exists():
            path.write_text(make())
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def env(self) -> dict[str, str]:
        """The environment every component and CLI call of this stack runs with."""
        from cryptography.fernet import Fernet

        cfg = self.config
        database = self.database_url
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "PATH": f"{Path(airflow_executable()).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(Path(cfg.dags_folder).resolve()),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": cfg.executor,
            "AIRFLOW__CORE__PARALLELISM": str(cfg.parallelism),
            "AIRFLOW__CORE__FERNET_KEY": os.environ.get("AIRFLOW__CORE__FERNET_KEY")
            or self._secret("fernet_key", lambda: Fernet.generate_key().decode()),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{cfg.admin_user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt", lambda: secrets.token_hex(32)),
            "AIRFLOW__API__SECRET_KEY": self._secret("api", lambda: secrets.token_hex(32)),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(cfg.parse_interval),
            "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": str(stale_dag_threshold(cfg)),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": str(cfg.scheduler_idle_sleep),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            "AIRFLOW__TRIGGERER__CAPACITY": "100",
            # the key Xero's webhook deliveries to this stack's /xero/webhooks are signed
            # with (the endpoint is the plugin's: demo.stack_config loads it)
            "AIRFLOW__XERO_CONNECT__WEBHOOK_KEY": self.webhook_key,
            MARKER: self.stack_id,
            **cfg.env,
        }
        for key in ("AIRFLOW__CORE__UNIT_TEST_MODE",):
            env.pop(key, None)
        if cfg.executor == "CeleryExecutor":
            if not cfg.broker_url:
                raise ValueError("CeleryExecutor needs broker_url (a Redis URL)")
            env["AIRFLOW__CELERY__BROKER_URL"] = cfg.broker_url
            # explicit driver: SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + database
            env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(cfg.worker_concurrency)
            if cfg.broker_prefix:
                env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"] = (
                    cfg.broker_prefix
                )
        return env

    @property
    def webhook_key(self) -> str:
        """The key Xero (the sandbox) signs webhook deliveries to this stack with."""
        return self._secret("webhook_key", lambda: secrets.token_urlsafe(32))

    def run(
        self, *args: str, timeout: float = 300, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against this stack; with ``check``, raise if it fails."""
        result = subprocess.run(
            [airflow_executable(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def cli(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        """Run ``airflow <args>`` against this stack; return its stdout."""
        return self.run(*args, timeout=timeout, check=check).stdout

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 240) -> AirflowStack:
        """Migrate the database, start every component, wait until all report healthy."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "stack-logs").mkdir(exist_ok=True)
        for name, text in (
            ("admin_password.txt", self.password),
            ("passwords.json", json.dumps({self.config.admin_user: self.password})),
        ):
            (self.home / name).write_text(text)
            (self.home / name).chmod(0o600)  # the UI login: for this machine's user only
        if self.config.migrate:
            self.cli("db", "migrate", timeout=600)
        try:
            for name in self.components:
                self.launch(name)
            for index in range(self.config.celery_workers):
                self.launch(f"worker-{index + 1}")
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        self.supervisor.start()
        return self

    def _arguments(self, name: str) -> list[str]:
        """The ``airflow`` arguments that run component ``name`` (``worker-N``: a worker)."""
        if name == "api-server":
            return ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port),
                    "--workers", "1"]  # fmt: skip
        # Airflow's serve-logs binds every interface (its host is not configurable) on fixed
        # ports: skipped, since every component here writes its logs to this machine's
        # disk, where the api-server reads them directly.
        if name.startswith("worker-"):
            return ["celery", "worker", "--skip-serve-logs",
                    "--celery-hostname", f"w{name.removeprefix('worker-')}-{self.stack_id[:8]}@%h",
                    "--concurrency", str(self.config.worker_concurrency)]  # fmt: skip
        if name in ("scheduler", "triggerer"):
            return [name, "--skip-serve-logs"]
        return [name]

    def launch(self, name: str) -> None:
        """Start one component in its own session (process group), logging beside the rest."""
        log = open(self.home / "stack-logs" / f"{name}.log", "ab")  # noqa: SIM115
        try:
            with self.components_lock:
                self.processes[name] = subprocess.Popen(
                    [airflow_executable(), *self._arguments(name)],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own session and process group
                )
        finally:
            log.close()

    def kill(self, name: str) -> None:
        """SIGKILL one component and everything it started (a crash, not a shutdown)."""
        with self.components_lock:
            process = self.processes.pop(name)
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)

    @property
    def crashes(self) -> list[Crash]:
        """Components that exited on their own (and were started again) so far."""
        return list(self.supervisor.crashes)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.home / "stack-logs" / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def _check_alive(self) -> None:
        """Restart a component that exited; raise once the stack's restarts are spent."""
        self.supervisor.check()

    def wait(
        self, condition: Callable[[], Any], timeout: float, what: str, interval: float = 1
    ) -> Any:
        """Poll ``condition`` until it returns something true, and return that.

        Raises if a component exits meanwhile, or with the scheduler's log after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            value = condition()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}; {self.log_tail('scheduler')}")

    def wait_healthy(self, timeout: float = 240) -> None:
        """Wait until the api-server reports every component healthy and workers are ready."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                last = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
                parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
                healthy = all((last.get(p) or {}).get("status") == "healthy" for p in parts)
                if healthy and self._workers_ready():
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise TimeoutError(f"Airflow not healthy within {timeout}s; last health: {last}")

    def _workers_ready(self) -> bool:
        names = [n for n in self.processes if n.startswith("worker-")]
        return all(" ready." in self.log_tail(n, 200_000) for n in names)

    def stop(self, timeout: float = 30) -> None:
        """Stop every component's process group; raise if any process of the stack survives."""
        self.supervisor.stop()
        if self.crashes:
            print(f"airflow stack {self.stack_id[:8]} restarted: "
                  + "; ".join(c.summary() for c in self.crashes), file=sys.stderr)  # fmt: skip
        if self._client is not None:
            self._client.close()
            self._client = None
        groups = {name: p.pid for name, p in self.processes.items() if p.poll() is None}
        for pgid in groups.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.leftovers():
            for process in self.processes.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.2)
            time.sleep(0.3)
        for pgid in groups.values():  # workers ignore SIGTERM: no more asking
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        self.processes.clear()
        deadline = time.monotonic() + 10
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.2)
        if left:
            raise RuntimeError(f"processes of Airflow stack {self.stack_id} survived: {left}")

    def leftovers(self) -> list[int]:
        """Live (non-zombie) processes carrying this stack's marker in their environment."""
        found = []
        needle = f"{MARKER}={self.stack_id}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if needle not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                found.append(int(entry.name))
        return found

    def __enter__(self) -> AirflowStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- REST API ------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        """An httpx client on ``/api/v2`` with a bearer token for the admin user."""
        if self._client is None:
            response = httpx.post(
                f"{self.url}/auth/token",
                json={"username": self.config.admin_user, "password": self.password},
                timeout=30,
            )
            response.raise_for_status()
            token = response.json()["access_token"]
            self._client = httpx.Client(
                base_url=f"{self.url}/api/v2",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
        return self._client

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the REST API; raise with the body on an error status.

        A 5xx (e.g. SQLite busy under load; the request's transaction was rolled back) is
        retried twice; so is a read timeout of a call that is safe to repeat (a GET, or
        pausing/unpausing a DAG), which a busy SQLite can cause on a loaded machine.
        A 404 for a DAG this stack has seen parsed, because a failed parse left it stale
        (see :func:`stale_dag_threshold`), is sent again once the DAG is parsed again.
        """
        try:
            return self._api_once(method, path, **kwargs)
        except ApiError as error:
            if error.status != 404 or not self._back_after_stale(path):
                raise
        return self._api_once(method, path, **kwargs)

    def _api_once(self, method: str, path: str, **kwargs: Any) -> Any:
        repeatable = method == "GET" or (method == "PATCH" and path.count("/") == 2)
        for attempt in range(3):
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.ReadTimeout:
                if not repeatable or attempt == 2:
                    raise
                continue
            if response.status_code < 500:
                break
            time.sleep(2 * (attempt + 1))
        if response.status_code >= 400:
            raise ApiError(method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def _back_after_stale(self, path: str) -> bool:
        """Whether the DAG ``path`` names was stale and is parsed again now: its file is
        queued for a parse and waited for. False when the DAG is listed (the 404 was for
        something else) or was never seen parsed here."""
        parts = path.split("/")
        dag_id = parts[2] if len(parts) > 2 and parts[1] == "dags" else ""
        if dag_id not in self._file_tokens:
            return False
        listed = self._api_once("GET", "/dags", params={"dag_id_pattern": dag_id})["dags"]
        if any(d["dag_id"] == dag_id for d in listed):
            return False
        self.reparse(dag_id, self._file_tokens[dag_id])
        self.wait_for_dags(
            [dag_id], timeout=self.config.parse_interval + 180, import_errors_fail=False
        )
        return True

    def wait_for_dags(
        self, dag_ids: list[str], timeout: float = 180, import_errors_fail: bool = True
    ) -> None:
        """Wait until the dag-processor has parsed every DAG in ``dag_ids``; fail at once on
        an import error unless ``import_errors_fail`` is False (waiting for DAGs that were
        parsed before, whose file's error may be a passing one)."""

        def parsed() -> bool:
            listed = self.api("GET", "/dags", params={"limit": 1000})["dags"]
            self._file_tokens.update({d["dag_id"]: d["file_token"] for d in listed})
            if not set(dag_ids) - {d["dag_id"] for d in listed}:
                return True
            errors = self.api("GET", "/importErrors")["import_errors"]
            if errors and import_errors_fail:
                raise RuntimeError(f"DAG import errors: {errors}")
            return False

        self.wait(parsed, timeout, f"DAGs {sorted(dag_ids)} to be parsed", interval=2)

    def unpause(self, dag_id: str, paused: bool = False) -> None:
        """Unpause (or pause) a DAG; unpausing an asset-scheduled DAG also asks for its
        file to be parsed now.

        Airflow registers an asset watcher's trigger when it parses the file of an unpaused
        DAG (``add_asset_trigger_references`` skips paused ones), so without the parse an
        unpaused asset DAG would start watching only at the file's next periodic parse.
        Other DAGs need no parse: asking for one anyway adds writes to a busy SQLite.
        """
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
        if not paused:
            details = self.api("GET", f"/dags/{dag_id}/details")
            if details.get("asset_expression"):
                self.reparse(dag_id, details["file_token"])

    def reparse(self, dag_id: str, file_token: str | None = None) -> bool:
        """Queue a priority parse of ``dag_id``'s file (``PUT /parseDagFile``, Airflow's
        own endpoint); one already queued for it is enough. Only a speed-up: when the
        api-server cannot take it now (a timeout or a 5xx on a busy SQLite), the periodic
        parse still comes, so this returns False instead of failing the caller."""
        token = file_token or self.api("GET", f"/dags/{dag_id}/details")["file_token"]
        try:
            answer = self.client.put(f"/parseDagFile/{token}")
        except httpx.TransportError:
            return False
        if answer.status_code in (201, 409):  # 409: a request for the file is queued
            return True
        if answer.status_code >= 500:
            return False
        raise RuntimeError(f"PUT /parseDagFile for {dag_id}: {answer.status_code} {answer.text}")

    def trigger(
        self, dag_id: str, conf: dict | None = None, logical_date: str | None = None
    ) -> str:
        """Trigger a run through the REST API; returns its run id."""
        body = {"logical_date": logical_date, "conf": conf or {}}
        return self.api("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of ``dag_id``, oldest first (the API pages by 100: an always-on DAG
        has more within an hour, and its current run is the newest)."""
        runs: list[dict[str, Any]] = []
        while True:
            params = {"limit": 100, "offset": len(runs), "order_by": "id"}
            page = self.api("GET", f"/dags/{dag_id}/dagRuns", params=params)["dag_runs"]
            runs += page
            if len(page) < 100:
                return runs

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 300,
        meanwhile: Callable[[], Any] | None = None,
    ) -> str:
        """Wait until the run finishes; return its state (``success`` or ``failed``).
        ``meanwhile`` is called before each look (to answer what the run asks, say)."""

        def finished() -> str | None:
            if meanwhile is not None:
                meanwhile()
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state if state in TERMINAL_RUN_STATES else None

        return self.wait(finished, timeout, f"{dag_id}/{run_id} to finish", interval=1.5)

    def wait_for_all_runs(self, dag_id: str, timeout: float = 300) -> list[dict[str, Any]]:
        """Wait until no run of ``dag_id`` is queued or running; return all its runs."""

        def finished() -> list[dict[str, Any]] | None:
            runs = self.runs(dag_id)
            return runs if runs and all(r["state"] in TERMINAL_RUN_STATES for r in runs) else None

        return self.wait(finished, timeout, f"every run of {dag_id} to finish", interval=1.5)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.api("GET", path, params={"limit": 1000})["task_instances"]

    def failure_report(self, dag_id: str, run_id: str, lines: int = 12) -> str:
        """Why a run failed, for a test to print: each failed task's last log lines and what
        the scheduler said about it (a "state mismatch" is Airflow failing the task, not the
        task failing). CI keeps only the output, never the stack's logs."""
        report = []
        failed = [
            ti
            for ti in self.task_instances(dag_id, run_id)
            if ti["state"] in ("failed", "upstream_failed")
        ]
        errors = [  # the scheduler's log, read once for all of them
            line
            for line in self.log_tail("scheduler", 2_000_000).splitlines()
            if run_id in line and "error" in line.lower()
        ]
        for ti in failed:
            task_id, map_index = ti["task_id"], ti.get("map_index", -1)
            report.append(f"{dag_id}/{run_id}/{task_id}[{map_index}]: {ti['state']}")
            folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
            mapped = f"map_index={map_index}/" if map_index >= 0 else ""
            for log in sorted(folder.glob(f"task_id={task_id}/{mapped}attempt=*.log")):
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                report += [f"  {log.name}: {line[:400]}" for line in tail]
            said = [line for line in errors if task_id in line]
            report += [f"  scheduler: {line[:600]}" for line in said[-3:]]
        return "\n".join(report)

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.api("GET", path, params={"map_index": map_index, "deserialize": True})["value"]


# --- isolated PostgreSQL and Redis for one run -----------------------------------------------

POSTGRES_ADMIN_URL = os.environ.get(
    "XERO_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("XERO_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@contextlib.contextmanager
def postgres_database(prefix: str = "xero_stack") -> Iterator[str]:
    """Create a uniquely named PostgreSQL database, yield its URL, drop it afterwards."""
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def redis_broker(prefix: str = "xero_stack") -> Iterator[tuple[str, str]]:
    """Yield ``(broker_url, key_prefix)`` unique to this run; delete its keys afterwards."""
    import redis

    key_prefix = f"{prefix}_{uuid.uuid4().hex[:12]}:"
    client = redis.Redis.from_url(f"{REDIS_URL}/0")
    client.ping()
    try:
        yield f"{REDIS_URL}/0", key_prefix
    finally:
        keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
