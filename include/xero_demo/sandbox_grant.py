"""Authorise the demo connections against the sandbox, as a person would on its consent page.

``python -m xero_demo.sandbox_grant --sandbox-url URL [--conn-id xero_default]`` asks the
sandbox's control API for a grant covering both demo organisations and stores it through
``python -m xero_provider.auth bootstrap`` (the token store the connection names). Both demo
connections share one ``grant_key``, so one bootstrap serves both. Only for the sandbox: a
real organisation is authorised with ``python -m xero_provider.auth authorize``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import httpx

from xero_sandbox.seed import DEMO
from xero_sandbox.tiers import tier


def consents(sandbox_url: str) -> list[list[str]]:
    """The demo organisations per consent: both at once, or one at a time when the demo
    app's tier has no bulk connections (below Advanced: the sandbox's ``tiers.py``)."""
    both = [DEMO.tenant_id, DEMO.second_tenant_id]
    apps = httpx.get(f"{sandbox_url.rstrip('/')}/__sandbox/apps", timeout=30)
    apps.raise_for_status()
    (app,) = [a for a in apps.json() if a["client_id"] == DEMO.web_client_id]
    return [both] if tier(app["tier"]).bulk_connections else [[t] for t in both]


def grant(sandbox_url: str) -> str:
    """Mint a sandbox grant for both demo organisations; return its refresh token.

    A token reaches every organisation on the app's connections list for its user (Xero's
    /connections, as the sandbox's identity service models it), so the last consent's
    refresh token serves both connections when they were connected one at a time."""
    for tenant_ids in consents(sandbox_url):
        body = {"client_id": DEMO.web_client_id, "tenant_ids": tenant_ids}
        response = httpx.post(f"{sandbox_url.rstrip('/')}/__sandbox/tokens", json=body, timeout=30)
        response.raise_for_status()
    return response.json()["refresh_token"]


def bootstrap_command(conn_id: str = "xero_default") -> list[str]:
    """``python -m xero_provider.auth`` arguments storing the refresh token read on stdin."""
    return ["bootstrap", "--conn-id", conn_id]


def authorise(
    sandbox_url: str, conn_id: str = "xero_default", env: dict[str, str] | None = None
) -> None:
    """Mint a sandbox grant for both demo organisations; bootstrap it into ``conn_id``."""
    result = subprocess.run(
        [sys.executable, "-m", "xero_provider.auth", *bootstrap_command(conn_id)],
        input=grant(sandbox_url) + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bootstrap of {conn_id} failed: {result.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xero_demo.sandbox_grant", description=__doc__)
    parser.add_argument("--sandbox-url", required=True)
    parser.add_argument("--conn-id", default="xero_default")
    args = parser.parse_args(argv)
    authorise(args.sandbox_url, args.conn_id)
    print(f"{args.conn_id}: authorised against {args.sandbox_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
