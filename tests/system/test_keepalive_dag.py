"""The token keep-alive DAG runs in real Airflow and refreshes only old refresh tokens."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta

from tests.provider.connections import xero_connection
from xero_provider.auth.tokens import TokenManager


def _conn_env(*conn_ids: str) -> dict[str, str]:
    """The connections' AIRFLOW_CONN_* variables, for the airflow subprocess."""
    names = [f"AIRFLOW_CONN_{conn_id.upper()}" for conn_id in conn_ids]
    return {name: os.environ[name] for name in names}


def test_keepalive_refreshes_old_tokens_and_leaves_young_ones(
    sandbox, monkeypatch, tmp_path, run_airflow
) -> None:
    store = tmp_path / "tokens.db"
    old = xero_connection(sandbox, monkeypatch, store, conn_id="xero_old")
    young = xero_connection(sandbox, monkeypatch, store, conn_id="xero_young")
    for conn_id in (old, young):
        TokenManager.from_conn_id(conn_id).access_token()  # consume the bootstrap token
    manager = TokenManager.from_conn_id(old)
    aged = dataclasses.replace(
        manager.store.load(old), issued_at=datetime.now(UTC) - timedelta(days=45)
    )
    manager.store.save(old, aged)
    before = sandbox.control("GET", "/identity/stats").json()["refresh_token"]

    env = _conn_env(old, young)
    conf = json.dumps({"conn_ids": [old, young], "max_age_days": 30})
    result = run_airflow("dags", "test", "xero_token_keepalive", "--conf", conf, env=env)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    after = sandbox.control("GET", "/identity/stats").json()["refresh_token"]
    assert after == before + 1
    assert manager.store.load(old).issued_at > datetime.now(UTC) - timedelta(minutes=5)
    for secret in (sandbox.demo.web_client_secret, manager.store.load(old).access_token):
        assert secret not in result.stdout and secret not in result.stderr
