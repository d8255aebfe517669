"""Contacts: unique names among active contacts, ContactNumber as an external key."""

from __future__ import annotations

import re
from typing import Any

from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    clone,
    enum_field,
    get_field,
    normalise_keys,
    to_wire,
)
from xero_sandbox.errors import ValidationException
from xero_sandbox.organisation import Organisation, new_id

CONTACT_STATUSES = ("ACTIVE", "ARCHIVED", "GDPRREQUEST")
_CONTACT_MISSING = (
    "The Contact must contain at least 1 of the following elements to identify the contact: "
    "Name, ContactID, ContactNumber"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIELDS = [
    "ContactID",
    "ContactNumber",
    "AccountNumber",
    "ContactStatus",
    "Name",
    "FirstName",
    "LastName",
    "CompanyNumber",
    "EmailAddress",
    "BankAccountDetails",
    "TaxNumber",
    "AccountsReceivableTaxType",
    "AccountsPayableTaxType",
    "Addresses",
    "Phones",
    "IsSupplier",
    "IsCustomer",
    "DefaultCurrency",
    "ContactPersons",
    "Website",
]
_EDITABLE = [f for f in _FIELDS if f not in ("ContactID", "IsSupplier", "IsCustomer")]


class ContactRules(ResourceRules):
    name = "Contacts"
    # spec GET /Contacts searchTerm: "Name, FirstName, LastName, ContactNumber and EmailAddress"
    search_fields = ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
    summary_drops = ("Addresses", "Phones", "ContactPersons", "ContactGroups", "Balances")
    # Xero's optimised filters for large organisations (efficient-data-retrieval page, as
    # listed by CData's Xero driver docs, "Optimized Filters and High Volume Thresholds").
    optimised_where = ("Name", "EmailAddress", "AccountNumber")
    optimised_order = ("ContactID", "UpdatedDateUTC", "Name")
    id_field = "ContactID"
    number_field = "ContactNumber"
    scope = "contacts"
    granular_scope = "accounting.contacts"
    list_filters = {"IDs": "ContactID"}

    def generate(self, ctx: WriteContext, n: int) -> dict[str, Any]:
        return generate_contact(ctx, n)

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, _FIELDS)
        record: dict[str, Any] = {
            "ContactStatus": "ACTIVE",
            "IsSupplier": False,
            "IsCustomer": False,
            "Addresses": [],
            "Phones": [],
            "ContactPersons": [],
            "HasAttachments": False,
            "HasValidationErrors": False,
        }
        self._apply(ctx.org, record, data, creating=True)
        return record

    def update(self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]):
        data = normalise_keys(data, _FIELDS)
        updated = clone(record)
        self._apply(ctx.org, updated, data, creating=False)
        return updated

    def _apply(self, org: Organisation, record: dict, data: dict, *, creating: bool) -> None:
        errors: list[str] = []
        name = data.get("Name", record.get("Name"))
        if not isinstance(name, str) or not name.strip():
            errors.append("The contact name must be specified.")
        elif len(name) > 255:
            errors.append("The contact name must be 255 characters or less.")
        number = data.get("ContactNumber", record.get("ContactNumber"))
        if number is not None and len(str(number)) > 50:
            errors.append("The ContactNumber must be 50 characters or less.")
        status = enum_field(data.get("ContactStatus"), "ContactStatus", CONTACT_STATUSES, errors)
        email = data.get("EmailAddress")
        if email and not _EMAIL.match(str(email)):
            errors.append(f"Email address '{email}' must be valid.")
        if not errors and isinstance(name, str):
            clash = self._active_with(org, "Name", name, record.get("ContactID"))
            if clash and (status or record.get("ContactStatus")) == "ACTIVE":
                errors.append(
                    f"The contact name {name} is already assigned to another contact. "
                    "The contact name must be unique across all active contacts."
                )
            if number and self._active_with(
                org, "ContactNumber", str(number), record.get("ContactID")
            ):
                errors.append(
                    f"The contact number {number} is already assigned to another contact."
                )
        if errors:
            raise ValidationException(errors, data)
        for key in _EDITABLE:
            if key in data and key != "ContactStatus":
                record[key] = data[key]
        if status:
            record["ContactStatus"] = status
        record["Name"] = name.strip()

    @staticmethod
    def _active_with(org: Organisation, field_name: str, value: str, own_id: str | None) -> bool:
        wanted = value.strip().lower()
        for other in org.table("Contacts").values():
            if own_id and other["ContactID"].lower() == str(own_id).lower():
                continue
            if other.get("ContactStatus") != "ACTIVE":
                continue
            theirs = other.get(field_name)
            if isinstance(theirs, str) and theirs.strip().lower() == wanted:
                return True
        return False

    def is_archived(self, record: dict[str, Any]) -> bool:
        return record.get("ContactStatus") == "ARCHIVED"

    def history_label(self, record: dict[str, Any]) -> str:
        return "Contact"

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        # Xero always sends these collections, empty or not (spec examples of GET
        # /Contacts: ``ContactGroups: []``, ``ContactPersons: []``).
        for key in ("Addresses", "Phones", "ContactPersons"):
            out.setdefault(key, [])
        out["ContactGroups"] = groups_of(org, record.get("ContactID", ""))
        return out


