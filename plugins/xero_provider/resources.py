"""One table describing every Xero resource the provider touches.

Hooks, operators, sensors and triggers read this table instead of hard-coding paths,
ID fields, paging limits and status rules: adding a resource is one row here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# full: page + pageSize; page: page only (100 a page); offset: ``offset`` on a number field
# (Journals, 100 a call); none: one call returns everything.
Paging = Literal["full", "page", "offset", "none"]
MAX_PAGE_SIZE = 1000  # Xero's largest pageSize
FIXED_PAGE_SIZE = 100  # page size where Xero takes no pageSize (Quotes)
OFFSET_PAGE_SIZE = 100  # journals per call with ``offset`` (Xero's Journals docs)
DEFAULT_BATCH_SIZE = 50  # Xero recommends at most ~50 elements per write
# List flags that make Xero include records its lists hide by default. Per Xero's spec
# (xero_accounting.yaml), ``includeArchived`` is a parameter of GET /Contacts, /Invoices
# and /TrackingCategories (ARCHIVED records), ``includeDeleted`` of GET /BankTransfers
# (DELETED transfers); no other list endpoint takes either.
INCLUDE_ARCHIVED = "includeArchived"
INCLUDE_DELETED = "includeDeleted"
HiddenFlag = Literal["includeArchived", "includeDeleted"]


@dataclass(frozen=True)
class Resource:
    """How one Xero resource (or a typed view of one, like bills) is read and written."""

    name: str  # the table key: "Contacts", "Bills", ...
    path: str  # endpoint under /api.xro/2.0
    id_field: str
    list_key: str  # key of the list in the response envelope
    number_field: str | None = None
    paging: Paging = "full"
    supports_where: bool = True
    supports_modified_since: bool = True
    updated_field: str | None = "UpdatedDateUTC"
    type_filter: str | None = None  # fixed Type for typed views (ACCPAY bills, ACCREC invoices)
    history: bool = True
    batch_size: int = DEFAULT_BATCH_SIZE
    create_method: str = "PUT"
    update_method: str = "POST"
    status_field: str | None = "Status"
    # Statuses in which a record may still be edited (None: no rule the provider checks).
    editable_statuses: tuple[str, ...] | None = None
    date_fields: tuple[str, ...] = field(default=("UpdatedDateUTC", "Date", "DueDate"))
    # List filters the endpoint takes as their own query parameters (faster than where).
    statuses_param: str | None = None  # several statuses, comma-separated ("Statuses")
    status_param: str | None = None  # exactly one status ("Status")
    ids_param: bool = False  # ``IDs=`` takes a comma-separated list of IDs
    offset_field: str | None = None  # paging "offset": the number field offset counts on
    read_only: bool = False  # Xero offers no write endpoint (Journals, Users, ...)
    # The list flag that shows records Xero otherwise hides (None: the list hides none).
    hidden_flag: HiddenFlag | None = None
    # The list takes ``unitdp=4`` (unit amounts at 4 places instead of Xero's rounded 2):
    # per the spec, GET /Invoices, /CreditNotes, /BankTransactions, /Overpayments,
    # /Prepayments, /Items and /Receipts.
    takes_unitdp: bool = False

    @property
    def page_size(self) -> int | None:
        """The largest page Xero serves for this resource (None: it does not page)."""
        if self.paging == "full":
            return MAX_PAGE_SIZE
        if self.paging == "page":
            return FIXED_PAGE_SIZE
        if self.paging == "offset":
            return OFFSET_PAGE_SIZE
        return None

    @property
    def type_where(self) -> str | None:
        return f'Type=="{self.type_filter}"' if self.type_filter else None


_ROWS = [
    Resource(
        "Contacts",
        "Contacts",
        "ContactID",
        "Contacts",
        number_field="ContactNumber",
        status_field="ContactStatus",
        date_fields=("UpdatedDateUTC",),
        ids_param=True,
        hidden_flag=INCLUDE_ARCHIVED,
    ),
    Resource(
        "Invoices",
        "Invoices",
        "InvoiceID",
        "Invoices",
        number_field="InvoiceNumber",
        takes_unitdp=True,
        statuses_param="Statuses",
        ids_param=True,
        hidden_flag=INCLUDE_ARCHIVED,
    ),
    Resource(
        "Bills",
        "Invoices",
        "InvoiceID",
        "Invoices",
        number_field="InvoiceNumber",
        takes_unitdp=True,
        type_filter="ACCPAY",
        statuses_param="Statuses",
        ids_param=True,
        hidden_flag=INCLUDE_ARCHIVED,
    ),
    Resource(
        "SalesInvoices",
        "Invoices",
        "InvoiceID",
        "Invoices",
        number_field="InvoiceNumber",
        takes_unitdp=True,
        type_filter="ACCREC",
        statuses_param="Statuses",
        ids_param=True,
        hidden_flag=INCLUDE_ARCHIVED,
    ),
    Resource(
        "CreditNotes",
        "CreditNotes",
        "CreditNoteID",
        "CreditNotes",
        "CreditNoteNumber",
        takes_unitdp=True,
    ),
    Resource(
        "Payments", "Payments", "PaymentID", "Payments", date_fields=("UpdatedDateUTC", "Date")
    ),
    Resource(
        "BankTransactions",
        "BankTransactions",
        "BankTransactionID",
        "BankTransactions",
        date_fields=("UpdatedDateUTC", "Date"),
        takes_unitdp=True,
    ),
    Resource(
        "BankTransfers",
        "BankTransfers",
        "BankTransferID",
        "BankTransfers",
        paging="none",
        updated_field="CreatedDateUTC",
        date_fields=("CreatedDateUTC", "Date"),
        hidden_flag=INCLUDE_DELETED,
    ),
    Resource(
        "Quotes",
        "Quotes",
        "QuoteID",
        "Quotes",
        number_field="QuoteNumber",
        paging="page",
        supports_where=False,
        editable_statuses=("DRAFT",),
        date_fields=("UpdatedDateUTC", "Date", "ExpiryDate"),
        status_param="Status",
    ),
    Resource(
        "PurchaseOrders",
        "PurchaseOrders",
        "PurchaseOrderID",
        "PurchaseOrders",
        number_field="PurchaseOrderNumber",
        supports_where=False,
        date_fields=("UpdatedDateUTC", "Date", "DeliveryDate"),
        status_param="Status",
    ),
    Resource(
        "Accounts",
        "Accounts",
        "AccountID",
        "Accounts",
        paging="none",
        history=False,
        date_fields=("UpdatedDateUTC",),
    ),
    Resource(
        "Items",
        "Items",
        "ItemID",
        "Items",
        number_field="Code",
        paging="none",
        status_field=None,
        date_fields=("UpdatedDateUTC",),
        takes_unitdp=True,
    ),
    Resource(
        "TaxRates",
        "TaxRates",
        "TaxType",
        "TaxRates",
        paging="none",
        supports_modified_since=False,
        updated_field=None,
        history=False,
        date_fields=(),
    ),
    # --- read mostly by a warehouse sync (paging, where and If-Modified-Since per the spec)
    Resource(
        "ManualJournals",
        "ManualJournals",
        "ManualJournalID",
        "ManualJournals",
        date_fields=("UpdatedDateUTC", "Date"),
    ),
    Resource(
        "Journals",
        "Journals",
        "JournalID",
        "Journals",
        paging="offset",
        offset_field="JournalNumber",
        supports_where=False,
        updated_field="CreatedDateUTC",
        history=False,
        read_only=True,
        status_field=None,
        date_fields=("CreatedDateUTC", "JournalDate"),
    ),
    Resource(
        "Overpayments",
        "Overpayments",
        "OverpaymentID",
        "Overpayments",
        read_only=True,
        date_fields=("UpdatedDateUTC", "Date"),
        takes_unitdp=True,
    ),
    Resource(
        "Prepayments",
        "Prepayments",
        "PrepaymentID",
        "Prepayments",
        read_only=True,
        date_fields=("UpdatedDateUTC", "Date"),
        takes_unitdp=True,
    ),
    Resource(
        "Users",
        "Users",
        "UserID",
        "Users",
        paging="none",
        history=False,
        read_only=True,
        status_field=None,
        date_fields=("UpdatedDateUTC",),
    ),
    Resource(
        "Currencies",
        "Currencies",
        "Code",
        "Currencies",
        paging="none",
        supports_modified_since=False,
        updated_field=None,
        history=False,
        status_field=None,
        date_fields=(),
    ),
    Resource(
        "TrackingCategories",
        "TrackingCategories",
        "TrackingCategoryID",
        "TrackingCategories",
        paging="none",
        supports_modified_since=False,
        updated_field=None,
        history=False,
        date_fields=(),
        hidden_flag=INCLUDE_ARCHIVED,
    ),
    Resource(
        "ContactGroups",
        "ContactGroups",
        "ContactGroupID",
        "ContactGroups",
        paging="none",
        supports_modified_since=False,
        updated_field=None,
        history=False,
        date_fields=(),
    ),
    Resource(
        "BrandingThemes",
        "BrandingThemes",
        "BrandingThemeID",
        "BrandingThemes",
        paging="none",
        supports_where=False,
        supports_modified_since=False,
        updated_field=None,
        history=False,
        read_only=True,
        status_field=None,
        date_fields=("CreatedDateUTC",),
    ),
    Resource(
        "RepeatingInvoices",
        "RepeatingInvoices",
        "RepeatingInvoiceID",
        "RepeatingInvoices",
        paging="none",
        supports_modified_since=False,
        updated_field=None,
        date_fields=(),
    ),
    Resource(
        "LinkedTransactions",
        "LinkedTransactions",
        "LinkedTransactionID",
        "LinkedTransactions",
        paging="page",
        supports_where=False,
        supports_modified_since=False,
        history=False,
        status_param="Status",
        date_fields=("UpdatedDateUTC",),
    ),
    Resource(
        "Receipts",
        "Receipts",
        "ReceiptID",
        "Receipts",
        number_field="ReceiptNumber",
        paging="none",
        date_fields=("UpdatedDateUTC", "Date"),
        takes_unitdp=True,
    ),
    Resource(
        "ExpenseClaims",
        "ExpenseClaims",
        "ExpenseClaimID",
        "ExpenseClaims",
        paging="none",
        date_fields=("UpdatedDateUTC", "ReportingDate", "PaymentDueDate"),
    ),
]

RESOURCES: dict[str, Resource] = {row.name.lower(): row for row in _ROWS}


def get_resource(name: str | Resource) -> Resource:
    """Look a resource up by table name, case-insensitively; clear error when unknown."""
    if isinstance(name, Resource):
        return name
    try:
        return RESOURCES[name.replace("_", "").replace(" ", "").lower()]
    except KeyError:
        known = ", ".join(sorted(r.name for r in _ROWS))
        raise ValueError(f"unknown Xero resource {name!r}; known resources: {known}") from None
