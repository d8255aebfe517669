"""Airflow plugin: the Xero connect page, the Xero webhook receiver and a UI menu link.

The api-server mounts the app at ``/xero`` (``fastapi_apps``); the link appears under
Admin in the UI (``external_views``); a root middleware lets the UI's Test button work
for ``xero`` connections (see :mod:`xero_provider.connect.middleware` and
:mod:`xero_provider.connect.conn_check`), another keeps the example DAGs' organisation
directory in step with connections written through Airflow's own form or REST API.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from xero_provider.connect.conn_check import resolve
from xero_provider.connect.middleware import (
    XeroConnectionTestMiddleware,
    XeroOrganisationDirectoryMiddleware,
)
from xero_provider.connect.settings import URL_PREFIX
from xero_provider.connect.web import create_app
from xero_provider.hooks import XeroHook

# The Test button tests a copy under a random id: let the hook test the real connection.
XeroHook.connection_test_config = resolve


class XeroConnectPlugin(AirflowPlugin):
    """Connect Xero organisations from the Airflow UI and receive Xero webhooks."""

    name = "xero_connect"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Xero connect"}]
    fastapi_root_middlewares = [
        {"middleware": XeroConnectionTestMiddleware, "name": "Xero connection test"},
        {"middleware": XeroOrganisationDirectoryMiddleware, "name": "Xero organisations"},
    ]
    external_views = [
        {
            "name": "Xero connections",
            "href": URL_PREFIX + "/",
            "destination": "nav",
            "category": "admin",
        }
    ]
