"""Build ``xero`` Airflow connections pointing at the sandbox (env-var connections, as
tasks and triggers read them), with tokens bootstrapped from a sandbox grant."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from xero_sandbox.testing import SandboxServer


def xero_connection(
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    token_store: str | Path,
    *,
    tenant_id: str | None = None,
    conn_id: str | None = None,
    grant_tenants: list[str] | None = None,
    grant_scopes: list[str] | None = None,
    **extra: Any,
) -> str:
    """Register ``AIRFLOW_CONN_<ID>`` for the demo web app and return the connection id.

    A fresh sandbox grant (its own refresh token) is bootstrapped through the
    connection's ``refresh_token`` extra, as a user would do once.
    """
    tenant = tenant_id or sandbox.demo.tenant_id
    conn_id = conn_id or f"xero_{uuid.uuid4().hex[:8]}"
    tokens = sandbox.tokens(tenant_ids=grant_tenants or [tenant], scopes=grant_scopes)
    store = str(token_store)
    if "://" not in store:
        store = f"sqlite:///{store}"
    body = {
        "conn_type": "xero",
        "login": sandbox.demo.web_client_id,
        "password": sandbox.demo.web_client_secret,
        "extra": {
            "tenant_id": tenant,
            "api_base_url": sandbox.url,
            "identity_base_url": sandbox.url,
            "login_base_url": sandbox.url,
            "token_store": store,
            "token_key": conn_id,
            "refresh_token": tokens["refresh_token"],
            # tests poll every half second; the daily call plan's own tests turn it on
            "call_plan": "off",
            **extra,
        },
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(body))
    return conn_id
