"""Read every record of a resource for the warehouse, archived ones included.

Xero leaves ARCHIVED contacts out of ``GET Contacts`` unless the request says
``includeArchived=true`` (the parameter of the Contacts and Invoices list endpoints in
Xero's OpenAPI spec, ``xero_accounting.yaml``; developer.xero.com/documentation/api/
accounting/contacts). A warehouse that keeps deletes as statuses needs them, so this hook
adds the flag to those list requests and is otherwise the provider's ``XeroHook``: the
same pacing, retries and paging.
"""

from __future__ import annotations

from typing import Any

from xero_provider.hooks import XeroHook

INCLUDE_ARCHIVED_PATHS = frozenset({"Contacts", "Invoices"})


class WarehouseHook(XeroHook):
    """``XeroHook`` whose list reads include archived records where Xero hides them."""

    @staticmethod
    def _page_request(plan: Any, page: int) -> dict[str, Any]:
        request = XeroHook._page_request(plan, page)
        if plan.resource.path in INCLUDE_ARCHIVED_PATHS:
            request["params"] = {**(request.get("params") or {}), "includeArchived": "true"}
        return request
