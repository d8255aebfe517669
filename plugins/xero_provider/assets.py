"""One name for each organisation's Xero resource as an Airflow asset.

The webhook endpoint (``xero_provider.connect.webhooks``) emits asset events for this
URI, the ``AssetWatcher``s over ``XeroChangesEventTrigger`` are attached to it, and the
example DAGs schedule on it: all three must spell it the same way, or a webhook reaches
no DAG (Airflow matches asset URIs exactly). Hence one function, used by all of them:
``xero://<tenant id in lower case>/<Resource>``, the resource spelled as in the resource
table (``contacts`` and ``CONTACTS`` both become ``Contacts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xero_provider.resources import get_resource

SCHEME = "xero"


def asset_uri(tenant_id: str, resource: str) -> str:
    """``xero://<tenant>/<Resource>``, e.g. ``xero://6a1f…01/Contacts``."""
    if not isinstance(tenant_id, str) or not tenant_id.strip():
        raise ValueError(f"tenant_id must be the organisation's tenant id, got {tenant_id!r}")
    return f"{SCHEME}://{tenant_id.strip().lower()}/{get_resource(resource).name}"


def asset_name(tenant_id: str, resource: str) -> str:
    """The asset's name (Airflow wants one name per URI)."""
    return f"xero_{tenant_id.strip().lower()}_{get_resource(resource).name}"


def xero_asset(tenant_id: str, resource: str, watchers: Sequence[Any] | None = None) -> Any:
    """The ``airflow.sdk.Asset`` for one organisation's resource, with optional watchers.

    ``schedule=[xero_asset(tenant, "Contacts")]`` runs on webhook deliveries; add
    ``watchers=[AssetWatcher(..., trigger=XeroChangesEventTrigger(...))]`` to have the
    triggerer poll as well (resources without webhooks, or a safety net for those with).
    """
    from airflow.sdk import Asset

    return Asset(
        uri=asset_uri(tenant_id, resource),
        name=asset_name(tenant_id, resource),
        watchers=list(watchers or []),
    )
