"""The demo organisations' contacts and documents (every status), created through the rules."""

from __future__ import annotations

from typing import Any

from xero_sandbox.demo_documents_ar_ap import create_ar_ap_demo
from xero_sandbox.demo_documents_other import create_other_demo
from xero_sandbox.demo_extraction import create_extraction_demo
from xero_sandbox.organisation import Organisation
from xero_sandbox.seed_writes import write
from xero_sandbox.state import SandboxState

DEMO_CONTACTS = [
    {
        "Name": "Ridgeway University",
        "EmailAddress": "accounts@ridgeway.example.com",
        "ContactNumber": "CUST-001",
        "FirstName": "Ava",
        "LastName": "Ridge",
    },
    {
        "Name": "Bayside Club",
        "EmailAddress": "treasurer@bayside.example.com",
        "ContactNumber": "CUST-002",
    },
    {"Name": "City Limousines", "ContactNumber": "CUST-003"},
    {
        "Name": "PowerDirect",
        "EmailAddress": "billing@powerdirect.example.com",
        "ContactNumber": "SUPP-001",
    },
    {
        "Name": "Office Supplies Co",
        "EmailAddress": "ap@officesupplies.example.com",
        "ContactNumber": "SUPP-002",
    },
    {"Name": "Archived Old Customer", "ContactNumber": "CUST-OLD", "ContactStatus": "ARCHIVED"},
]


def demo_records(state: SandboxState, org: Organisation) -> dict[str, Any]:
    """Create the demo contacts and documents in ``org``."""
    contacts = write(state, org, "Contacts", [dict(c) for c in DEMO_CONTACTS])
    by_name = {c["Name"]: c for c in contacts}
    create_ar_ap_demo(state, org, by_name)
    create_other_demo(state, org, by_name)
    create_extraction_demo(state, org, by_name)
    return {"Contacts": contacts}
