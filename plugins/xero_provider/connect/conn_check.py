"""Which connection the UI's Test button really tests (``XeroHook.connection_test_config``).

Airflow tests a copy of the connection under a random id, and a connection's tokens
are found by its grant key, which defaults to its id: so the copy found no tokens and
told the user to authorise the random id. Here the copy is traced back to the real
connection (the id the UI asked to test, kept by :mod:`.middleware`; else the stored
``xero`` connection with the same client id and organisation), so the hook tests with
its grant key and names it in every message. The connect plugin hands :func:`resolve`
to the hook (``plugins/xero_connect.py``); the hook never imports this package.
"""

from __future__ import annotations

import dataclasses
import os

from xero_provider.config import XeroConnectionConfig
from xero_provider.connect.airflow_connections import StoredConnection, list_connections
from xero_provider.connect.middleware import tested_connection_id
from xero_provider.exceptions import XeroConfigurationError


def _stored_connections() -> list[StoredConnection]:
    """Airflow's ``xero`` connections; a database error is an error, never a guess."""
    try:
        return list_connections()
    except Exception as error:
        raise XeroConfigurationError(
            "connection test: Airflow's stored connections could not be read "
            f"({type(error).__name__}), so the connection under test cannot be identified; "
            "check the metadata database and try again"
        ) from None


def real_connection(
    config: XeroConnectionConfig, stored: list[StoredConnection]
) -> tuple[str, str | None] | None:
    """``(conn id, explicit grant key or None)`` of the connection this copy was made of."""
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
    if f"AIRFLOW_CONN_{config.conn_id.upper()}" not in os.environ:
        return config  # not a copy the api-server made
    stored = _stored_connections()
    if any(c.conn_id == config.conn_id for c in stored):
        return config
    found = real_connection(config, stored)
    if found is None:
        return config
    real_id, real_key = found
    explicit = config.token_key != config.conn_id  # the copy carries a grant key of its own
    key = config.token_key if explicit else (real_key or real_id)
    return dataclasses.replace(config, conn_id=real_id, token_key=key)
