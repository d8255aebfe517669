"""The connect app's settings, read from Airflow's configuration section ``[xero_connect]``.

Environment variables work as for any Airflow option (``AIRFLOW__XERO_CONNECT__REDIRECT_URI``),
and so do the ``_cmd``/``_secret`` variants for the webhook key.
"""

from __future__ import annotations

import os

SECTION = "xero_connect"
# The redirect the sandbox's demo apps have registered, and Airflow's default address.
DEFAULT_REDIRECT_URI = "http://localhost:8080/xero/callback"
CALLBACK_PATH = "/xero/callback"
URL_PREFIX = "/xero"


def _option(key: str) -> str | None:
    from airflow.configuration import conf

    value = conf.get(SECTION, key, fallback=None)
    return value.strip() if isinstance(value, str) and value.strip() else None


def redirect_uri() -> str:
    """The plugin's redirect URI: fixed by configuration, never taken from a request.

    ``[xero_connect] redirect_uri``, else ``[api] base_url`` + ``/xero/callback``, else the
    sandbox demo apps' ``http://localhost:8080/xero/callback``.
    """
    configured = _option("redirect_uri")
    if configured:
        return configured
    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "").strip().rstrip("/")
    return base + CALLBACK_PATH if base else DEFAULT_REDIRECT_URI


def webhook_keys() -> list[str]:
    """Webhook signing keys (``[xero_connect] webhook_key``; comma-separated for several apps)."""
    value = _option("webhook_key") or ""
    return [key.strip() for key in value.split(",") if key.strip()]


def state_store_url() -> str | None:
    """Where pending sign-ins and seen webhook sequences live (default: the token store's)."""
    return _option("state_store") or os.environ.get("XERO_TOKEN_STORE")