def groups_of(org: Organisation, contact_id: str) -> list[dict[str, Any]]:
    """The active contact groups ``contact_id`` belongs to, as Xero embeds them."""
    return [
        {
            "ContactGroupID": group["ContactGroupID"],
            "Name": group.get("Name", ""),
            "Status": group.get("Status", "ACTIVE"),
            "Contacts": [],
        }
        for group in org.table("ContactGroups").values()
        if group.get("Status") == "ACTIVE" and contact_id in group.get("Contacts", [])
    ]


def contact_reference(org: Organisation, data: Any, errors: list[str]) -> dict[str, Any] | None:
    """Resolve a document's ``Contact`` (by ContactID, ContactNumber or Name) in this org.

    Xero creates a contact on the fly when a document names one it doesn't know by
    Name only; an unknown ContactID is an error.
    """
    if not isinstance(data, dict):
        errors.append(_CONTACT_MISSING)
        return None
    contact_id = get_field(data, "ContactID")
    if contact_id:
        found = org.get("Contacts", str(contact_id))
        if found is None:
            errors.append(f"The contact with ContactID '{contact_id}' could not be found.")
        return found
    number = get_field(data, "ContactNumber")
    if number:
        for record in org.table("Contacts").values():
            if str(record.get("ContactNumber") or "").lower() == str(number).lower():
                return record
        errors.append(f"The contact with ContactNumber '{number}' could not be found.")
        return None
    name = get_field(data, "Name")
    if isinstance(name, str) and name.strip():
        for record in org.table("Contacts").values():
            if (
                record["Name"].lower() == name.strip().lower()
                and record["ContactStatus"] == "ACTIVE"
            ):
                return record
        return {"_new_name": name.strip()}
    errors.append(_CONTACT_MISSING)
    return None


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """The contact as documents embed it."""
    keys = ("ContactID", "ContactNumber", "Name", "FirstName", "LastName", "EmailAddress")
    out = {k: record[k] for k in keys if record.get(k) is not None}
    out["ContactStatus"] = record.get("ContactStatus", "ACTIVE")
    out["HasValidationErrors"] = False
    return to_wire(out)


def materialise_contact(ctx: WriteContext, reference: dict[str, Any]) -> dict[str, Any]:
    """Return the referenced contact, creating it when the document named a new one."""
    if "_new_name" not in reference:
        return reference
    rules = ContactRules()
    record = rules.create(ctx, {"Name": reference["_new_name"]})
    record["ContactID"] = new_id()
    record["UpdatedDateUTC"] = ctx.now
    ctx.org.put("Contacts", record["ContactID"], record)
    return record


def mark_role(ctx: WriteContext, contact: dict[str, Any], *, supplier: bool) -> None:
    """Xero flags a contact as customer or supplier once a document of that side names it."""
    flag = "IsSupplier" if supplier else "IsCustomer"
    current = ctx.org.get("Contacts", contact["ContactID"])
    if current is not None and not current.get(flag):
        updated = clone(current)
        updated[flag] = True
        ctx.org.put("Contacts", updated["ContactID"], updated)


def generate_contact(ctx: WriteContext, n: int) -> dict[str, Any]:
    """A valid contact for bulk generation (benchmarks)."""
    return {
        "ContactID": new_id(),
        "ContactNumber": f"GEN-{n:06d}",
        "Name": f"Generated Contact {n:06d}",
        "FirstName": "Gen",
        "LastName": f"{n:06d}",
        "EmailAddress": f"contact{n:06d}@example.com",
        "ContactStatus": "ACTIVE",
        "IsSupplier": False,
        "IsCustomer": True,
        "Addresses": [],
        "Phones": [],
        "ContactPersons": [],
        "HasAttachments": False,
        "HasValidationErrors": False,
    }


def first_or_generated_contact(ctx: WriteContext, n: int) -> dict[str, Any]:
    """Any stored contact, or a generated one stored now (bulk generation of documents)."""
    contact = next(iter(ctx.org.table("Contacts").values()), None)
    if contact is None:
        contact = generate_contact(ctx, n)
        contact["UpdatedDateUTC"] = ctx.now
        ctx.org.put("Contacts", contact["ContactID"], contact)
    return contact
