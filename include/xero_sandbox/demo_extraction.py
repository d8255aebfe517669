"""Demo records for the extraction endpoints (tracking, groups, manual journals, repeating
invoices, linked transactions, receipts and an expense claim), written through the
resources' own rules and HTTP-shaped bodies, so a warehouse sync finds rows in each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from xero_sandbox.accounting import service
from xero_sandbox.accounting.registry import rules_for
from xero_sandbox.organisation import Organisation
from xero_sandbox.responses import outcome_of
from xero_sandbox.seed_writes import SeedError, context, write
from xero_sandbox.state import SandboxState


def create_extraction_demo(
    state: SandboxState, org: Organisation, contacts: dict[str, dict[str, Any]]
) -> None:
    """Create one or more records of each extraction-only resource in ``org``."""
    today = state.clock.now().date()

    def day(offset: int) -> str:
        return (today - timedelta(days=offset)).isoformat()

    def ref(name: str) -> dict[str, str]:
        return {"ContactID": contacts[name]["ContactID"]}

    def action(resource: str, record_id: str, name: str, body: Any) -> None:
        rules = rules_for(resource)
        ctx = context(state, org)
        method = "DELETE" if name == "delete-contacts" else "PUT"
        handler = rules.actions[(method, name.replace("delete-", ""))]
        outcome = outcome_of(
            lambda: getattr(rules, handler)(
                ctx, service.get_record(org, rules, record_id), body, [], {}
            ),
            ctx.app_name,
            ctx.now,
        )
        if outcome.status >= 400:
            raise SeedError(f"{resource}/{name} rejected: {outcome.body}")

    region = write(state, org, "TrackingCategories", [{"Name": "Region"}])[0]
    action(
        "TrackingCategories",
        region["TrackingCategoryID"],
        "options",
        {"Options": [{"Name": "North"}, {"Name": "South"}]},
    )
    group = write(state, org, "ContactGroups", [{"Name": "Key customers"}])[0]
    action(
        "ContactGroups",
        group["ContactGroupID"],
        "contacts",
        {"Contacts": [ref("Ridgeway University"), ref("Bayside Club")]},
    )
    write(
        state,
        org,
        "ManualJournals",
        [
            {
                "Narration": "Accrue December power",
                "Date": day(20),
                "Status": "POSTED",
                "JournalLines": [
                    {"LineAmount": 120.0, "AccountCode": "445", "Description": "Power"},
                    {"LineAmount": -120.0, "AccountCode": "800", "Description": "Accrual"},
                ],
            },
            {
                "Narration": "Draft reclass",
                "JournalLines": [{"LineAmount": 10.0, "AccountCode": "429"}],
            },
        ],
    )
    write(
        state,
        org,
        "RepeatingInvoices",
        [
            {
                "Type": "ACCREC",
                "Contact": ref("Bayside Club"),
                "Status": "AUTHORISED",
                "Schedule": {
                    "Period": 1,
                    "Unit": "MONTHLY",
                    "DueDate": 20,
                    "DueDateType": "OFFOLLOWINGMONTH",
                    "StartDate": day(-5),
                },
                "LineItems": [
                    {
                        "Description": "Support plan",
                        "Quantity": 1,
                        "UnitAmount": 99,
                        "AccountCode": "200",
                    }
                ],
            }
        ],
    )
    bill = next(
        (
            b
            for b in org.table("Invoices").values()
            if b["Type"] == "ACCPAY" and b["Status"] == "AUTHORISED" and b.get("LineItems")
        ),
        None,
    )
    if bill is not None:
        write(
            state,
            org,
            "LinkedTransactions",
            [
                {
                    "SourceTransactionID": bill["InvoiceID"],
                    "SourceLineItemID": bill["LineItems"][0]["LineItemID"],
                    "ContactID": contacts["City Limousines"]["ContactID"],
                }
            ],
        )
    user_id = next(iter(org.table("Users").values()))["UserID"]
    receipts = write(
        state,
        org,
        "Receipts",
        [
            {
                "Date": day(3),
                "Contact": {"Name": "Corner Cafe"},
                "User": {"UserID": user_id},
                "LineItems": [
                    {"Description": "Client lunch", "UnitAmount": 46, "AccountCode": "429"}
                ],
            },
            {
                "Date": day(2),
                "Contact": {"Name": "Taxi Co"},
                "User": {"UserID": user_id},
                "LineItems": [{"Description": "Taxi", "UnitAmount": 23, "AccountCode": "429"}],
            },
        ],
    )
    write(
        state,
        org,
        "ExpenseClaims",
        [{"User": {"UserID": user_id}, "Receipts": [{"ReceiptID": receipts[0]["ReceiptID"]}]}],
    )
