"""Payments, bank transactions and bank transfers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xero_provider.exceptions import RecordProblem
from xero_provider.hooks.xero import XeroHook
from xero_provider.operators.generic import XeroCreateOperator, XeroDeleteOperator
from xero_provider.operators.validation import (
    BANK_TRANSACTION_CREATE,
    BANK_TRANSFER_CREATE,
    PAYMENT_CREATE,
    payment_problems,
)

INVOICE_READ_CHUNK = 50


class XeroCreatePaymentOperator(XeroCreateOperator):
    """Record payments against invoices or bills (``Invoice``), or credit notes.

    Each record: ``Invoice`` (``InvoiceID`` or ``InvoiceNumber``), ``Account`` (``Code``
    or ``AccountID`` of a bank account), ``Amount``, ``Date``, optional ``Reference``.
    Before writing, the invoices named by ID are read: a payment above the amount due or
    on an invoice that is not AUTHORISED is refused naming the record.
    """

    resource_name = "Payments"
    schema = PAYMENT_CREATE

    def check_with_xero(self, hook: XeroHook, rows: list[Any]) -> list[RecordProblem]:
        ids = sorted(
            {
                str(row["Invoice"]["InvoiceID"])
                for row in rows
                if isinstance(row, Mapping)
                and isinstance(row.get("Invoice"), Mapping)
                and row["Invoice"].get("InvoiceID")
            }
        )
        invoices: dict[str, Any] = {}
        for start in range(0, len(ids), INVOICE_READ_CHUNK):
            for invoice in hook.iter_records(
                "Invoices", ids=ids[start : start + INVOICE_READ_CHUNK]
            ):
                invoices[str(invoice.get("InvoiceID")).lower()] = invoice
        return payment_problems([r if r is not None else {} for r in rows], invoices)

    def link_resource(self, record: Any) -> str:
        return "Payments"


class XeroDeletePaymentOperator(XeroDeleteOperator):
    """Delete payments (``POST /Payments/{PaymentID}`` with Status DELETED).

    :param record_ids: the PaymentIDs (templated), or ``records`` with ``PaymentID``.
    """

    resource_name = "Payments"


class XeroCreateBankTransactionOperator(XeroCreateOperator):
    """Create bank transactions: SPEND, RECEIVE, SPEND-/RECEIVE-PREPAYMENT and
    SPEND-/RECEIVE-OVERPAYMENT (``Type`` on each record)."""

    resource_name = "BankTransactions"
    schema = BANK_TRANSACTION_CREATE


class XeroCreateBankTransferOperator(XeroCreateOperator):
    """Move money between two bank accounts (``FromBankAccount``, ``ToBankAccount``, ``Amount``)."""

    resource_name = "BankTransfers"
    schema = BANK_TRANSFER_CREATE
