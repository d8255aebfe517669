"""One document lifecycle for every document with a status: invoices and credit notes
(``ledger.py``), quotes and purchase orders. Statuses, the ones a create may ask for,
the transitions, numbering, document currency and discounts live here once, with one
set of messages and one rounding.

The refusal of a status change uses Xero's wording for invoices ("Invoice not of valid
status for modification", seen in client fixtures and kept by the ledger tests); the
sandbox uses the same sentence for every document kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from xero_sandbox.accounting.base import enum_field, round_money
from xero_sandbox.organisation import Organisation

ZERO = Decimal("0")


@dataclass(frozen=True)
class Lifecycle:
    """The statuses of one document kind and how a client may move between them."""

    label: str  # "Invoice", "Quote", ...: starts the messages
    statuses: tuple[str, ...]
    create: tuple[str, ...]  # statuses a new document may ask for; the first is the default
    transitions: Mapping[str, frozenset[str]]  # where a client may move each status

    @property
    def terminal(self) -> frozenset[str]:
        """Statuses nothing leaves."""
        return frozenset(s for s in self.statuses if not self.transitions.get(s))

    def initial(self, given: Any, errors: list[str]) -> str:
        """The status of a new document: the asked one if a create may use it."""
        if given in (None, ""):
            return self.create[0]
        wanted = enum_field(given, "Status", self.statuses, errors)
        if wanted is None:
            return self.create[0]
        if wanted not in self.create:
            errors.append(
                f"Status {wanted} is not valid for a new {self.label.lower()}. "
                f"Allowed values: {', '.join(self.create)}."
            )
            return self.create[0]
        return wanted

    def target(self, current: str, given: Any, errors: list[str]) -> str:
        """The status an update asks for, or ``current`` when it may not move there."""
        if given in (None, ""):
            return current
        wanted = enum_field(given, "Status", self.statuses, errors)
        if wanted is None or wanted == current:
            return current
        if wanted not in self.transitions.get(current, frozenset()):
            errors.append(f"{self.label} not of valid status for modification")
            return current
        return wanted


def _flow(**moves: tuple[str, ...]) -> dict[str, frozenset[str]]:
    return {status: frozenset(targets) for status, targets in moves.items()}


# PAID is reached by money, never by a client (ledger documents).
LEDGER_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED")
LEDGER_FLOW = _flow(
    DRAFT=("SUBMITTED", "AUTHORISED", "DELETED"),
    SUBMITTED=("AUTHORISED", "DRAFT", "DELETED"),
    AUTHORISED=("VOIDED",),
    PAID=(),
    VOIDED=(),
    DELETED=(),
)
QUOTE = Lifecycle(
    "Quote",
    ("DRAFT", "SENT", "DECLINED", "ACCEPTED", "INVOICED", "DELETED"),
    ("DRAFT", "SENT"),
    _flow(
        DRAFT=("SENT", "DELETED"),
        SENT=("ACCEPTED", "DECLINED", "DELETED", "DRAFT"),
        ACCEPTED=("SENT", "INVOICED"),
        DECLINED=(),
        INVOICED=(),
        DELETED=(),
    ),
)
PURCHASE_ORDER = Lifecycle(
    "Purchase order",
    ("DRAFT", "SUBMITTED", "AUTHORISED", "BILLED", "DELETED"),
    ("DRAFT", "SUBMITTED", "AUTHORISED"),
    _flow(
        DRAFT=("SUBMITTED", "AUTHORISED", "DELETED"),
        SUBMITTED=("DRAFT", "AUTHORISED", "DELETED"),
        AUTHORISED=("BILLED", "DELETED"),
        BILLED=(),
        DELETED=(),
    ),
)


def ledger_lifecycle(label: str) -> Lifecycle:
    """Invoices and credit notes share statuses and transitions; only the label differs."""
    return Lifecycle(label, LEDGER_STATUSES, ("DRAFT", "SUBMITTED", "AUTHORISED"), LEDGER_FLOW)


def document_currency(
    org: Organisation, value: Any, errors: list[str], default: str | None = None
) -> str:
    """The document currency: the base currency or one the organisation has added.

    When ``value`` is omitted: ``default`` (an update's current currency) or the base one.
    """
    if value in (None, ""):
        return org.base_currency if default is None else default
    code = str(value).strip().upper()
    enabled = {org.base_currency.upper()}
    enabled |= {str(c.get("Code", "")).upper() for c in org.table("Currencies").values()}
    if code not in enabled:
        errors.append(f"The currency code {code} is not enabled for this organisation.")
        return org.base_currency
    return code


def total_discount(lines: list[dict[str, Any]]) -> Decimal:
    """Xero's TotalDiscount: what the discount rates took off the rounded line amounts."""
    total = ZERO
    for line in lines:
        if line.get("DiscountRate"):
            total += round_money(line["Quantity"] * line["UnitAmount"]) - line["LineAmount"]
    return round_money(total)


def next_free_number(org: Organisation, sequence: str, prefix: str, taken: Callable[[str], bool]):
    """The next number in the organisation's sequence, skipping numbers typed by hand."""
    while True:
        number = org.next_number(sequence, prefix)
        if not taken(number):
            return number
