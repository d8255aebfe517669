"""Reference data a warehouse sync reads: currencies, tracking categories, contact groups,
branding themes and users.

Rules emulated (spec v16.1.0 and Xero's docs):

* Currencies (``/Currencies``): GET (where, order) and PUT to add one by ISO ``Code``; no
  ID field, no history, no paging, no If-Modified-Since (the spec lists none of them).
* TrackingCategories: ``Name`` (<= 100) required and unique; at most two ACTIVE
  categories (Xero: "You can only have 2 active tracking categories"); options are added
  with ``PUT /TrackingCategories/{id}/Options`` (``Name`` <= 100, unique in the
  category); ``DELETE /TrackingCategories/{id}`` deletes it; ``includeArchived``.
* ContactGroups: ``Name`` required, unique among ACTIVE groups; Status ACTIVE/DELETED;
  ``PUT /ContactGroups/{id}/Contacts`` adds contacts, ``DELETE .../Contacts`` removes all,
  ``DELETE .../Contacts/{ContactID}`` one.
* BrandingThemes and Users are read-only (seeded with each organisation); Users take
  If-Modified-Since and ``where``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from xero_sandbox.accounting import service
from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    clone,
    enum_field,
    get_field,
    normalise_keys,
    to_wire,
)
from xero_sandbox.errors import NotFound, ValidationException
from xero_sandbox.organisation import Organisation, new_id

# ISO 4217 names for the currencies an organisation can add (a useful subset).
CURRENCY_NAMES = {
    "AUD": "Australian Dollar",
    "CAD": "Canadian Dollar",
    "CHF": "Swiss Franc",
    "CNY": "Chinese Yuan",
    "DKK": "Danish Krone",
    "EUR": "Euro",
    "FJD": "Fiji Dollar",
    "GBP": "British Pound",
    "HKD": "Hong Kong Dollar",
    "INR": "Indian Rupee",
    "JPY": "Japanese Yen",
    "NOK": "Norwegian Krone",
    "NZD": "New Zealand Dollar",
    "SEK": "Swedish Krona",
    "SGD": "Singapore Dollar",
    "USD": "United States Dollar",
    "ZAR": "South African Rand",
}
TRACKING_STATUSES = ("ACTIVE", "ARCHIVED", "DELETED")
MAX_ACTIVE_TRACKING = 2


class ReadOnlyRules(ResourceRules):
    """A resource Xero only lets you read (no PUT, POST or history)."""

    supports_put = False
    supports_post = False
    supports_history = False
    scope = "settings"
    granular_scope = "accounting.settings"
    paging = "none"


class CurrencyRules(ResourceRules):
    """``/Currencies``: keyed by ISO code; PUT adds one."""

    name = "Currencies"
    id_field = "Code"
    scope = "settings"
    granular_scope = "accounting.settings"
    paging = "none"
    supports_post = False
    supports_history = False
    updated_field = None

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        code = str(get_field(data, "Code") or "").strip().upper()
        if not code:
            raise ValidationException(["Code must be specified."], data)
        if code not in CURRENCY_NAMES:
            raise ValidationException([f"The currency code '{code}' is not valid."], data)
        if ctx.org.get(self.name, code) is not None:
            raise ValidationException([f"The currency {code} has already been added."], data)
        return {"Code": code, "Description": CURRENCY_NAMES[code]}

    def find_existing(self, org: Organisation, data: dict[str, Any]) -> dict[str, Any] | None:
        return None  # PUT only: an existing code is a validation error, not an update


class TrackingCategoryRules(ResourceRules):
    """``/TrackingCategories`` with their options."""

    name = "TrackingCategories"
    id_field = "TrackingCategoryID"
    scope = "settings"
    granular_scope = "accounting.settings"
    paging = "none"
    supports_history = False
    updated_field = None
    actions: ClassVar[dict[tuple[str, str], str]] = {("PUT", "options"): "add_options"}

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, ["Name", "Status"])
        record = {"TrackingCategoryID": new_id(), "Status": "ACTIVE", "Options": []}
        return self._apply(ctx.org, record, data)

    def update(self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]):
        data = normalise_keys(data, ["Name", "Status"])
        return self._apply(ctx.org, clone(record), data)

    def _apply(self, org: Organisation, record: dict, data: dict) -> dict[str, Any]:
        errors: list[str] = []
        name = data.get("Name", record.get("Name"))
        if not isinstance(name, str) or not name.strip():
            errors.append("Name must be specified.")
        elif len(name) > 100:
            errors.append("Name must be 100 characters or less.")
        status = enum_field(data.get("Status"), "Status", TRACKING_STATUSES[:2], errors)
        status = status or record["Status"]
        others = [
            c
            for c in org.table(self.name).values()
            if c["TrackingCategoryID"] != record["TrackingCategoryID"]
        ]
        if isinstance(name, str) and any(
            c["Name"].lower() == name.strip().lower() and c["Status"] != "DELETED" for c in others
        ):
            errors.append(f"The tracking category name {name} is already in use.")
        if status == "ACTIVE" and sum(c["Status"] == "ACTIVE" for c in others) >= (
            MAX_ACTIVE_TRACKING
        ):
            errors.append("You can only have 2 active tracking categories.")
        if errors:
            raise ValidationException(errors, data)
        record["Name"] = name.strip()
        record["Status"] = status
        return record

    def is_archived(self, record: dict[str, Any]) -> bool:
        return record["Status"] != "ACTIVE"

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        out["Options"] = [
            {**option, "TrackingCategoryID": record["TrackingCategoryID"]}
            for option in out.get("Options", [])
            if option.get("Status") != "DELETED"
        ]
        return out

    def delete(self, ctx: WriteContext, record: dict[str, Any]) -> service.Result:
        """``DELETE /TrackingCategories/{id}``: gone from lists; answers the deleted one."""
        with ctx.org.lock:
            deleted = clone(record)
            deleted["Status"] = "DELETED"
            ctx.org.put(self.name, record["TrackingCategoryID"], deleted)
        return service.Listing(self.name, [self.render(ctx.org, deleted)])

    def add_options(
        self,
        ctx: WriteContext,
        record: dict[str, Any],
        body: Any,
        extra_segments: list[str],
        query: dict[str, str],
    ) -> service.Result:
        """``PUT /TrackingCategories/{id}/Options``: add options (Name <= 100, unique)."""
        if extra_segments:
            raise NotFound()
        elements = service.elements_of("Options", body)
        org = ctx.org
        with org.lock, org.transaction():
            current = clone(org.get(self.name, record["TrackingCategoryID"]) or record)
            added = []
            for element in elements:
                name = get_field(element, "Name")
                errors = []
                if not isinstance(name, str) or not name.strip():
                    errors.append("Name must be specified.")
                elif len(name) > 100:
                    errors.append("Name must be 100 characters or less.")
                elif any(
                    o["Name"].lower() == name.strip().lower() and o["Status"] != "DELETED"
                    for o in current["Options"]
                ):
                    errors.append(f"The tracking option name {name} is already in use.")
                if errors:
                    raise ValidationException(errors, element)
                option = {"TrackingOptionID": new_id(), "Name": name.strip(), "Status": "ACTIVE"}
                current["Options"].append(option)
                added.append({**option, "TrackingCategoryID": current["TrackingCategoryID"]})
            org.put(self.name, current["TrackingCategoryID"], current)
        return service.Listing("Options", added)


class ContactGroupRules(ResourceRules):
    """``/ContactGroups`` and their members."""

    name = "ContactGroups"
    id_field = "ContactGroupID"
    scope = "contacts"
    granular_scope = "accounting.contacts"
    paging = "none"
    supports_history = False
    updated_field = None
    actions: ClassVar[dict[tuple[str, str], str]] = {
        ("PUT", "contacts"): "add_contacts",
        ("DELETE", "contacts"): "remove_contacts",
    }

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        record = {"ContactGroupID": new_id(), "Status": "ACTIVE", "Contacts": []}
        return self._apply(ctx.org, record, normalise_keys(data, ["Name", "Status"]))

    def update(self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]):
        return self._apply(ctx.org, clone(record), normalise_keys(data, ["Name", "Status"]))

    def _apply(self, org: Organisation, record: dict, data: dict) -> dict[str, Any]:
        errors: list[str] = []
        name = data.get("Name", record.get("Name"))
        status = enum_field(data.get("Status"), "Status", ("ACTIVE", "DELETED"), errors)
        status = status or record["Status"]
        if not isinstance(name, str) or not name.strip():
            errors.append("Name must be specified.")
        elif len(name) > 255:
            errors.append("Name must be 255 characters or less.")
        elif status == "ACTIVE" and any(
            g["ContactGroupID"] != record["ContactGroupID"]
            and g["Status"] == "ACTIVE"
            and g["Name"].lower() == name.strip().lower()
            for g in org.table(self.name).values()
        ):
            errors.append(f"The contact group name {name} is already in use.")
        if errors:
            raise ValidationException(errors, data)
        record["Name"] = name.strip()
        record["Status"] = status
        return record

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        out = to_wire(record)
        out["Contacts"] = [
            {"ContactID": c["ContactID"], "Name": c.get("Name", "")}
            for c in (org.get("Contacts", cid) for cid in record.get("Contacts", []))
            if c is not None
        ]
        return out

    def add_contacts(
        self,
        ctx: WriteContext,
        record: dict[str, Any],
        body: Any,
        extra_segments: list[str],
        query: dict[str, str],
    ) -> service.Result:
        """``PUT /ContactGroups/{id}/Contacts``: add existing contacts by ContactID."""
        if extra_segments:
            raise NotFound()
        elements = service.elements_of("Contacts", body)
        org = ctx.org
        with org.lock, org.transaction():
            current = clone(org.get(self.name, record["ContactGroupID"]) or record)
            if current["Status"] != "ACTIVE":
                raise ValidationException(["Contacts cannot be added to a deleted group."], {})
            added = []
            for element in elements:
                contact_id = str(get_field(element, "ContactID") or "")
                contact = org.get("Contacts", contact_id) if contact_id else None
                if contact is None:
                    raise ValidationException(
                        [f"The contact with ContactID '{contact_id}' could not be found."],
                        element,
                    )
                if contact["ContactID"] not in current["Contacts"]:
                    current["Contacts"].append(contact["ContactID"])
                added.append({"ContactID": contact["ContactID"], "Name": contact["Name"]})
            org.put(self.name, current["ContactGroupID"], current)
        return service.Listing("Contacts", added)

    def remove_contacts(
        self,
        ctx: WriteContext,
        record: dict[str, Any],
        body: Any,
        extra_segments: list[str],
        query: dict[str, str],
    ) -> service.Result:
        """``DELETE .../Contacts`` (all) or ``.../Contacts/{ContactID}`` (one): 204."""
        if len(extra_segments) > 1:
            raise NotFound()
        org = ctx.org
        with org.lock, org.transaction():
            current = clone(org.get(self.name, record["ContactGroupID"]) or record)
            if extra_segments:
                wanted = extra_segments[0].lower()
                if wanted not in [c.lower() for c in current["Contacts"]]:
                    raise NotFound()
                current["Contacts"] = [c for c in current["Contacts"] if c.lower() != wanted]
            else:
                current["Contacts"] = []
            org.put(self.name, current["ContactGroupID"], current)
        return service.NoContent()


class BrandingThemeRules(ReadOnlyRules):
    name = "BrandingThemes"
    id_field = "BrandingThemeID"
    updated_field = None


class UserRules(ReadOnlyRules):
    name = "Users"
    id_field = "UserID"


def seed_reference(org: Organisation, now: Any) -> None:
    """The base currency, a standard branding theme and two users for a new organisation."""
    code = org.base_currency.upper()
    org.put("Currencies", code, {"Code": code, "Description": CURRENCY_NAMES.get(code, code)})
    theme_id = new_id()
    org.put(
        "BrandingThemes",
        theme_id,
        {
            "BrandingThemeID": theme_id,
            "Name": "Standard",
            "Type": "INVOICE",
            "SortOrder": 0,
            "CreatedDateUTC": now,
        },
    )
    for first, last, email, role, subscriber in (
        ("Sandbox", "User", "sandbox-user@example.com", "FINANCIALADVISER", True),
        ("Avery", "Accountant", "avery@example.com", "STANDARD", False),
    ):
        user_id = new_id()
        org.put(
            "Users",
            user_id,
            {
                "UserID": user_id,
                "EmailAddress": email,
                "FirstName": first,
                "LastName": last,
                "UpdatedDateUTC": now,
                "IsSubscriber": subscriber,
                "OrganisationRole": role,
            },
        )


RESOURCE_RULES = [
    CurrencyRules,
    TrackingCategoryRules,
    ContactGroupRules,
    BrandingThemeRules,
    UserRules,
]
