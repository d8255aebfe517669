"""The demo organisation's receivables and payables: invoices, bills, payments and credit
notes in every status, created through the same rules as API writes.

Dates are relative to the sandbox clock's today, so "overdue" stays overdue whenever the
demo is seeded.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from xero_sandbox.accounting.credit_notes import CreditNoteRules
from xero_sandbox.organisation import Organisation
from xero_sandbox.responses import outcome_of
from xero_sandbox.seed_writes import SeedError, context, write
from xero_sandbox.state import SandboxState


def create_ar_ap_demo(state: SandboxState, org: Organisation, contacts: dict[str, dict]) -> None:
    """Create the AR/AP demo documents in ``org`` for the demo contacts (keyed by Name)."""
    today = state.clock.now().date()

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    def who(name: str) -> dict[str, str]:
        return {"ContactID": contacts[name]["ContactID"]}

    def line(description: str, amount: str, account: str, quantity: str = "1") -> dict[str, Any]:
        return {
            "Description": description,
            "Quantity": quantity,
            "UnitAmount": amount,
            "AccountCode": account,
        }

    def sale(name: str, status: str, date: int, due: int, *lines: dict, **extra: Any) -> dict:
        return {
            "Type": "ACCREC",
            "Contact": who(name),
            "Status": status,
            "Date": day(date),
            "DueDate": day(due),
            "LineItems": list(lines),
            **extra,
        }

    def bill(name: str, status: str, date: int, due: int, *lines: dict, **extra: Any) -> dict:
        return {**sale(name, status, date, due, *lines, **extra), "Type": "ACCPAY"}

    made = write(
        state,
        org,
        "Invoices",
        [
            sale(
                "Ridgeway University",
                "DRAFT",
                -2,
                28,
                line("Research workshop (draft)", "1800.00", "200"),
                Reference="Workshop proposal",
            ),
            sale(
                "Bayside Club",
                "SUBMITTED",
                -5,
                25,
                line("Venue hire - March", "650.00", "200"),
                Reference="Awaiting approval",
            ),
            sale(
                "Ridgeway University",
                "AUTHORISED",
                -45,
                -15,
                {"ItemCode": "CONSULT", "Quantity": "6"},
                Reference="Overdue consulting",
            ),
            sale(
                "City Limousines",
                "AUTHORISED",
                -20,
                10,
                {"ItemCode": "WIDGET", "Quantity": "40"},
                Reference="Part paid",
            ),
            sale(
                "Bayside Club",
                "AUTHORISED",
                -30,
                -2,
                {"ItemCode": "SUPPORT", "Quantity": "3"},
                Reference="Support plan Q1",
            ),
            sale(
                "City Limousines", "AUTHORISED", -12, 18, line("Raised in error", "300.00", "200")
            ),
            sale("Ridgeway University", "DRAFT", -8, 22, line("Duplicate draft", "120.00", "200")),
            sale(
                "Ridgeway University",
                "AUTHORISED",
                -25,
                5,
                line("Catering - open day", "900.00", "260"),
                Reference="Credited in part",
            ),
            bill(
                "PowerDirect",
                "AUTHORISED",
                -10,
                10,
                line("Electricity - February", "412.50", "445"),
                InvoiceNumber="PD-2026-02",
            ),
            bill(
                "PowerDirect",
                "AUTHORISED",
                -40,
                -10,
                line("Electricity - January", "398.20", "445"),
                InvoiceNumber="PD-2026-01",
            ),
            bill("Office Supplies Co", "DRAFT", -1, 29, line("Printer paper", "84.00", "429", "2")),
            bill(
                "Office Supplies Co",
                "SUBMITTED",
                -6,
                24,
                line("Desk chairs", "245.00", "429", "4"),
                InvoiceNumber="OSC-5521",
            ),
            bill(
                "Office Supplies Co",
                "AUTHORISED",
                -15,
                15,
                line("Wrong delivery", "60.00", "429"),
                InvoiceNumber="OSC-5490",
            ),
            bill("PowerDirect", "DRAFT", -3, 27, line("Duplicate entry", "412.50", "445")),
            bill(
                "Office Supplies Co",
                "AUTHORISED",
                -18,
                12,
                line("Stationery", "150.00", "300"),
                InvoiceNumber="OSC-5502",
            ),
        ],
    )
    (
        _draft,
        _submitted,
        _overdue,
        part_paid,
        to_pay,
        to_void,
        to_delete,
        credited,
        _open_bill,
        paid_bill,
        _draft_bill,
        _submitted_bill,
        void_bill,
        delete_bill,
        part_paid_bill,
    ) = made

    write(
        state,
        org,
        "Invoices",
        [
            {"InvoiceID": to_void["InvoiceID"], "Status": "VOIDED"},
            {"InvoiceID": to_delete["InvoiceID"], "Status": "DELETED"},
            {"InvoiceID": void_bill["InvoiceID"], "Status": "VOIDED"},
            {"InvoiceID": delete_bill["InvoiceID"], "Status": "DELETED"},
        ],
    )

    def payment(invoice: dict, amount: Any, offset: int, reference: str) -> dict[str, Any]:
        return {
            "Invoice": {"InvoiceID": invoice["InvoiceID"]},
            "Account": {"Code": "090"},
            "Date": day(offset),
            "Amount": amount,
            "Reference": reference,
        }

    write(
        state,
        org,
        "Payments",
        [
            payment(to_pay, to_pay["AmountDue"], -1, "Bayside Club - direct credit"),
            payment(part_paid, "500.00", -4, "City Limousines - deposit"),
            payment(paid_bill, paid_bill["AmountDue"], -9, "PowerDirect DD"),
            payment(part_paid_bill, "100.00", -2, "Part payment"),
        ],
    )

    notes = write(
        state,
        org,
        "CreditNotes",
        [
            {
                "Type": "ACCRECCREDIT",
                "Contact": who("Bayside Club"),
                "Status": "AUTHORISED",
                "Date": day(-7),
                "Reference": "Unused venue hours",
                "LineItems": [line("Refund - cancelled booking", "150.00", "200")],
            },
            {
                "Type": "ACCRECCREDIT",
                "Contact": who("Ridgeway University"),
                "Status": "AUTHORISED",
                "Date": day(-6),
                "Reference": "Catering shortfall",
                "LineItems": [line("Catering credit", "200.00", "260")],
            },
            {
                "Type": "ACCRECCREDIT",
                "Contact": who("City Limousines"),
                "Status": "DRAFT",
                "Date": day(-1),
                "LineItems": [line("Damaged widgets (draft)", "50.00", "200")],
            },
            {
                "Type": "ACCPAYCREDIT",
                "Contact": who("Office Supplies Co"),
                "CreditNoteNumber": "OSC-CR-77",
                "Status": "AUTHORISED",
                "Date": day(-3),
                "LineItems": [line("Returned toner", "45.00", "429")],
            },
        ],
    )
    ridgeway_credit = notes[1]
    rules = CreditNoteRules()
    record = org.get("CreditNotes", ridgeway_credit["CreditNoteID"])
    ctx = context(state, org)
    outcome = outcome_of(
        lambda: rules.allocate(
            ctx,
            record or {},
            {
                "Allocations": [
                    {
                        "Invoice": {"InvoiceID": credited["InvoiceID"]},
                        "Amount": ridgeway_credit["RemainingCredit"],
                        "Date": day(-5),
                    }
                ]
            },
            [],
            {},
        ),
        ctx.app_name,
        ctx.now,
    )
    if outcome.status != 200:
        raise SeedError(f"Allocation rejected: {json.dumps(outcome.body)[:2000]}")
