"""A real Airflow for the connect tests: a migrated metadata database, a DAG scheduled on
a Xero asset, and the api-server (with plugins/xero_connect.py) on a free port."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.changes.conftest import store_url  # noqa: F401 - the state store, SQLite and PostgreSQL
from tests.provider.conftest import postgres_url  # noqa: F401 - store_url's PostgreSQL
from xero_sandbox.testing import SandboxServer, free_port

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
WEBHOOK_KEY = "test-webhook-key-" + secrets.token_hex(8)
APP_CLIENT_ID = "9E4A50718293A4B5C6D7E8F90A1B2C3D"
APP_SECRET = "connect-test-secret-" + secrets.token_hex(6)
ADMIN, VIEWER = ("admin", "admin-pw-" + secrets.token_hex(4)), ("viewer", "viewer-pw-1")
DAG_ID = "xero_contacts_changed"

DAG_FILE = """
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from xero_provider.connect.webhooks import xero_asset

with DAG(
    "{dag_id}",
    schedule=[xero_asset("{tenant}", "Contacts")],
    catchup=False,
):
    EmptyOperator(task_id="react")
"""


@dataclass
class AirflowSite:
    """The running api-server and how to reach it."""

    url: str
    env: dict[str, str]
    home: Path
    log: Path
    process: subprocess.Popen | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def redirect_uri(self) -> str:
        return self.url + "/xero/callback"

    def token(self, user: tuple[str, str] = ADMIN) -> str:
        """An Airflow JWT for ``user`` (POST /auth/token)."""
        if user[0] not in self.tokens:
            answer = httpx.post(
                self.url + "/auth/token",
                json={"username": user[0], "password": user[1]},
                timeout=30,
            )
            answer.raise_for_status()
            self.tokens[user[0]] = answer.json()["access_token"]
        return self.tokens[user[0]]

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/api/v2",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=60,
        )

    def browser(self, user: tuple[str, str] | None = ADMIN) -> httpx.Client:
        """A cookie-carrying client, logged in as ``user`` (None: anonymous)."""
        client = httpx.Client(base_url=self.url, timeout=60, follow_redirects=False)
        if user is not None:
            client.cookies.set("_token", self.token(user))
        return client

    def run(self, *argv: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(argv), env=self.env, input=stdin, capture_output=True, text=True, timeout=timeout
        )


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"api-server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"api-server not healthy in {seconds}s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def airflow_site(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_server: SandboxServer,
    migrated_db: Callable[[Path], Path],
) -> Iterator[AirflowSite]:
    home = tmp_path_factory.mktemp("connect_airflow")
    dags = home / "dags"
    dags.mkdir()
    (dags / "xero_webhook_dag.py").write_text(
        DAG_FILE.format(dag_id=DAG_ID, tenant=sandbox_server.demo.tenant_id)
    )
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps(dict([ADMIN, VIEWER])))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__XERO_CONNECT__WEBHOOK_KEY": WEBHOOK_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("XERO_TOKEN_STORE", None)
    site = AirflowSite(url=url, env=env, home=home, log=home / "api-server.log")
    migrated_db(home / "airflow.db")
    done = site.run(AIRFLOW, "dags", "reserialize", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(site.log, "wb") as log:
        site.process = subprocess.Popen(
            [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(url, site.process, site.log, 180)
        yield site
    finally:
        _stop(site.process)


def _stop(process: subprocess.Popen) -> None:
    """Stop the api-server and every process it started (its own session)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers that ignored SIGTERM


@pytest.fixture
def xero_app(sandbox: SandboxServer, airflow_site: AirflowSite) -> dict[str, Any]:
    """The demo organisations plus a Xero app whose redirect URI is this api-server's."""
    app = {
        "client_id": APP_CLIENT_ID,
        "client_secret": APP_SECRET,
        "name": "Airflow connect test app",
        "kind": "web",
        "redirect_uris": [airflow_site.redirect_uri],
    }
    sandbox.control("POST", "/seed", json={"apps": [app]})
    return app


@pytest.fixture
def clean_connections(airflow_site: AirflowSite) -> Iterator[None]:
    """Each test starts and ends with no xero connections in the metadata database."""

    def wipe() -> None:
        with airflow_site.api() as api:
            listed = api.get("/connections", params={"limit": 1000}).json()["connections"]
            for conn in listed:
                if conn["conn_type"] == "xero":
                    api.delete(f"/connections/{conn['connection_id']}")

    wipe()
    yield
    wipe()


def approve(location: str, tenant_ids: list[str] | None = None) -> httpx.Response:
    """Act as the user on the sandbox's consent page; returns the redirect back."""
    with httpx.Client(timeout=30) as browser:
        page = browser.get(location)
        assert page.status_code == 200, page.text[:500]
        request_id = unescape(re.search(r'name="request_id" value="([^"]+)"', page.text)[1])
        offered = re.findall(r'name="tenant_id" value="([^"]+)"', page.text)
        return browser.post(
            location.split("?")[0],
            data={
                "request_id": request_id,
                "decision": "approve",
                "tenant_id": tenant_ids if tenant_ids is not None else offered,
            },
        )


def csrf_of(page: str) -> str:
    return unescape(re.search(r"name='csrf' value='([^']+)'", page)[1])
