"""Xero sensors: wait for new or updated records (window or watermark polling)."""

from xero_provider.sensors.changes import (
    XeroChangesSensor,
    XeroNewOrUpdatedBankTransactionSensor,
    XeroNewOrUpdatedBillSensor,
    XeroNewOrUpdatedContactSensor,
    XeroNewOrUpdatedCreditNoteSensor,
    XeroNewOrUpdatedPaymentSensor,
    XeroNewOrUpdatedQuoteSensor,
    XeroNewOrUpdatedSalesInvoiceSensor,
)

__all__ = [
    "XeroChangesSensor",
    "XeroNewOrUpdatedBankTransactionSensor",
    "XeroNewOrUpdatedBillSensor",
    "XeroNewOrUpdatedContactSensor",
    "XeroNewOrUpdatedCreditNoteSensor",
    "XeroNewOrUpdatedPaymentSensor",
    "XeroNewOrUpdatedQuoteSensor",
    "XeroNewOrUpdatedSalesInvoiceSensor",
]
