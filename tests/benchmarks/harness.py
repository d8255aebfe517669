"""What every benchmark needs: limit presets, call counting, connections and SDK clients.

Nothing here imports Airflow at module level: :mod:`tests.benchmarks.run` sets the
environment (``AIRFLOW_HOME``, a Fernet key) first, and spawned workers inherit it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xero_sandbox.testing import SandboxServer

ACCOUNTING_PREFIX = "/api.xro/"
TOKEN_PATH = "/connect/token"
SDK_DEFAULT_PAGE_SIZE = 100  # Xero's page size when pageSize is not sent (the SDK sends none)
XERO_BATCH_ADVICE = 50  # Xero recommends about 50 elements per write request

# "Limits off": nothing is refused, and the X-*Limit-Remaining headers never run low.
# ``enabled: false`` alone stops refusals, but the sandbox keeps counting the headers
# down from the configured limits, and a client that honours them (ours) would then wait
# for the next minute: that would measure waiting, not calls or client speed.
LIMITS_OFF: dict[str, Any] = {
    "enabled": False,
    "concurrent": 10**6,
    "per_minute": 10**9,
    "per_day": 10**9,
    "per_day_starter": 10**9,
    "app_per_minute": 10**9,
    "time_scale": 1.0,
    "latency_ms": 0.0,
}


# The connection extras that tell our hook the limits are off too (its shared rate budget
# mirrors the limits the connection names, Xero's real ones by default).
UNLIMITED_CONNECTION: dict[str, Any] = {
    "rate_limit_per_minute": 10**9,
    "rate_limit_per_day": 10**9,
    "app_rate_limit_per_minute": 10**9,
}


def real_limits(time_scale: float, latency_ms: float = 30.0) -> dict[str, Any]:
    """Xero's limits for one organisation, with a Xero minute lasting ``60 / time_scale`` s."""
    return {
        "enabled": True,
        "concurrent": 5,
        "per_minute": 60,
        "per_day": 5000,
        "per_day_starter": 1000,
        "app_per_minute": 10000,
        "time_scale": time_scale,
        "latency_ms": latency_ms,
    }


@dataclass
class CallCount:
    """Requests the sandbox logged: accounting/connections calls and token-endpoint calls."""

    api: int = 0
    token: int = 0
    rate_limited: int = 0  # 429 answers among the API calls

    @property
    def total(self) -> int:
        return self.api + self.token

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}

    def label(self) -> str:
        return f"{self.total:,} ({self.api:,}+{self.token})"


def count_calls(sandbox: SandboxServer) -> CallCount:
    """Classify the request log since the last :func:`clear_log`."""
    count = CallCount()
    for entry in sandbox.requests():
        path = entry["path"]
        if path.startswith(ACCOUNTING_PREFIX) or path.startswith("/connections"):
            count.api += 1
            count.rate_limited += entry.get("status") == 429
        elif path == TOKEN_PATH:
            count.token += 1
    return count


def clear_log(sandbox: SandboxServer) -> None:
    sandbox.control("DELETE", "/requests")


class _Environ:
    """The one method of ``pytest.MonkeyPatch`` the connection builder uses."""

    @staticmethod
    def setenv(name: str, value: str) -> None:
        os.environ[name] = value


class Bench:
    """One sandbox plus a scratch folder: fresh Airflow connections and SDK clients on it."""

    def __init__(self, sandbox: SandboxServer, scratch: Path) -> None:
        self.sandbox = sandbox
        self.scratch = scratch
        self.tenant_id = sandbox.demo.tenant_id

    def reset(self, limits: dict[str, Any]) -> None:
        """Demo data only, the clock at real time, the log empty, these limits."""
        self.sandbox.reset(demo=True)
        self.sandbox.control("PUT", "/limits", json=limits)

    def connection(self, **extra: Any) -> tuple[str, dict[str, str]]:
        """A new ``xero`` connection bootstrapped from its own grant; (conn id, env var).

        Built as the provider tests build theirs (``tests/provider/connections.py``),
        with its own token store, so its first call makes the one refresh.
        """
        from tests.provider.connections import xero_connection

        conn_id = f"bench_{uuid.uuid4().hex[:8]}"
        store = self.scratch / f"{conn_id}.db"
        xero_connection(self.sandbox, _Environ(), store, conn_id=conn_id, **extra)
        name = f"AIRFLOW_CONN_{conn_id.upper()}"
        return conn_id, {name: os.environ[name]}

    def sdk_grant(self) -> dict[str, Any]:
        """What an SDK client needs to start from a refresh token (plain, picklable)."""
        demo = self.sandbox.demo
        tokens = self.sandbox.tokens()
        return {
            "server_url": self.sandbox.url,
            "client_id": demo.web_client_id,
            "client_secret": demo.web_client_secret,
            "refresh_token": tokens["refresh_token"],
            "scope": str(tokens.get("scope", "")).split(),
        }


def sdk_accounting_api(grant: dict[str, Any]) -> Any:
    """An xero-python ``AccountingApi`` as an app using the SDK builds it, on the sandbox.

    It holds only a refresh token (the state an Airflow connection starts in), so its
    first call refreshes through the SDK's own automatic refresh: one token call, as
    ours. The SDK's ``Configuration()`` returns a copy of the first one ever built, so
    the token goes on that copy (see ``tests/sandbox/test_xero_python_sdk.py``).
    """
    from xero_python.accounting import AccountingApi
    from xero_python.api_client import ApiClient, Configuration
    from xero_python.api_client.oauth2 import OAuth2Token, TokenApi

    url = grant["server_url"]
    TokenApi.refresh_token_url = url + TOKEN_PATH
    TokenApi.client_credentials_token_url = url + TOKEN_PATH
    TokenApi.revoke_token_url = url + "/connect/revocation"
    configuration = Configuration()
    configuration.oauth2_token = OAuth2Token(
        client_id=grant["client_id"], client_secret=grant["client_secret"]
    )
    client = ApiClient(configuration, pool_threads=1)
    store: dict[str, Any] = {
        "token": {
            "access_token": None,
            "refresh_token": grant["refresh_token"],
            "scope": grant["scope"],
            "expires_in": 1800,
            "expires_at": 1.0,  # long expired: the first call refreshes
            "token_type": "Bearer",
            "id_token": None,
        }
    }
    client.oauth2_token_getter(lambda: store["token"])
    client.oauth2_token_saver(lambda token: store.__setitem__("token", token))
    return AccountingApi(client, base_url=url + "/api.xro/2.0")
