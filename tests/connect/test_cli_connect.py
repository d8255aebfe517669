"""``python -m xero_provider.auth`` as a person runs it: connect (listening on the loopback
redirect, or pasting it), status asking Xero, revoke that names every connection of the
grant, disconnect one organisation, and prerequisites checked before the consent page."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.connect.conftest import AIRFLOW, REPO, AirflowSite, _stop, approve
from xero_sandbox.testing import SandboxServer, free_port

# On the connect tests' api-server (``airflow_site``, one worker): a second api-server let
# these overlap the other connect tests, but the suite is short of CPU, not of workers.
pytestmark = [pytest.mark.slow]
CLI = [sys.executable, "-m", "xero_provider.auth"]
CLI_CLIENT_ID = "AF5B60718293A4B5C6D7E8F90A1B2C3D"
CLI_SECRET = "cli-test-secret-7d1c0e9b"


class Running:
    """A CLI process whose output is collected as it comes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def authorize_url(self, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [line for line in self.lines if "/identity/connect/authorize?" in line]
            if found:
                return found[0].strip()
            if self.process.poll() is not None:
                time.sleep(0.2)
                raise AssertionError(f"the CLI ended first:\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"no authorize URL printed:\n{self.output}")

    def finish(self, stdin: str = "", seconds: float = 120) -> int:
        if stdin:
            self.process.stdin.write(stdin)
            self.process.stdin.flush()
        code = self.process.wait(seconds)
        self._reader.join(10)
        return code


@pytest.fixture
def cli_app(sandbox: SandboxServer, tmp_path: Path) -> dict[str, Any]:
    """A Xero app registered with a loopback redirect on a free port, and its secret file."""
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/xero/callback"
    app = {
        "client_id": CLI_CLIENT_ID,
        "client_secret": CLI_SECRET,
        "name": "CLI connect test app",
        "kind": "web",
        "redirect_uris": [redirect],
    }
    sandbox.control("POST", "/seed", json={"apps": [app]})
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(CLI_SECRET + "\n")
    return {"redirect": redirect, "secret_file": str(secret_file)}


def connect_argv(sandbox: SandboxServer, cli_app: dict[str, Any], *more: str) -> list[str]:
    return [
        *CLI,
        "connect",
        "--client-id",
        CLI_CLIENT_ID,
        "--client-secret-file",
        cli_app["secret_file"],
        "--base-url",
        sandbox.url,
        "--redirect-uri",
        cli_app["redirect"],
        "--conn-id-prefix",
        "cli",
        *more,
    ]


def stored(site: AirflowSite) -> dict[str, dict[str, Any]]:
    with site.api() as api:
        listed = api.get("/connections", params={"limit": 1000}).json()["connections"]
    return {c["connection_id"]: json.loads(c["extra"]) for c in listed if c["conn_type"] == "xero"}


def test_connect_listening_then_status_revoke_and_disconnect(
    airflow_site: AirflowSite, sandbox: SandboxServer, cli_app: dict, clean_connections: None
) -> None:
    cli = Running(connect_argv(sandbox, cli_app), airflow_site.env)
    back = approve(cli.authorize_url())
    assert back.status_code == 302
    answer = httpx.get(back.headers["location"], timeout=30)  # the browser reaching the CLI
    assert answer.status_code == 200
    assert cli.finish() == 0, cli.output
    assert "Connected 2 organisation(s)" in cli.output
    assert CLI_SECRET not in cli.output
    extras = stored(airflow_site)
    assert set(extras) == {"cli_demo_company_nz", "cli_sandbox_starter_ltd"}
    assert len({e["grant_key"] for e in extras.values()}) == 1

    status = airflow_site.run(*CLI, "status", "--conn-id", "cli_demo_company_nz")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Xero says:       2 organisation(s) reachable" in status.stdout
    assert "same grant as:   cli_sandbox_starter_ltd" in status.stdout

    refused = airflow_site.run(*CLI, "revoke", "--conn-id", "cli_demo_company_nz")
    assert refused.returncode == 1
    assert "cli_sandbox_starter_ltd" in refused.stdout and "--yes" in refused.stdout

    gone = airflow_site.run(*CLI, "disconnect", "--conn-id", "cli_sandbox_starter_ltd")
    assert gone.returncode == 0, gone.stderr
    assert "Disconnected Sandbox Starter Ltd" in gone.stdout
    assert set(stored(airflow_site)) == {"cli_demo_company_nz"}
    status = airflow_site.run(*CLI, "status", "--conn-id", "cli_demo_company_nz")
    assert "Xero says:       1 organisation(s) reachable" in status.stdout

    done = airflow_site.run(*CLI, "revoke", "--conn-id", "cli_demo_company_nz")
    assert done.returncode == 0, done.stderr
    assert "no longer work until connected again: cli_demo_company_nz" in done.stdout
    after = airflow_site.run(*CLI, "status", "--conn-id", "cli_demo_company_nz")
    assert after.returncode == 1 and "none stored" in after.stdout


def test_connect_by_pasting_the_redirect(
    airflow_site: AirflowSite, sandbox: SandboxServer, cli_app: dict, clean_connections: None
) -> None:
    # an unrelated connection already has the id this organisation would get
    with airflow_site.api() as api:
        body = {"connection_id": "cli_demo_company_nz", "conn_type": "postgres", "host": "db"}
        assert api.post("/connections", json=body).status_code == 201
    try:
        cli = Running(connect_argv(sandbox, cli_app, "--paste"), airflow_site.env)
        back = approve(cli.authorize_url(), [sandbox.demo.tenant_id])
        assert cli.finish(back.headers["location"] + "\n") == 0, cli.output
        assert set(stored(airflow_site)) == {"cli_demo_company_nz_2"}
        with airflow_site.api() as api:
            assert api.get("/connections/cli_demo_company_nz").json()["conn_type"] == "postgres"
    finally:
        with airflow_site.api() as api:
            api.delete("/connections/cli_demo_company_nz")


def test_a_busy_redirect_port_falls_back_to_pasting(
    airflow_site: AirflowSite, sandbox: SandboxServer, cli_app: dict, clean_connections: None
) -> None:
    import socket

    port = int(cli_app["redirect"].split(":")[2].split("/")[0])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        cli = Running(connect_argv(sandbox, cli_app), airflow_site.env)
        back = approve(cli.authorize_url(), [sandbox.demo.second_tenant_id])
        assert "Falling back to pasting" in cli.output
        assert cli.finish(back.headers["location"] + "\n") == 0, cli.output
    assert set(stored(airflow_site)) == {"cli_sandbox_starter_ltd"}


def test_connect_while_the_api_server_holds_the_redirect_port(
    airflow_site: AirflowSite, sandbox: SandboxServer, cli_app: dict, clean_connections: None
) -> None:
    """The redirect reaches Airflow, not the CLI: the CLI says so, and the address the
    browser then shows is enough."""
    redirect = airflow_site.url + "/xero/callback"
    sandbox.control("POST", f"/apps/{CLI_CLIENT_ID}/redirect_uris", json={"redirect_uri": redirect})
    cli = Running(connect_argv(sandbox, {**cli_app, "redirect": redirect}), airflow_site.env)
    back = approve(cli.authorize_url(), [sandbox.demo.tenant_id])
    assert "Airflow's api-server is listening" in cli.output, cli.output
    # the browser lands on the plugin's callback page, which says to paste its address
    landed = httpx.get(back.headers["location"], timeout=30, follow_redirects=True)
    assert "copy this page" in unescape(landed.text)
    address = str(landed.url)
    assert cli.finish(address + "\n") == 0, cli.output
    assert set(stored(airflow_site)) == {"cli_demo_company_nz"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"env": {"AIRFLOW__CORE__FERNET_KEY": None}}, ".airflow/demo/.fernet_key"),
        ({"args": ["--redirect-uri", "http://127.0.0.1:9/elsewhere"]}, "add it to the app's"),
        (
            {"args": ["--credential-store", "postgresql://nobody@127.0.0.1:9/none"]},
            "token store (postgresql://nobody@127.0.0.1:9/none) is not reachable",
        ),
        (
            {"env": {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:///{tmp}/empty.db"}},
            "db migrate",
        ),
        ({"args": ["--redirect-uri", "http://example.com/callback"]}, "Xero accepts http only"),
    ],
    ids=["no-fernet-key", "unregistered-redirect", "store-unreachable", "no-metadata-db", "http"],
)
def test_prerequisites_are_checked_before_the_consent_page(
    airflow_site: AirflowSite,
    sandbox: SandboxServer,
    cli_app: dict,
    tmp_path: Path,
    change: dict,
    expected: str,
) -> None:
    env = dict(airflow_site.env)
    for name, value in change.get("env", {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value.format(tmp=tmp_path)
    argv = connect_argv(sandbox, cli_app)
    extra = change.get("args", [])
    if extra and extra[0] in argv:
        index = argv.index(extra[0])
        argv[index + 1] = extra[1]
    else:
        argv += extra
    before = sandbox.control("GET", "/identity/stats").json()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, input="")
    assert done.returncode == 1, done.stdout + done.stderr
    assert expected in done.stderr, done.stderr
    assert "no HTTP status" not in done.stderr  # found here: Xero was never asked
    assert "/identity/connect/authorize?" not in done.stdout  # nobody was sent to Xero
    assert sandbox.control("GET", "/identity/stats").json() == before


def test_connect_a_pkce_app_without_a_secret(
    airflow_site: AirflowSite, sandbox: SandboxServer, cli_app: dict, clean_connections: None
) -> None:
    """A PKCE app has no secret: the code is exchanged with the verifier alone."""
    pkce = {
        "client_id": "B06C70718293A4B5C6D7E8F90A1B2C3D",
        "client_secret": None,
        "name": "CLI PKCE test app",
        "kind": "pkce",
        "redirect_uris": [cli_app["redirect"]],
    }
    sandbox.control("POST", "/seed", json={"apps": [pkce]})
    argv = connect_argv(sandbox, cli_app, "--paste")
    argv[argv.index(CLI_CLIENT_ID)] = pkce["client_id"]
    index = argv.index("--client-secret-file")
    del argv[index : index + 2]
    cli = Running(argv, airflow_site.env)
    cli.process.stdin.write("\n")  # the secret prompt: empty for a PKCE app
    cli.process.stdin.flush()
    back = approve(cli.authorize_url(), [sandbox.demo.tenant_id])
    assert cli.finish(back.headers["location"] + "\n") == 0, cli.output
    (conn_id,) = stored(airflow_site)
    status = airflow_site.run(*CLI, "status", "--conn-id", conn_id)
    assert status.returncode == 0, status.stdout + status.stderr
    with airflow_site.api() as api:
        assert api.get(f"/connections/{conn_id}").json()["password"] in (None, "")


def test_the_app_tier_is_recorded_and_its_connection_cap_checked_before_consent(
    airflow_site: AirflowSite, sandbox: SandboxServer, cli_app: dict, clean_connections: None
) -> None:
    """Starter connects at most 5 organisations (developer.xero.com/pricing): the sixth is
    refused here, before anyone goes to Xero; the tier given is kept on each connection."""
    cli = Running(
        connect_argv(sandbox, cli_app, "--paste", "--app-tier", "starter"), airflow_site.env
    )
    back = approve(cli.authorize_url(), [sandbox.demo.tenant_id])
    assert cli.finish(back.headers["location"] + "\n") == 0, cli.output
    assert "Scopes: asking Xero for granular scopes" in cli.output
    assert "left out for the app's tier: Journals" in cli.output
    [extra] = stored(airflow_site).values()
    assert extra["app_tier"] == "starter" and "accounting.journals.read" not in extra["scopes"]
    with airflow_site.api() as api:  # four more organisations connected by this app
        for n in range(4):
            extra = {"tenant_id": f"00000000-0000-0000-0000-00000000000{n}", "app_tier": "starter"}
            body = {
                "connection_id": f"cli_other_{n}",
                "conn_type": "xero",
                "login": CLI_CLIENT_ID,
                "extra": json.dumps(extra),
            }
            assert api.post("/connections", json=body).status_code == 201
    before = sandbox.control("GET", "/identity/stats").json()
    argv = connect_argv(sandbox, cli_app, "--paste", "--app-tier", "starter")
    done = subprocess.run(argv, env=airflow_site.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "on the Starter tier, which connects at most 5 organisations" in done.stderr
    assert "cli_other_0" in done.stderr
    assert "/identity/connect/authorize?" not in done.stdout  # nobody was sent to Xero
    assert sandbox.control("GET", "/identity/stats").json() == before
    again = subprocess.run(
        [*argv[:2], "connect", "--from-conn-id", "cli_demo_company_nz", "--paste"],
        env=airflow_site.env,
        capture_output=True,
        text=True,
        timeout=120,
        input="\n",
    )
    assert "connects at most" not in again.stderr  # re-authorising takes no new slot


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:8080/xero/callback?code=abc&state=xyz",
        "code=abc&state=xyz",
        # an api-server without the plugin: its UI sends the browser to sign in first
        "http://127.0.0.1:8080/auth/login/?next=http%3A%2F%2F127.0.0.1%3A8080%2Fxero%2F"
        "callback%3Fcode%3Dabc%26state%3Dxyz",
        "http://127.0.0.1:8080/auth/login/?next=http%253A%252F%252F127.0.0.1%253A8080%252F"
        "xero%252Fcallback%253Fcode%253Dabc%2526state%253Dxyz",
    ],
    ids=["callback", "query", "login-next", "login-next-twice-encoded"],
)
def test_the_pasted_address_is_read_through_airflows_sign_in(address: str) -> None:
    from xero_provider.connect.cli import redirect_query

    assert redirect_query(address) == {"code": "abc", "state": "xyz"}


def test_a_pasted_address_without_a_sign_in_gives_no_code() -> None:
    from xero_provider.connect.cli import redirect_query

    assert "code" not in redirect_query("http://127.0.0.1:8080/auth/login/?next=%2Fhome")


# --- organisations come from connections: a real dag-processor builds their DAGs ----------

SYNC_DAG = "xero_warehouse_sync_"


def organisation_dags(site: AirflowSite) -> dict[str, list[str]]:
    """The live (not stale) warehouse DAGs the dag-processor wrote, with their tags."""
    with site.api() as api:
        body = api.get("/dags", params={"dag_id_pattern": SYNC_DAG, "limit": 100}).json()
    return {
        d["dag_id"]: sorted(t["name"] for t in d["tags"])
        for d in body["dags"]
        if not d.get("is_stale")
    }


def wait_for(check, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"{what} within {seconds}s; dag-processor log:\n{log.read_text()[-4000:]}")


@dataclass
class DagProcessor:
    """The test's dag-processor: its periodic parse interval and its process."""

    interval: float
    process: subprocess.Popen
    started: datetime

    def parsing(self) -> bool:
        """A file is being parsed: each parse is a child process of the dag-processor (an
        exited one stays listed until the dag-processor reaps it, when it collects its
        result)."""
        return bool(psutil.Process(self.process.pid).children())

    def wait_until_idle(self, site: AirflowSite, log: Path) -> None:
        """Wait until it has parsed since it started and parses nothing now, twice in a row
        a loop apart: Airflow 3.3 drops a priority request for a file it is still parsing
        (``_start_new_processes``: "Stop creating duplicate processor"), so a directory
        change made during a parse would wait for the periodic one (a loaded run: the first
        parse took 11 s, the connect came during it, its DAGs never appeared)."""

        def idle() -> bool:
            if not _parsed_since(site, self.started) or self.parsing():
                return False
            time.sleep(1.5)  # the dag-processor loops every second
            return not self.parsing()

        wait_for(idle, 120, "the dag-processor to finish parsing", log)


def _parsed_since(site: AirflowSite, moment: datetime) -> bool:
    """A DAG of the site was parsed at or after ``moment``."""
    with site.api() as api:
        dags = api.get("/dags", params={"limit": 1000}).json()["dags"]
    return any(
        d.get("last_parsed_time")
        and datetime.fromisoformat(d["last_parsed_time"].replace("Z", "+00:00")) >= moment
        for d in dags
    )


@pytest.fixture
def dag_processor(airflow_site: AirflowSite) -> Iterator[DagProcessor]:
    """A real dag-processor parsing the warehouse sync DAG file beside the site's DAGs; its
    periodic parse interval is 600 s, longer than the test waits, so DAGs that appear or
    retire do so because connecting queued a priority parse of the files. Stopped, and the
    file removed, afterwards."""
    interval = 600.0
    copied = airflow_site.home / "dags" / "xero_warehouse_sync.py"
    copied.write_text((REPO / "dags" / "xero_warehouse_sync.py").read_text())
    env = {
        **airflow_site.env,
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(int(interval)),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "5",
        "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "5",
    }
    log = airflow_site.home / "dag-processor.log"
    started = datetime.now(UTC)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [AIRFLOW, "dag-processor"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        found = DagProcessor(interval, process, started)
        found.wait_until_idle(airflow_site, log)  # its first parse is over
        yield found
    finally:
        _stop(process)
        copied.unlink()


def test_connecting_is_the_only_step_to_an_organisations_dags(
    airflow_site: AirflowSite,
    sandbox: SandboxServer,
    cli_app: dict,
    clean_connections: None,
    dag_processor: DagProcessor,
) -> None:
    log = airflow_site.home / "dag-processor.log"
    cli = Running(connect_argv(sandbox, cli_app), airflow_site.env)
    back = approve(cli.authorize_url())
    httpx.get(back.headers["location"], timeout=30)
    assert cli.finish() == 0, cli.output
    connected = time.monotonic()
    both = {SYNC_DAG + "cli_demo_company_nz", SYNC_DAG + "cli_sandbox_starter_ltd"}
    dags = wait_for(
        lambda: (found := organisation_dags(airflow_site)) and both <= set(found) and found,
        120,
        "both organisations' DAGs did not appear",
        log,
    )
    print(f"DAGs appeared {time.monotonic() - connected:.1f}s after connect "
          f"(periodic parse every {dag_processor.interval:.0f}s)")  # fmt: skip
    assert "org:cli_demo_company_nz" in dags[SYNC_DAG + "cli_demo_company_nz"]
    assert set(dags) == both  # nothing for connections that are not there
    # the parse that showed these DAGs ends a moment after they are visible
    dag_processor.wait_until_idle(airflow_site, log)

    gone = airflow_site.run(*CLI, "disconnect", "--conn-id", "cli_sandbox_starter_ltd")
    assert gone.returncode == 0, gone.stderr
    disconnected = time.monotonic()
    wait_for(
        lambda: set(organisation_dags(airflow_site)) == {SYNC_DAG + "cli_demo_company_nz"},
        120,
        "the disconnected organisation's DAG was not retired",
        log,
    )
    print(f"DAG retired {time.monotonic() - disconnected:.1f}s after disconnect")
    dag_processor.wait_until_idle(airflow_site, log)

    # A connection made with Airflow's own CLI joins once the directory is rebuilt.
    extra = json.dumps({"tenant_id": sandbox.demo.tenant_id, "dag_key": "by_hand"})
    added = airflow_site.run(
        AIRFLOW, "connections", "add", "by_hand", "--conn-type", "xero", "--conn-extra", extra
    )
    assert added.returncode == 0, added.stderr
    listed = airflow_site.run(*CLI, "organisations")
    assert listed.returncode == 0, listed.stderr
    assert "added by_hand" in listed.stdout
    wait_for(
        lambda: SYNC_DAG + "by_hand" in organisation_dags(airflow_site),
        120,
        "the connection added by hand got no DAG",
        log,
    )
