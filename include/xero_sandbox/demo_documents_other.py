"""Demo quotes, purchase orders, bank transactions and a bank transfer, written through
the resources' own rules (so every demo record is one Xero could hold).

Statuses that Xero only reaches by a transition (ACCEPTED, INVOICED, BILLED, DELETED...)
are reached the same way here: create, then update, exactly as a client would.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from xero_sandbox.accounting import service
from xero_sandbox.accounting.registry import rules_for
from xero_sandbox.organisation import Organisation
from xero_sandbox.responses import outcome_of
from xero_sandbox.seed_writes import SeedError, context, write
from xero_sandbox.state import SandboxState

CUSTOMERS = ("Ridgeway University", "Bayside Club", "City Limousines")
SUPPLIERS = ("PowerDirect", "Office Supplies Co")


def create_other_demo(state: SandboxState, org: Organisation, contacts: dict[str, dict]) -> None:
    """Quotes in every status, purchase orders, every writable bank transaction type (plus
    a deleted one) and a transfer from account 090 to 091, for ``org``.

    :param contacts: the demo contacts as rendered, keyed by Name.
    """
    today = state.clock.now().date()

    def day(offset: int) -> str:
        return (today - timedelta(days=offset)).isoformat()

    def ref(name: str) -> dict[str, str]:
        return {"ContactID": contacts[name]["ContactID"]}

    _quotes(state, org, ref, day)
    _purchase_orders(state, org, ref, day)
    _bank_transactions(state, org, ref, day)
    _bank_transfer(state, org, day)


def _write(state: SandboxState, org: Organisation, resource: str, records: list[dict]) -> list:
    return write(state, org, resource, records)


def _quotes(state: SandboxState, org: Organisation, ref: Any, day: Any) -> None:
    def quote(customer: str, title: str, status: str, offset: int, lines: list) -> dict:
        return {
            "Contact": ref(customer),
            "Date": day(offset),
            "ExpiryDate": day(offset - 30),
            "Status": status,
            "Title": title,
            "Summary": f"{title} for {customer}",
            "Terms": "Valid for 30 days from the quote date.",
            "Reference": f"Q-{title.split()[0].upper()}",
            "LineItems": lines,
        }

    consulting = [{"ItemCode": "CONSULT", "Quantity": 10}]
    widgets = [{"ItemCode": "WIDGET", "Quantity": 40, "DiscountRate": 10}]
    support = [{"ItemCode": "SUPPORT", "Quantity": 12}]
    created = _write(
        state,
        org,
        "Quotes",
        [
            quote("Ridgeway University", "Campus consulting", "DRAFT", 3, consulting),
            quote("Bayside Club", "Widget order", "SENT", 10, widgets),
            quote("City Limousines", "Fleet support plan", "SENT", 20, support),
            quote("Ridgeway University", "Lab widgets", "SENT", 25, widgets),
            quote("Bayside Club", "Season support", "SENT", 40, support),
            quote("City Limousines", "Cancelled consulting", "DRAFT", 5, consulting),
        ],
    )
    steps = [
        (created[2], ["ACCEPTED"]),
        (created[3], ["DECLINED"]),
        (created[4], ["ACCEPTED", "INVOICED"]),
        (created[5], ["DELETED"]),
    ]
    for rendered, statuses in steps:
        for status in statuses:
            # A quote update resends Contact, Date and the texts: Xero clears omitted texts.
            body = {
                key: rendered[key]
                for key in ("QuoteID", "Title", "Summary", "Terms", "Reference")
                if key in rendered
            }
            body.update(
                Status=status,
                Contact={"ContactID": rendered["Contact"]["ContactID"]},
                Date=rendered["DateString"][:10],
            )
            _write(state, org, "Quotes", [body])


def _purchase_orders(state: SandboxState, org: Organisation, ref: Any, day: Any) -> None:
    def order(supplier: str, status: str, offset: int, lines: list, **extra: Any) -> dict:
        return {
            "Contact": ref(supplier),
            "Date": day(offset),
            "DeliveryDate": day(offset - 14),
            "Status": status,
            "Reference": f"PO for {supplier}",
            "AttentionTo": "Stores",
            "DeliveryAddress": "1 Wharf Street, Wellington 6011",
            "Telephone": "04 555 0100",
            "DeliveryInstructions": "Deliver to the loading bay before noon.",
            "LineItems": lines,
            **extra,
        }

    paper = [
        {
            "Description": "Copier paper (box)",
            "Quantity": 10,
            "UnitAmount": 38.5,
            "AccountCode": "429",
            "TaxType": "INPUT2",
        }
    ]
    widgets = [{"ItemCode": "WIDGET", "Quantity": 100}]
    created = _write(
        state,
        org,
        "PurchaseOrders",
        [
            order("Office Supplies Co", "DRAFT", 2, paper),
            order("Office Supplies Co", "AUTHORISED", 12, widgets, SentToContact=True),
            order("PowerDirect", "AUTHORISED", 30, paper),
        ],
    )
    _write(
        state,
        org,
        "PurchaseOrders",
        [{"PurchaseOrderID": created[2]["PurchaseOrderID"], "Status": "BILLED"}],
    )


def _bank_transactions(state: SandboxState, org: Organisation, ref: Any, day: Any) -> None:
    bank = {"Code": "090"}
    created = _write(
        state,
        org,
        "BankTransactions",
        [
            {
                "Type": "RECEIVE",
                "Contact": ref("Ridgeway University"),
                "BankAccount": bank,
                "Date": day(6),
                "Reference": "Workshop fees",
                "LineItems": [
                    {
                        "Description": "Workshop fees",
                        "Quantity": 1,
                        "UnitAmount": 850,
                        "AccountCode": "200",
                    }
                ],
            },
            {
                "Type": "SPEND",
                "Contact": ref("PowerDirect"),
                "BankAccount": bank,
                "Date": day(8),
                "Reference": "Power bill",
                "IsReconciled": True,
                "LineItems": [
                    {
                        "Description": "Electricity",
                        "Quantity": 1,
                        "UnitAmount": 212.4,
                        "AccountCode": "445",
                    }
                ],
            },
            {
                "Type": "RECEIVE-OVERPAYMENT",
                "Contact": ref("Bayside Club"),
                "BankAccount": bank,
                "Date": day(9),
                "LineItems": [{"Description": "Overpaid membership invoice", "UnitAmount": 45}],
            },
            {
                "Type": "SPEND-OVERPAYMENT",
                "Contact": ref("Office Supplies Co"),
                "BankAccount": bank,
                "Date": day(11),
                "LineItems": [{"Description": "Paid twice by mistake", "UnitAmount": 60}],
            },
            {
                "Type": "RECEIVE-PREPAYMENT",
                "Contact": ref("City Limousines"),
                "BankAccount": bank,
                "Date": day(13),
                "LineItems": [
                    {
                        "Description": "Deposit on support plan",
                        "Quantity": 1,
                        "UnitAmount": 300,
                        "AccountCode": "200",
                    }
                ],
            },
            {
                "Type": "SPEND-PREPAYMENT",
                "Contact": ref("Office Supplies Co"),
                "BankAccount": bank,
                "Date": day(15),
                "LineItems": [
                    {
                        "Description": "Deposit on furniture",
                        "Quantity": 1,
                        "UnitAmount": 500,
                        "AccountCode": "300",
                    }
                ],
            },
            {
                "Type": "SPEND",
                "Contact": ref("Office Supplies Co"),
                "BankAccount": bank,
                "Date": day(16),
                "Reference": "Entered twice",
                "LineItems": [
                    {
                        "Description": "Stationery",
                        "Quantity": 1,
                        "UnitAmount": 19.9,
                        "AccountCode": "429",
                    }
                ],
            },
        ],
    )
    _write(
        state,
        org,
        "BankTransactions",
        [{"BankTransactionID": created[-1]["BankTransactionID"], "Status": "DELETED"}],
    )


def _bank_transfer(state: SandboxState, org: Organisation, day: Any) -> None:
    """PUT, not the seed's POST: a POST to BankTransfers only deletes, as in Xero."""
    rules = rules_for("BankTransfers")
    if rules is None:
        raise SeedError("unknown resource 'BankTransfers'")
    ctx = context(state, org)
    outcome = outcome_of(
        lambda: service.write_records(
            ctx,
            rules,
            [
                {
                    "FromBankAccount": {"Code": "090"},
                    "ToBankAccount": {"Code": "091"},
                    "Amount": 1500,
                    "Date": day(4),
                    "Reference": "Move to savings",
                }
            ],
            mode="put",
            summarize_errors=True,
        ),
        ctx.app_name,
        ctx.now,
    )
    if outcome.status != 200:
        raise SeedError(f"BankTransfers rejected: {outcome.body}")
