"""Fixtures for provider tests: Airflow connections from the environment,
the token stores (a SQLite file, this machine's PostgreSQL) and a pool of racing processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

POSTGRES_URL = os.environ.get(
    "XERO_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
RACERS = 20


@pytest.fixture(autouse=True)
def _secrets_masker_per_test() -> Iterator[None]:
    """Forget the secrets a test registered, as a new task process would.

    Every rotated token is a new pattern in Airflow's masker, which recompiles one regex
    of all of them per new secret: over a whole session that costs seconds per refresh.
    """
    import re

    from airflow.sdk.log import _secrets_masker

    masker = _secrets_masker()
    before = set(masker.patterns)
    yield
    if masker.patterns != before:
        masker.patterns = before
        masker.replacer = re.compile("|".join(before)) if before else None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL URL; unreachable fails under CI and skips only on a laptop."""
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        message = f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc.orig}"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tokens.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def token_key() -> str:
    """Unique per test, so tests sharing the PostgreSQL tables never meet."""
    return f"test-{uuid.uuid4().hex}"


ConnectionFactory = Callable[..., tuple[str, dict[str, str]]]


@pytest.fixture
def xero_connection(
    monkeypatch: pytest.MonkeyPatch, sandbox: Any, token_key: str
) -> ConnectionFactory:
    """Make an ``AIRFLOW_CONN_<ID>`` for the sandbox; returns the conn id and the env var.

    ``app`` picks the demo app: ``web`` (code flow), ``pkce`` (no secret) or ``custom``
    (client_credentials); extra fields (``refresh_token``, ...) are keyword arguments.
    """

    def make(store: str, app: str = "web", **extra: Any) -> tuple[str, dict[str, str]]:
        demo = sandbox.demo
        login, password = {
            "web": (demo.web_client_id, demo.web_client_secret),
            "pkce": (demo.pkce_client_id, None),
            "custom": (demo.custom_client_id, demo.custom_client_secret),
        }[app]
        conn_id = f"xero_{uuid.uuid4().hex[:10]}"
        fields = {
            "api_base_url": sandbox.url,
            "identity_base_url": sandbox.url,
            "login_base_url": sandbox.url,
            "tenant_id": demo.tenant_id,
            "token_store": store,
            "token_key": token_key,
            **extra,
        }
        if app == "custom":
            fields["auth_mode"] = "client_credentials"
        value = json.dumps(
            {"conn_type": "xero", "login": login, "password": password, "extra": fields}
        )
        name = f"AIRFLOW_CONN_{conn_id.upper()}"
        monkeypatch.setenv(name, value)
        return conn_id, {name: value}

    return make


# --- race workers: they live here because the pool's server preloads this module -------


def race_for_token(barrier: Any, env: dict[str, str], conn_id: str, through_api: bool) -> tuple:
    """One racing process: set up, wait for the others, then get a token.

    ``through_api``: call the API through ``XeroAuth`` with a token Xero considers
    expired, so every process gets a 401 and goes through ``refresh_after_401``.
    Returns (pid, a digest of the token it ended with, error or None).
    """
    import hashlib

    import httpx

    from xero_provider.auth.tokens import TokenManager, XeroAuth

    os.environ.update(env)
    try:
        manager = TokenManager.from_conn_id(conn_id)
        manager.store.load(manager.key)  # connected before the race starts
        if through_api:
            manager.access_token()  # holds the stale token: its first call gets a 401
        with httpx.Client(auth=XeroAuth(manager, manager.config.tenant_id)) as client:
            barrier.wait()
            if through_api:
                response = client.get(manager.config.connections_url)
                if response.status_code != 200:
                    return os.getpid(), None, f"HTTP {response.status_code}"
            token = manager.access_token()
        return os.getpid(), hashlib.sha256(token.access_token.encode()).hexdigest(), None
    except Exception as exc:
        return os.getpid(), None, repr(exc)


def create_tables_and_write(barrier: Any, url: str) -> str | None:
    """One racing process: open a store on a database without tables and write to it."""
    from xero_provider.state.token_store import TokenStore
    from xero_provider.state.write_ledger import WriteLedger

    try:
        barrier.wait()
        WriteLedger(TokenStore(url)).record(f"pid-{os.getpid()}", "h", [])
    except Exception as exc:
        return repr(exc)
    return None


def _warm_up() -> None:
    """Pool initializer: the slow first imports (Airflow, its secrets masker) happen here,
    once per worker process, not inside a race."""
    from xero_provider.auth import oauth

    oauth.register_secrets("warm-up-value-not-a-secret")


class RacePool:
    """``RACERS`` worker processes (forked from a server that imported the provider);
    :meth:`run` calls a function once in each.

    The function gets a fresh barrier as its first argument and should do its set-up,
    then ``barrier.wait()``, then the racing call, so all of them hit it together.
    """

    def __init__(self) -> None:
        # Forked from one server that imported Airflow and the provider once: twenty
        # interpreters each importing them took most of a minute of CPU on two cores.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, "xero_provider.auth.oauth"])
        self._manager = context.Manager()
        self._pool = context.Pool(
            RACERS,
            initializer=_warm_up,
        )
        # Wait until every worker is up, so start-up is not counted as a test's run time.
        self._pool.map(self._manager.Barrier(RACERS, timeout=300).wait, [None] * RACERS, 1)

    def run(self, function: Callable[..., Any], *args: Any) -> list[Any]:
        barrier = self._manager.Barrier(RACERS, timeout=60)
        # chunksize=1 and a barrier nobody passes alone: every call gets its own process.
        return self._pool.starmap(function, [(barrier, *args)] * RACERS, chunksize=1)

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()
        self._manager.shutdown()


@pytest.fixture(scope="session")
def race_pool() -> Iterator[RacePool]:
    """Started once per session: the pool's server imports Airflow and the provider once."""
    pool = RacePool()
    yield pool
    pool.close()


def race_calls(barrier: Any, env: dict[str, str], conn_id: str, calls: int) -> str | None:
    """One racing process: ``calls`` reads through its own XeroHook, all sharing one store."""
    os.environ.update(env)
    from xero_provider.hooks import XeroHook

    hook = XeroHook(conn_id)
    try:
        hook.remaining_calls()  # connection read and tables made before the race
        barrier.wait()
        for number in range(calls):
            hook.call("GET", "Organisation" if number % 2 else "Accounts")
    except Exception as exc:
        return repr(exc)
    finally:
        hook.close()
    return None
