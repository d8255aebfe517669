"""What the UI's Test button runs for a ``xero`` connection (``XeroHook.test_connection``).

Airflow tests a copy of the connection under a random id, and a connection's tokens
are found by its grant key, which defaults to its id: so the copy found no tokens and
told the user to authorise the random id. Here the copy is traced back to the real
connection (the id the UI asked to test, kept by :mod:`.middleware`; else the stored
``xero`` connection with the same client id and organisation), its grant key is used,
and every message names the real connection.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from xero_provider.config import XeroConnectionConfig


def _stored(conn_id: str) -> bool:
    """Whether ``conn_id`` is a real connection rather than the api-server's test copy."""
    try:
        from xero_provider.connect.airflow_connections import get_connection

        return get_connection(conn_id) is not None
    except Exception:  # no metadata database here (a worker): trust the id
        return True


def real_connection(config: XeroConnectionConfig) -> tuple[str, str | None] | None:
    """``(conn id, explicit grant key or None)`` of the connection this copy was made of."""
    from xero_provider.connect.middleware import tested_connection_id

    try:
        from xero_provider.connect.airflow_connections import list_connections

        stored = list_connections()
    except Exception:
        stored = []
    requested = tested_connection_id.get()
    for conn in stored:
        if conn.conn_id == requested:
            return conn.conn_id, conn.grant_key
    if requested:
        return requested, None  # a new connection typed into the form, not saved yet
    same = [
        c
        for c in stored
        if c.client_id == config.client_id
        and (c.tenant_id or "").lower() == (config.tenant_id or "").lower()
    ]
    if len(same) == 1:
        return same[0].conn_id, same[0].grant_key
    return None


def resolve(config: XeroConnectionConfig) -> XeroConnectionConfig:
    """The config to test with: the real connection's id and grant key for a test copy."""
    if f"AIRFLOW_CONN_{config.conn_id.upper()}" not in os.environ or _stored(config.conn_id):
        return config
    found = real_connection(config)
    if found is None:
        return config
    real_id, real_key = found
    explicit = config.token_key != config.conn_id  # the copy carries a grant key of its own
    key = config.token_key if explicit else (real_key or real_id)
    return dataclasses.replace(config, conn_id=real_id, token_key=key)


def run(hook: Any) -> tuple[bool, str]:
    """Reach Xero with the connection's grant; ``(ok, message)``, never raises."""
    from xero_provider.exceptions import XeroError

    try:
        config = resolve(hook.config)
        if config is not hook.config:
            hook._adopt(config)  # the hook's calls now use the real grant and name
        tenants = hook.get_tenants()
        name = config.conn_id
        if hook.tenant_id:
            names = [
                t.get("tenantName")
                for t in tenants
                if str(t.get("tenantId", "")).lower() == hook.tenant_id.lower()
            ]
            if not names:
                return False, (
                    f"connection '{name}': authorised, but organisation {hook.tenant_id} is "
                    f"not among the {len(tenants)} this authorisation may use; connect it "
                    "again from the Xero connect page (/xero/) or `python -m "
                    "xero_provider.auth connect`"
                )
            org = hook.call("GET", "Organisation")["Organisations"][0]
            return True, (
                f"connection '{name}': connected to {org.get('Name')} (tenant {hook.tenant_id})"
            )
        return True, f"connection '{name}': connected; {len(tenants)} organisation(s) available"
    except XeroError as error:
        return False, str(error)
    except Exception as error:  # the Test button must always get an answer
        return False, f"{type(error).__name__}: {error}"
