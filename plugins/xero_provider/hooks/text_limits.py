"""Limits Xero states in advance, checked before anything is sent.

Text lengths are the ``maxLength`` values of Xero's Accounting spec (xero_accounting.yaml,
``components.schemas``; ``tests/provider/test_text_limits.py`` keeps this table equal to
the spec copy in the sandbox). The request size is Xero's documented 3.5 MB per POST/PUT
body (developer.xero.com/documentation/auth-and-limits/xero-api-limits, API_NOTES.md
"Request size"): a record that cannot fit is refused by name instead of earning a 413
after megabytes went over the wire.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from xero_provider.resources import Resource

MAX_REQUEST_BYTES = int(3.5 * 1024 * 1024)

# spec schema -> field -> maxLength
TEXT_LIMITS: dict[str, dict[str, int]] = {
    "Address": {
        "AddressLine1": 500,
        "AddressLine2": 500,
        "AddressLine3": 500,
        "AddressLine4": 500,
        "City": 255,
        "Region": 255,
        "PostalCode": 50,
        "Country": 50,
        "AttentionTo": 255,
    },
    "Phone": {"PhoneNumber": 50, "PhoneAreaCode": 10, "PhoneCountryCode": 20},
    "Account": {"Name": 150},
    "BatchPayment": {
        "Reference": 255,
        "Particulars": 12,
        "Code": 12,
        "Narrative": 18,
    },
    "Contact": {
        "ContactNumber": 50,
        "AccountNumber": 50,
        "Name": 255,
        "FirstName": 255,
        "LastName": 255,
        "CompanyNumber": 50,
        "EmailAddress": 255,
        "TaxNumber": 50,
    },
    "Budget": {"Description": 255},
    "Employee": {"FirstName": 255, "LastName": 255},
    "Invoice": {"InvoiceNumber": 255},
    "Item": {"Code": 30, "Name": 50, "Description": 4000, "PurchaseDescription": 4000},
    "Quote": {
        "QuoteNumber": 255,
        "Reference": 4000,
        "Terms": 4000,
        "Title": 100,
        "Summary": 3000,
    },
    "TrackingCategory": {"Name": 100, "Option": 100},
    "TrackingOption": {"Name": 100},
}
# nested lists of a schema whose elements have their own limits
NESTED: dict[str, dict[str, str]] = {
    "Contact": {"Addresses": "Address", "Phones": "Phone"},
    "TrackingCategory": {"Options": "TrackingOption"},
}
# the resource table's envelope key -> the spec schema of one record
SCHEMA_OF: dict[str, str] = {
    "Accounts": "Account",
    "BatchPayments": "BatchPayment",
    "Contacts": "Contact",
    "Budgets": "Budget",
    "Employees": "Employee",
    "Invoices": "Invoice",
    "Items": "Item",
    "Quotes": "Quote",
    "TrackingCategories": "TrackingCategory",
    "Options": "TrackingOption",
}


def text_problems(schema: str | None, record: Any, path: str = "") -> list[tuple[str, str]]:
    """``(field path, message)`` for each text longer than the spec allows."""
    if schema is None or not isinstance(record, Mapping):
        return []
    out = []
    for name, limit in TEXT_LIMITS.get(schema, {}).items():
        value = record.get(name)
        if isinstance(value, str) and len(value) > limit:
            out.append(
                (
                    f"{path}{name}",
                    f"is {len(value)} characters; Xero takes at most {limit} "
                    f"({schema}.{name} in Xero's spec)",
                )
            )
    for name, inner in NESTED.get(schema, {}).items():
        values = record.get(name)
        if isinstance(values, list):
            for number, value in enumerate(values):
                out += text_problems(inner, value, f"{path}{name}[{number}].")
    return out


def resource_text_problems(resource: Resource, record: Any) -> list[tuple[str, str]]:
    return text_problems(SCHEMA_OF.get(resource.list_key), record)


def oversized(record: Any) -> tuple[int, str | None] | None:
    """``(bytes, largest field)`` when one record alone is over Xero's request size."""
    size = len(json.dumps(record, default=str).encode())
    if size <= MAX_REQUEST_BYTES:
        return None
    largest = None
    if isinstance(record, Mapping) and record:
        largest = max(record, key=lambda k: len(json.dumps(record[k], default=str)))
    return size, largest
