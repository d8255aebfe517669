"""Deep links to a record in Xero's web app, and the operator extra link that shows one.

Xero documents deep links as
``https://go.xero.com/organisationlogin/default.aspx?shortcode=<ShortCode>&redirecturl=<path>``,
with the organisation's ``ShortCode`` from ``GET /Organisation`` and these paths:
invoice ``/AccountsReceivable/View.aspx?InvoiceID=``,
bill ``/AccountsPayable/Edit.aspx?InvoiceID=``,
purchase order ``/Accounts/Payable/PurchaseOrders/View/<id>/``, credit note
``/AccountsPayable/ViewCreditNote.aspx?creditNoteID=``, contact ``/Contacts/View/<id>``
(developer.xero.com/documentation/api-guides/deep-link-xero). Payments, bank transactions
and quotes are listed there without an example path; the paths below for them are the
ones in Xero's own MCP server (github.com/XeroAPI/xero-mcp-server, src/consts/deeplinks.ts):
``/Bank/ViewTransaction.aspx?bankTransactionID=`` and
``go.xero.com/app/<ShortCode>/quotes/view/<id>``.
A bank transfer links to its "from" bank transaction (a transfer is two bank transactions).

The short code is asked of Xero once per organisation and then kept in the provider's
store (:mod:`xero_provider.state.organisations`): an organisation's short code does not
change, and every call counts against its 5,000 a day.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from xero_provider.exceptions import XeroError
from xero_provider.formats import tenant_key

LOGIN = "https://go.xero.com/organisationlogin/default.aspx"
APP = "https://go.xero.com/app"
LINKS_XCOM_KEY = "xero_links"


def _invoice_path(record: Mapping[str, Any], record_id: str) -> str:
    if record.get("Type") == "ACCPAY":
        return f"/AccountsPayable/Edit.aspx?InvoiceID={record_id}"
    return f"/AccountsReceivable/View.aspx?InvoiceID={record_id}"


_PATHS = {
    "Contacts": lambda r, i: f"/Contacts/View/{i}",
    "Invoices": _invoice_path,
    "Bills": lambda r, i: f"/AccountsPayable/Edit.aspx?InvoiceID={i}",
    "SalesInvoices": lambda r, i: f"/AccountsReceivable/View.aspx?InvoiceID={i}",
    "PurchaseOrders": lambda r, i: f"/Accounts/Payable/PurchaseOrders/View/{i}/",
    "CreditNotes": lambda r, i: f"/AccountsPayable/ViewCreditNote.aspx?creditNoteID={i}",
    "Payments": lambda r, i: f"/Bank/ViewTransaction.aspx?bankTransactionID={i}",
    "BankTransactions": lambda r, i: f"/Bank/ViewTransaction.aspx?bankTransactionID={i}",
}


def short_code(hook: Any) -> str | None:
    """The organisation's ``ShortCode``: from the store, else one ``GET /Organisation``.

    :raises XeroError: Xero could not be asked (the caller goes without links).
    """
    from xero_provider.state.organisations import OrganisationFacts

    config = hook.config
    if not hook.tenant_id:
        return None  # app-level connection: no organisation to link into
    tenant = tenant_key(hook.tenant_id, config.client_id)
    facts = OrganisationFacts.for_config(config)
    code = facts.short_code(tenant)
    if code:
        return code
    try:
        organisation = hook.call("GET", "Organisation")["Organisations"][0]
    except (KeyError, IndexError, TypeError) as error:
        raise XeroError(f"Organisation: unexpected answer ({error!r})") from None
    code = organisation.get("ShortCode")
    if code:
        facts.remember(tenant, str(code), organisation.get("Name"))
    return code


def deep_link(
    resource: str, short_code: str | None, record_id: str | None, record: Mapping | None = None
) -> str | None:
    """The URL of one record in Xero's web app (None when Xero documents no link for it)."""
    if not short_code or not record_id:
        return None
    record = record or {}
    code = quote(short_code, safe="!")
    if resource == "Quotes":
        return f"{APP}/{code}/quotes/view/{quote(record_id)}"
    if resource == "BankTransfers":
        from_id = record.get("FromBankTransactionID")
        if not from_id:
            return None
        resource, record_id = "BankTransactions", from_id
    path = _PATHS.get(resource)
    if path is None:
        return None
    return f"{LOGIN}?shortcode={code}&redirecturl={path(record, quote(str(record_id)))}"


class XeroRecordLink(BaseOperatorLink):
    """ "Open in Xero": the first record the task wrote or read, in Xero's web app."""

    name = "Open in Xero"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        links = XCom.get_value(ti_key=ti_key, key=LINKS_XCOM_KEY) or []
        return next((link for link in links if link), "")
