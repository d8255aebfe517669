"""The table of emulated resources, looked up by path segment (case-insensitively)."""

from __future__ import annotations

from xero_sandbox.accounting import (
    bank_transactions,
    bank_transfers,
    credit_notes,
    credits,
    invoices,
    journals,
    payments,
    purchase_orders,
    quotes,
    reference,
    reports,
    schedules_and_expenses,
    settings,
)
from xero_sandbox.accounting.base import ResourceRules
from xero_sandbox.accounting.contacts import ContactRules

_ALL: list[type[ResourceRules]] = [
    ContactRules,
    *invoices.RESOURCE_RULES,
    *payments.RESOURCE_RULES,
    *credit_notes.RESOURCE_RULES,
    *quotes.RESOURCE_RULES,
    *purchase_orders.RESOURCE_RULES,
    *bank_transactions.RESOURCE_RULES,
    *bank_transfers.RESOURCE_RULES,
    *settings.RESOURCE_RULES,
    *reference.RESOURCE_RULES,
    *journals.RESOURCE_RULES,
    *credits.RESOURCE_RULES,
    *schedules_and_expenses.RESOURCE_RULES,
    *reports.RESOURCE_RULES,
]

RULES: dict[str, ResourceRules] = {(cls.path or cls.name).lower(): cls() for cls in _ALL}
# Xero answers the plural too, and clients call it: pyxero's ``xero.organisations.all()``
# sends GET /Organisations (freakboy3742/pyxero issue 17, PR 75).
ALIASES = {"organisations": "organisation"}


def rules_for(segment: str) -> ResourceRules | None:
    """The rules for a path segment such as ``contacts`` or ``Invoices``."""
    lowered = segment.lower()
    return RULES.get(ALIASES.get(lowered, lowered))
