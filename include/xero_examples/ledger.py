"""The postings Xero's documents make, for apps whose tier has no Journals.

Since March 2026 Journals (Xero's general ledger) are served only to apps on the Advanced
tier and above (developer.xero.com/pricing; ``xero_provider.tiers``). A Starter, Core or
Plus warehouse still holds every document that posts to the ledger, so each account's
balance follows from double entry, as Xero's Journals docs describe a posting:

* an AUTHORISED or PAID sales invoice (``ACCREC``) debits the Accounts Receivable system
  account (``SystemAccount`` ``DEBTORS``, spec: Account) by its total and credits each
  line's account by the line's net amount (``LineAmount``, less ``TaxAmount`` when the
  amounts are tax ``Inclusive``) and the tax account (``GST``) by the tax; a bill
  (``ACCPAY``) the reverse against Accounts Payable (``CREDITORS``); a credit note the
  reverse of its kind of invoice (``ACCRECCREDIT`` against receivables);
* an AUTHORISED payment moves its amount between its bank ``Account`` and receivables
  (payments on sales invoices and customer credit notes) or payables (the others);
* an AUTHORISED bank transaction posts its lines against its bank account (overpayments
  post their total against receivables or payables); ``*-TRANSFER`` transactions are
  the two sides of a bank transfer, which posts itself (To debited, From credited);
* a POSTED manual journal posts its lines (``LineAmount``, debits positive).

Allocating credit to an invoice moves nothing between accounts (both sit in receivables
or payables), so allocations add no posting. Deleted, voided and draft documents post
nothing. Amounts are the documents' own (base currency: foreign-currency documents would
need their rates and Xero's realised gains, which only the Journals carry).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from xero_examples.warehouse import Warehouse
from xero_provider.resources import get_resource

ZERO = Decimal(0)
POSTED = ("AUTHORISED", "PAID")
Posting = tuple[str, Decimal]  # (AccountID, amount: debits positive)


def _amount(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


class ChartOfAccounts:
    """AccountID by code, and the system accounts documents post against."""

    def __init__(self, accounts: list[dict[str, Any]]) -> None:
        self.by_code = {a["Code"]: a["AccountID"] for a in accounts if a.get("Code")}
        self.ids = {a["AccountID"] for a in accounts}
        self.system = {
            a["SystemAccount"]: a["AccountID"] for a in accounts if a.get("SystemAccount")
        }

    def system_account(self, name: str) -> str:
        try:
            return self.system[name]
        except KeyError:
            raise ValueError(
                f"Accounts: no account has SystemAccount {name} in the warehouse; sync "
                "Accounts first"
            ) from None

    def by_line(self, line: dict[str, Any]) -> str | None:
        """A line's AccountID (by ``AccountID``, else ``AccountCode``); None when unknown
        (Xero posts no such line)."""
        account_id = line.get("AccountID")
        if account_id in self.ids:
            return account_id
        return self.by_code.get(str(line.get("AccountCode") or ""))


class LinesMissing(ValueError):
    """A posted document stored without its lines (a ``lean`` warehouse reads Xero's
    ``summaryOnly`` lists): its postings cannot be known."""


def document_lines(chart: ChartOfAccounts, record: dict[str, Any], sign: int) -> list[Posting]:
    """The line and tax postings of an invoice-like document; ``sign`` +1 credits the
    line accounts (a sale). The balancing posting is the caller's."""
    if not record.get("LineItems") and _amount(record.get("Total")):
        raise LinesMissing(
            "the warehouse holds no line items for posted documents (a lean sync reads "
            "Xero's summaryOnly lists); sync without lean to compare the trial balance"
        )
    postings: list[Posting] = []
    tax_total = ZERO
    inclusive = record.get("LineAmountTypes") == "Inclusive"
    for line in record.get("LineItems") or []:
        account = chart.by_line(line)
        if account is None:
            continue
        tax = _amount(line.get("TaxAmount"))
        net = _amount(line.get("LineAmount")) - (tax if inclusive else ZERO)
        postings.append((account, -sign * net))
        tax_total += tax
    if tax_total:
        postings.append((chart.system_account("GST"), -sign * tax_total))
    return postings


