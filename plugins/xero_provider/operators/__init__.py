"""Xero operators: the seed's 18 actions as thin classes over a few generic ones.

Generic (any resource of the table): create, update, get, find, delete or void, send
email, history note, allocate. Every operator checks its records before any call,
batches through :class:`~xero_provider.hooks.XeroHook`, pushes IDs, records and
rejections to XCom, and uses run-scoped idempotency keys.
"""

from xero_provider.operators.banking import (
    XeroCreateBankTransactionOperator,
    XeroCreateBankTransferOperator,
    XeroCreatePaymentOperator,
    XeroDeletePaymentOperator,
)
from xero_provider.operators.base import XeroBaseOperator, XeroRecordsRejected
from xero_provider.operators.contacts import (
    XeroCreateContactOperator,
    XeroGetContactOperator,
    XeroUpdateContactOperator,
    XeroUpsertContactOperator,
)
from xero_provider.operators.generic import (
    XeroAddHistoryNoteOperator,
    XeroAllocateOperator,
    XeroCreateOperator,
    XeroDeleteOperator,
    XeroFindOperator,
    XeroGetOperator,
    XeroSendEmailOperator,
    XeroUpdateOperator,
)
from xero_provider.operators.invoices import (
    XeroCreateBillOperator,
    XeroCreateCreditNoteOperator,
    XeroCreateSalesInvoiceOperator,
    XeroFindBillOperator,
    XeroFindSalesInvoiceOperator,
    XeroSendInvoiceEmailOperator,
    XeroUpdateCreditNoteAllocationOperator,
)
from xero_provider.operators.links import XeroRecordLink
from xero_provider.operators.quotes import (
    XeroCreatePurchaseOrderOperator,
    XeroCreateQuoteOperator,
    XeroUpdateQuoteOperator,
)

__all__ = [
    "XeroAddHistoryNoteOperator",
    "XeroAllocateOperator",
    "XeroBaseOperator",
    "XeroCreateBankTransactionOperator",
    "XeroCreateBankTransferOperator",
    "XeroCreateBillOperator",
    "XeroCreateContactOperator",
    "XeroCreateCreditNoteOperator",
    "XeroCreateOperator",
    "XeroCreatePaymentOperator",
    "XeroCreatePurchaseOrderOperator",
    "XeroCreateQuoteOperator",
    "XeroCreateSalesInvoiceOperator",
    "XeroDeleteOperator",
    "XeroDeletePaymentOperator",
    "XeroFindBillOperator",
    "XeroFindOperator",
    "XeroFindSalesInvoiceOperator",
    "XeroGetContactOperator",
    "XeroGetOperator",
    "XeroRecordLink",
    "XeroRecordsRejected",
    "XeroSendEmailOperator",
    "XeroSendInvoiceEmailOperator",
    "XeroUpdateContactOperator",
    "XeroUpdateCreditNoteAllocationOperator",
    "XeroUpdateOperator",
    "XeroUpdateQuoteOperator",
    "XeroUpsertContactOperator",
]
