"""Purchase orders: non-ledger orders to suppliers, numbered PO-0001 and up.

Rules emulated (Xero's developer docs and spec v16.1.0; the transition table itself is
not published, so it follows the product's approval flow):

* Contact must be an existing contact (by ContactID, ContactNumber or Name): unlike
  bills, purchase orders never create one. At least one line item is required.
* Statuses DRAFT, SUBMITTED (awaiting approval), AUTHORISED (approved), BILLED, DELETED.
  A purchase order can be created DRAFT, SUBMITTED or AUTHORISED. Transitions:
  DRAFT -> SUBMITTED/AUTHORISED/DELETED, SUBMITTED -> DRAFT/AUTHORISED/DELETED,
  AUTHORISED -> BILLED/DELETED; BILLED and DELETED are final.
* Fields can be edited while DRAFT, SUBMITTED or AUTHORISED (Xero lets approved
  orders be edited); a BILLED order only takes ``SentToContact``. Omitted fields keep
  their values.
* ``SentToContact`` can be set only on approved or billed orders (spec wording).
* Lists take ``Status``, ``DateFrom``/``DateTo`` and paging, but no ``where``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    add_date_strings,
    clone,
    date_field,
    normalise_keys,
    to_wire,
)
from xero_sandbox.accounting.documents import generated_lines, line_amount_types
from xero_sandbox.accounting.lifecycle import PURCHASE_ORDER
from xero_sandbox.accounting.quotes import (
    currency_code,
    date_filters,
    document_lines,
    document_texts,
    existing_contact,
    finish_document,
    generated_draft,
    given_number,
    next_free_number,
    render_contact,
)
from xero_sandbox.errors import ValidationException
from xero_sandbox.organisation import Organisation, new_id

EDITABLE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
SENT_STATUSES = ("AUTHORISED", "BILLED")
# Only DeliveryInstructions has a documented limit (spec: "500 characters max").
TEXT_LIMITS: dict[str, int | None] = {
    "Reference": None,
    "DeliveryAddress": None,
    "AttentionTo": None,
    "Telephone": None,
    "DeliveryInstructions": 500,
}
DATE_FIELDS = ("Date", "DeliveryDate", "ExpectedArrivalDate")
_NUMBERING = (
    "PurchaseOrders",
    "PurchaseOrderNumber",
    "purchase order",
)  # resource, number field, noun: given_number
_FIELDS = [
    "PurchaseOrderID",
    "PurchaseOrderNumber",
    "Contact",
    "LineItems",
    "Date",
    "DeliveryDate",
    "ExpectedArrivalDate",
    "LineAmountTypes",
    "Reference",
    "BrandingThemeID",
    "CurrencyCode",
    "CurrencyRate",
    "Status",
    "SentToContact",
    "DeliveryAddress",
    "AttentionTo",
    "Telephone",
    "DeliveryInstructions",
]
# Keys that count as an edit (everything but identity, Status and SentToContact).
_EDIT_KEYS = [
    k
    for k in _FIELDS
    if k not in ("PurchaseOrderID", "PurchaseOrderNumber", "Status", "SentToContact")
]


class PurchaseOrderRules(ResourceRules):
    """Purchase orders (``/PurchaseOrders``), also readable by PurchaseOrderNumber."""

    error_flag = "HasErrors"

    name = "PurchaseOrders"
    id_field = "PurchaseOrderID"
    number_field = "PurchaseOrderNumber"
    scope = "transactions"
    granular_scope = "accounting.invoices"
    paging = "full"
    supports_where = False
    list_filters = {"Status": "Status"}

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, _FIELDS)
        org = ctx.org
        errors: list[str] = []
        contact = existing_contact(
            org, data.get("Contact"), errors, require_id=False, document="purchase order"
        )
        status = PURCHASE_ORDER.initial(data.get("Status"), errors)
        if not data.get("LineItems"):
            errors.append(
                "LineItems must be specified: a purchase order needs at least one line item."
            )
        amount_types = line_amount_types(data.get("LineAmountTypes"), errors)
        lines = document_lines(org, data.get("LineItems"), errors, sales=False)
        dates = {k: date_field(data.get(k), k, errors) for k in DATE_FIELDS}
        texts = document_texts(data, TEXT_LIMITS, errors)
        currency = currency_code(org, data.get("CurrencyCode"), errors)
        sent = self._sent_to_contact(data, status, errors)
        number = given_number(org, _NUMBERING, data, errors)
        if errors:
            raise ValidationException(errors, data)
        record: dict[str, Any] = {
            "PurchaseOrderID": new_id(),
            "PurchaseOrderNumber": number
            or next_free_number(org, "PurchaseOrders", "PurchaseOrderNumber", "PO-"),
            "Contact": {"ContactID": contact["ContactID"]},
            "Date": dates["Date"] or ctx.now.date(),
            "Status": status,
            "CurrencyCode": currency,
            "CurrencyRate": Decimal("1"),
            "SentToContact": bool(sent),
            "HasAttachments": False,
            **texts,
        }
        for key in ("DeliveryDate", "ExpectedArrivalDate"):
            if dates[key]:
                record[key] = dates[key]
        return finish_document(org, record, data, lines, amount_types)

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        data = normalise_keys(data, _FIELDS)
        org = ctx.org
        errors: list[str] = []
        current = record["Status"]
        status = PURCHASE_ORDER.target(current, data.get("Status"), errors)
        edits = [k for k in _EDIT_KEYS if k in data]
        if edits and current not in EDITABLE_STATUSES:
            errors.append(
                f"A purchase order with the status {current} cannot be edited ({', '.join(edits)})."
            )
        contact = None
        if "Contact" in data:
            contact = existing_contact(
                org, data["Contact"], errors, require_id=False, document="purchase order"
            )
        amount_types = line_amount_types(
            data.get("LineAmountTypes"), errors, record["LineAmountTypes"]
        )
        lines = None
        if "LineItems" in data:
            if not data["LineItems"]:
                errors.append(
                    "LineItems must be specified: a purchase order needs at least one line item."
                )
            lines = document_lines(org, data["LineItems"], errors, sales=False)
        dates = {k: date_field(data.get(k), k, errors) for k in DATE_FIELDS if k in data}
        texts = document_texts(data, TEXT_LIMITS, errors)
        currency = currency_code(org, data.get("CurrencyCode"), errors, record["CurrencyCode"])
        sent = self._sent_to_contact(data, status, errors)
        number = given_number(org, _NUMBERING, data, errors, record)
        if errors:
            raise ValidationException(errors, data)
        updated = clone(record)
        updated["Status"] = status
        updated["CurrencyCode"] = currency
        if contact is not None:
            updated["Contact"] = {"ContactID": contact["ContactID"]}
        if number is not None:
            updated["PurchaseOrderNumber"] = number
        for key, value in dates.items():
            if value is not None:
                updated[key] = value
            elif key != "Date":
                updated.pop(key, None)
        updated.update(texts)
        if sent is not None:
            updated["SentToContact"] = sent
        return finish_document(org, updated, data, lines, amount_types)

    @staticmethod
    def _sent_to_contact(data: dict[str, Any], status: str, errors: list[str]) -> bool | None:
        value = data.get("SentToContact")
        if value is None:
            return None
        if not isinstance(value, bool):
            errors.append("SentToContact must be true or false.")
            return None
        if value and status not in SENT_STATUSES:
            errors.append(
                "SentToContact can only be set on purchase orders that have been approved "
                "(AUTHORISED) or billed (BILLED)."
            )
        return value

    def filter_list(self, records: list[dict[str, Any]], query: dict[str, str]) -> list:
        """``DateFrom``/``DateTo`` (inclusive) on the order date."""
        return date_filters(
            records, query, {"DateFrom": ("Date", "from"), "DateTo": ("Date", "to")}
        )

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        rendered = to_wire(record)
        rendered["Type"] = "PURCHASEORDER"
        rendered["Contact"] = render_contact(org, record.get("Contact"))
        rendered["IsDiscounted"] = any(
            line.get("DiscountRate") for line in record.get("LineItems", [])
        )
        rendered["HasErrors"] = False
        add_date_strings(rendered, record, *DATE_FIELDS)
        return rendered

    def history_label(self, record: dict[str, Any]) -> str:
        return "PurchaseOrder"

    @staticmethod
    def generate(ctx: WriteContext, n: int) -> dict[str, Any]:
        """A valid DRAFT purchase order for bulk seeding (benchmarks); no validation."""
        return {
            **generated_draft(ctx, "PurchaseOrderID", "PurchaseOrderNumber", f"PO-G{n:06d}"),
            "SentToContact": False,
            "HasAttachments": False,
            **generated_lines(Decimal(50 + n % 450), "Generated order line", "300", "INPUT2"),
            "TotalDiscount": Decimal("0"),
        }


RESOURCE_RULES: list[type[ResourceRules]] = [PurchaseOrderRules]
