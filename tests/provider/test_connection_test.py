"""The Test button's hook side: the configuration to test is handed in (the hook never
imports ``connect``), and a database error never answers "connected"."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook


@pytest.fixture
def conn_id(sandbox, monkeypatch, tmp_path) -> str:
    return xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")


def test_the_configuration_handed_in_is_the_one_tested(conn_id: str) -> None:
    hook = XeroHook(conn_id)
    try:
        real = dataclasses.replace(hook.config, conn_id="xero_the_real_one")
        ok, message = hook.test_connection(real)
    finally:
        hook.close()
    assert ok, message
    assert "'xero_the_real_one'" in message and "Demo Company (NZ)" in message


def test_the_connect_plugin_hands_in_its_resolver(conn_id: str, monkeypatch) -> None:
    seen = []

    def traced(config):
        seen.append(config.conn_id)
        return dataclasses.replace(config, conn_id="xero_traced")

    monkeypatch.setattr(XeroHook, "connection_test_config", traced)
    hook = XeroHook(conn_id)
    try:
        ok, message = hook.test_connection()
    finally:
        hook.close()
    assert seen == [conn_id]
    assert ok and "'xero_traced'" in message


def test_a_metadata_database_error_is_not_connected(conn_id: str, tmp_path) -> None:
    # A real database error: Airflow's metadata database is an empty SQLite file (no
    # ``connection`` table), in a process of its own so this one keeps its settings. The
    # old check trusted the copy's id on any database error and answered "connected".
    script = (
        "import json, sys\n"
        "from xero_provider.connect.conn_check import resolve\n"
        "from xero_provider.hooks import XeroHook\n"
        "XeroHook.connection_test_config = resolve\n"
        "print(json.dumps(XeroHook(sys.argv[1]).test_connection()))\n"
    )
    env = {
        **os.environ,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'empty.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, conn_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ok, message = json.loads(done.stdout.strip().splitlines()[-1])
    assert not ok
    assert "stored connections could not be read (OperationalError)" in message
