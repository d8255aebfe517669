"""The trial balance from the warehouse's journals (or, on tiers without Journals, from
its documents and payments), and Xero's TrialBalance report to prove it against, to the
cent.

Xero's journals are its general ledger: every posting (an authorised invoice or credit
note, a payment, a bank transaction or transfer, a posted manual journal) adds a journal
whose lines sum to zero, debits positive; a change adds a reversal and a new journal
(Xero's Journals docs). So an account's balance at a date is the sum of its journal lines'
``NetAmount`` over journals dated on or before it, which is what the TrialBalance report
shows (Debit when positive, Credit when negative).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from xero_examples.warehouse import Warehouse
from xero_provider.resources import get_resource

CENT = Decimal("0.01")

# The query, for any SQL client (PostgreSQL sums NUMERIC exactly; on SQLite amounts are
# decimal text, so :func:`warehouse_trial_balance` adds them up in Python instead):
TRIAL_BALANCE_SQL = """
SELECT line.account AS account_id, SUM(line.amount) AS balance
FROM xero_children AS line
JOIN xero_journals AS journal
  ON journal.tenant_id = line.tenant_id AND journal.xero_id = line.parent_id
WHERE line.resource = 'Journals' AND line.kind = 'JournalLines'
  AND journal.tenant_id = :tenant_id AND journal.doc_date <= :as_at
GROUP BY line.account
HAVING SUM(line.amount) <> 0
"""


def warehouse_trial_balance(
    warehouse: Warehouse, tenant_id: str, as_at: date
) -> dict[str, Decimal]:
    """Balance per AccountID (debits positive) at ``as_at``, from the stored journals;
    accounts at zero left out, as Xero's report leaves them out."""
    lines = warehouse.children
    journals = warehouse.table(get_resource("Journals"))
    query = (
        sa.select(lines.c.account, lines.c.amount)
        .join(
            journals,
            (journals.c.tenant_id == lines.c.tenant_id) & (journals.c.xero_id == lines.c.parent_id),
        )
        .where(lines.c.resource == "Journals", lines.c.kind == "JournalLines")
        .where(journals.c.tenant_id == tenant_id, journals.c.doc_date <= as_at)
    )
    balances: dict[str, Decimal] = {}
    with warehouse.engine.connect() as conn:
        for account, amount in conn.execute(query):
            balances[account] = balances.get(account, Decimal(0)) + (amount or Decimal(0))
    return {k: v.quantize(CENT) for k, v in balances.items() if v.quantize(CENT) != 0}


def documents_trial_balance(
    warehouse: Warehouse, tenant_id: str, as_at: date
) -> dict[str, Decimal]:
    """Balance per AccountID at ``as_at`` from the stored documents and payments, for apps
    whose Xero tier has no Journals (:mod:`xero_examples.ledger`); zero balances left
    out, as in Xero's report."""
    from xero_examples.ledger import document_balances

    balances = document_balances(warehouse, tenant_id, as_at)
    return {k: v.quantize(CENT) for k, v in balances.items() if v.quantize(CENT) != 0}


def report_trial_balance(report: dict[str, Any]) -> dict[str, Decimal]:
    """Balance per AccountID from Xero's ``GET /Reports/TrialBalance`` body: each account
    row's Debit minus Credit (the row's cells carry the ``account`` attribute)."""
    (only,) = report.get("Reports", [report])
    balances: dict[str, Decimal] = {}
    for section in only.get("Rows", []):
        for row in section.get("Rows", []) if section.get("RowType") == "Section" else []:
            if row.get("RowType") != "Row":
                continue
            cells = row["Cells"]
            account = next(
                (a["Value"] for a in cells[0].get("Attributes", []) if a.get("Id") == "account"),
                None,
            )
            if account is None:
                raise ValueError(f"TrialBalance row without an account attribute: {row}")
            net = Decimal(cells[1]["Value"] or 0) - Decimal(cells[2]["Value"] or 0)
            if net:
                balances[account] = net.quantize(CENT)
    return balances


def xero_trial_balance(hook: Any, as_at: date) -> dict[str, Decimal]:
    """Xero's TrialBalance report at ``as_at`` (one call)."""
    return report_trial_balance(
        hook.call("GET", "Reports/TrialBalance", params={"date": as_at.isoformat()})
    )


def trial_balance_differences(ours: dict[str, Decimal], theirs: dict[str, Decimal]) -> list[str]:
    """The accounts whose balances differ, as sentences (empty: equal to the cent)."""
    return [
        f"TrialBalance: account {account} is {ours.get(account, 0)} in the warehouse, "
        f"{theirs.get(account, 0)} in Xero"
        for account in sorted(ours.keys() | theirs.keys())
        if ours.get(account, Decimal(0)) != theirs.get(account, Decimal(0))
    ]
