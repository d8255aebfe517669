"""Shared fixtures: the Xero sandbox over real HTTP, and clients whose every response is
checked against Xero's official OpenAPI spec."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".airflow" / "test_home"))
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
