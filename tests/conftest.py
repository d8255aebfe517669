"""Shared fixtures: the Xero sandbox over real HTTP, and clients whose every response is
checked against Xero's official OpenAPI spec."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
# ``make test`` runs the suite in pytest-xdist workers (PYTEST_XDIST_WORKER=gw0, gw1, ...),
# which inherit the controller's environment: each gets its own AIRFLOW_HOME under the
# session's one, so no two workers share a SQLite metadata database or a dags folder.
os.environ.setdefault("XERO_TEST_AIRFLOW_HOME", os.environ.get("AIRFLOW_HOME", ""))
_HOME = Path(os.environ["XERO_TEST_AIRFLOW_HOME"] or REPO / ".airflow" / "test_home")
os.environ["AIRFLOW_HOME"] = str(_HOME / os.environ.get("PYTEST_XDIST_WORKER", ""))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# The token store refuses to keep tokens unencrypted: give the test session a Fernet key
# before anything reads Airflow's config (spawned processes inherit the environment).
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())

from xero_sandbox.testing import SandboxServer  # noqa: E402


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """One sandbox process for the session, checking its own responses against the spec."""
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    with SandboxServer(seed_demo=True, log_file=log, validate=True) as server:
        yield server
        violations = server.control("GET", "/violations").json()
    assert not violations, f"sandbox responses broke Xero's OpenAPI spec: {violations[:5]}"


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The sandbox reset to the demo data (real time, default limits, no faults)."""
    sandbox_server.reset(demo=True)
    return sandbox_server


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """``migrated_db(path)`` puts a migrated Airflow SQLite database at ``path``: a copy of
    one migrated once per run (tests/airflow_db.py), instead of ``airflow db migrate``."""
    from tests.airflow_db import install_migrated, migrated_template

    template = migrated_template(tmp_path_factory)
    return lambda path: install_migrated(template, path)


@pytest.fixture(scope="session")
def airflow_db(migrated_db: Callable[[Path], Path]) -> Path:
    """The session's AIRFLOW_HOME with a migrated SQLite database; returns its dags folder
    (``dag.test()`` in tests/changes and tests/operators uses this database)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    migrated_db(home / "airflow.db")
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    return dags


@pytest.fixture(scope="session")
def xero_spec():
    from xero_sandbox.conformance import XeroSpec

    return XeroSpec.load()


def authorised_client(
    sandbox: SandboxServer, xero_spec, tenant_id: str | None = None, **token_args
) -> httpx.Client:
    """An httpx client for the accounting API, validating each response against the spec."""
    tenant = tenant_id or sandbox.demo.tenant_id
    tokens = sandbox.tokens(tenant_ids=[tenant], **token_args)
    return httpx.Client(
        base_url=sandbox.url + "/api.xro/2.0",
        headers={
            "Authorization": f"Bearer {tokens['access_token']}",
            "xero-tenant-id": tenant,
            "Accept": "application/json",
        },
        event_hooks={"response": [xero_spec.response_hook()]},
        timeout=30,
    )


@pytest.fixture
def xero_client(sandbox: SandboxServer, xero_spec) -> Iterator[httpx.Client]:
    """Authorised for the demo organisation with every scope the demo app has."""
    with authorised_client(sandbox, xero_spec) as client:
        yield client


# --- parallel runs: ``make test`` is ``pytest -n 4 --dist loadgroup`` (pytest-xdist) -------
# README "Tests" says how to add to these; ``python -m tests.timeline`` shows where time goes.

pytest_plugins = [
    "tests.timeline",  # --timeline=PATH: each test's worker, group, seconds
    "tests.cpu_by_process",  # --cpu-sample=PATH: every process's CPU seconds, by kind
    "tests.terminate",  # SIGTERM tears the fixtures down (stops the stacks) like Ctrl-C
]

# Fixtures that start something expensive once per worker (an Airflow stack, an api-server,
# a pool of 20 racing processes): every test using one runs in the same worker, so it starts once.
# A new one is one line; tests that share one without a fixture take an xdist_group mark.
SHARED_FIXTURES = {
    "airflow_site": "connect-api-server",  # tests/connect: one api-server for the session
    "race_pool": "race-pool",  # tests/provider: 20 racing processes
    "starter_site": "example-dags-local",  # tests/system/test_example_dags.py: every DAG
    "local_stack": "example-dags-local-2",  # the same module: the tests needing some DAGs
    "stack": "changes-airflow-stack",  # tests/changes/test_system_airflow.py
    "world": "changes-properties",  # tests/changes/test_properties.py
}


# The long units of work (an Airflow each, minutes), longest first: they start first, each
# on a free worker, and a worker busy with one takes quick tests next, never a second long
# one (tests/xdist_longest.py). Measured per group: README "Tests". A new long test or group
# is one line here, at its place by length.
FIRST = (
    "tests/soak/test_soak.py",  # the short chaos soak: every DAG on Celery, with chaos
    "tests/system/test_example_dags.py::test_every_example_dag",  # example-dags-local
    "tests/changes/test_system_airflow.py",
    "tests/connect/test_browser.py::test_the_newcomer_path",  # `make airflow` twice
    "tests/system/test_example_dags.py",  # example-dags-local-2: a second stack
    "tests/connect/test_cli_connect.py",
    "tests/system/test_orgs_celery.py",  # organisations on Celery
    "tests/changes/test_xcom_object_storage.py",
    "tests/connect/",
    "tests/system/",
)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup``, with the long units (``FIRST``) kept apart."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.xdist_longest import LongFirstScheduling

    return LongFirstScheduling(config, log, FIRST)


def _group(item: pytest.Item) -> str | None:
    """The group named by the test's own ``xdist_group`` mark, else by a shared fixture."""
    mark = item.get_closest_marker("xdist_group")
    if mark is not None:
        return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    return next((SHARED_FIXTURES[n] for n in item.fixturenames if n in SHARED_FIXTURES), None)


def _rank(item: pytest.Item) -> int:
    first = [i for i, prefix in enumerate(FIRST) if item.nodeid.startswith(prefix)]
    if first:
        return first[0]
    return len(FIRST) + (0 if item.get_closest_marker("slow") else 1)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests by the expensive fixture they share; in xdist workers, slow tests first.

    Each worker collects the same list in the same order (xdist checks), and hands out work
    in that order: the slow tests (real Airflow stacks, mostly waiting) start at once in
    different workers while the quick ones fill the gaps, instead of queueing at the end.
    """
    grouping = getattr(config.option, "loadgroup", False)  # set in xdist workers
    for item in items:
        group = _group(item)
        if group is not None:
            if item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group(group))
            if grouping:
                _suffix_group(item, group)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_rank)


def _suffix_group(item: pytest.Item, group: str) -> None:
    """Give the item the ``<nodeid>@<group>`` id that ``--dist loadgroup`` schedules by.

    pytest-xdist 3.8 writes that id to ``item._nodeid``, which pytest 9.2 no longer reads
    (its ids live in ``item._id``), so its own marking is lost: do it where pytest reads.
    """
    from _pytest.nodeid import NodeId

    if "@" not in item.nodeid.rpartition("]")[2]:
        item._id = NodeId.parse(f"{item.nodeid}@{group}")