def balanced(postings: list[Posting], account: str) -> list[Posting]:
    """``postings`` and the posting to ``account`` that makes them sum to zero."""
    rest = -sum((amount for _, amount in postings), ZERO)
    return [*postings, (account, rest)] if rest else postings


def postings(chart: ChartOfAccounts, resource: str, record: dict[str, Any]) -> list[Posting]:
    """What one document posts (empty when it posts nothing in its current status)."""
    status = record.get("Status")
    if resource in ("Invoices", "CreditNotes") and status in POSTED:
        kind = record.get("Type", "")
        sales = kind in ("ACCREC", "ACCRECCREDIT")
        control = chart.system_account("DEBTORS" if sales else "CREDITORS")
        sign = 1 if sales else -1
        if resource == "CreditNotes":
            sign = -sign
        return balanced(document_lines(chart, record, sign), control)
    if resource == "Payments" and status == "AUTHORISED":
        kind = record.get("PaymentType", "ACCRECPAYMENT")
        receivable = kind in ("ACCRECPAYMENT", "ARCREDITPAYMENT")
        money_in = kind in ("ACCRECPAYMENT", "APCREDITPAYMENT")
        amount = _amount(record.get("Amount")) * (1 if money_in else -1)
        bank = (record.get("Account") or {}).get("AccountID")
        control = chart.system_account("DEBTORS" if receivable else "CREDITORS")
        return [(bank, amount), (control, -amount)] if bank in chart.ids else []
    if resource == "BankTransactions" and status == "AUTHORISED":
        kind = record.get("Type", "")
        bank = (record.get("BankAccount") or {}).get("AccountID")
        if kind.endswith("TRANSFER") or bank not in chart.ids:
            return []
        money_in = kind.startswith("RECEIVE")
        if kind.endswith("OVERPAYMENT"):
            total = _amount(record.get("Total")) * (1 if money_in else -1)
            control = chart.system_account("DEBTORS" if money_in else "CREDITORS")
            return [(bank, total), (control, -total)]
        return balanced(document_lines(chart, record, 1 if money_in else -1), bank)
    if resource == "BankTransfers" and status != "DELETED":
        amount = _amount(record.get("Amount"))
        to = (record.get("ToBankAccount") or {}).get("AccountID")
        source = (record.get("FromBankAccount") or {}).get("AccountID")
        return [(to, amount), (source, -amount)]
    if resource == "ManualJournals" and status == "POSTED":
        return [
            (account, _amount(line.get("LineAmount")))
            for line in record.get("JournalLines") or []
            if (account := chart.by_line(line)) is not None
        ]
    return []


DOCUMENTS = ("Invoices", "CreditNotes", "Payments", "BankTransactions", "BankTransfers",
             "ManualJournals")  # fmt: skip


def stored_records(
    warehouse: Warehouse, resource: str, tenant_id: str, as_at: date | None = None
) -> Iterator[dict[str, Any]]:
    """The warehouse's current records of ``resource`` (not marked deleted), dated on or
    before ``as_at`` when given."""
    table = warehouse.table(get_resource(resource))
    query = sa.select(table.c.record).where(
        table.c.tenant_id == tenant_id, table.c.deleted_utc.is_(None)
    )
    if as_at is not None:
        query = query.where(table.c.doc_date <= as_at)
    with warehouse.engine.connect() as conn:
        for (text,) in conn.execute(query):
            yield json.loads(text)


def document_balances(warehouse: Warehouse, tenant_id: str, as_at: date) -> dict[str, Decimal]:
    """Balance per AccountID (debits positive) at ``as_at`` from the stored documents."""
    chart = ChartOfAccounts(list(stored_records(warehouse, "Accounts", tenant_id)))
    balances: dict[str, Decimal] = {}
    for resource in DOCUMENTS:
        for record in stored_records(warehouse, resource, tenant_id, as_at):
            for account, amount in postings(chart, resource, record):
                balances[account] = balances.get(account, ZERO) + amount
    return balances
