"""Line items and totals shared by invoices, credit notes, quotes, purchase orders and
bank transactions: Xero computes every amount from the lines, except a line's TaxAmount,
which a client may override (spec, LineItem.TaxAmount: "This value can be overriden if the
calculated <TaxAmount> is not correct").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from xero_sandbox.accounting.base import (
    get_field,
    money,
    normalise_keys,
    round_money,
)
from xero_sandbox.organisation import Organisation, new_id

LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
_LINE_FIELDS = [
    "LineItemID",
    "Description",
    "Quantity",
    "UnitAmount",
    "ItemCode",
    "AccountCode",
    "AccountID",
    "TaxType",
    "TaxAmount",
    "LineAmount",
    "DiscountRate",
    "Tracking",
]
ZERO = Decimal("0")
HUNDRED = Decimal("100")
# Decimal places of a line's UnitAmount for the request being served: 2, or 4 when the
# client asked with ``unitdp=4`` (spec: "You can opt in to use four decimal places for
# unit amounts"). Set per request by the HTTP layer with :func:`unit_places`.
UNIT_DP: ContextVar[int] = ContextVar("unit_dp", default=2)


@contextmanager
def unit_places(places: int) -> Iterator[None]:
    """Serve one request with ``places`` decimal places on unit amounts."""
    token = UNIT_DP.set(places)
    try:
        yield
    finally:
        UNIT_DP.reset(token)


def round_unit(amount: Decimal, places: int | None = None) -> Decimal:
    """A unit amount at the request's decimal places, rounding half away from zero."""
    exponent = Decimal(1).scaleb(-(places if places is not None else UNIT_DP.get()))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def line_amount_types(value: Any, errors: list[str], default: str = "Exclusive") -> str:
    """``LineAmountTypes`` (case-insensitive), ``default`` when omitted."""
    if value in (None, ""):
        return default
    for allowed in LINE_AMOUNT_TYPES:
        if str(value).lower() == allowed.lower():
            return allowed
    errors.append(
        f"LineAmountTypes '{value}' is not valid. Allowed values: {', '.join(LINE_AMOUNT_TYPES)}."
    )
    return "Exclusive"


def find_account(org: Organisation, code: Any = None, account_id: Any = None) -> dict | None:
    """An account by Code or AccountID (case-insensitive)."""
    if account_id:
        return org.get("Accounts", str(account_id))
    if code in (None, ""):
        return None
    wanted = str(code).strip().lower()
    for account in org.table("Accounts").values():
        if str(account.get("Code") or "").lower() == wanted:
            return account
    return None


def find_tax_rate(org: Organisation, tax_type: Any) -> dict | None:
    wanted = str(tax_type).strip().lower()
    for rate in org.table("TaxRates").values():
        if str(rate.get("TaxType", "")).lower() == wanted:
            return rate
    return None


def find_item(org: Organisation, code: Any) -> dict | None:
    wanted = str(code).strip().lower()
    for item in org.table("Items").values():
        if str(item.get("Code", "")).lower() == wanted:
            return item
    return None


def parse_line_items(
    org: Organisation,
    lines: Any,
    errors: list[str],
    *,
    require_account: bool,
    require_description: bool = True,
    sales: bool = True,
) -> list[dict[str, Any]]:
    """Validate the lines and fill what Xero derives (item defaults, account tax type).

    ``require_account`` is true once a document leaves DRAFT: Xero only insists on a
    valid account code for documents that post to the ledger.
    """
    if lines is None:
        return []
    if not isinstance(lines, list):
        errors.append("LineItems must be a list.")
        return []
    parsed = []
    for index, raw in enumerate(lines, start=1):
        if not isinstance(raw, dict):
            errors.append(f"Line item {index} must be an object.")
            continue
        line = normalise_keys(raw, _LINE_FIELDS)
        out: dict[str, Any] = {"LineItemID": str(line.get("LineItemID") or new_id())}
        item = None
        if line.get("ItemCode"):
            item = find_item(org, line["ItemCode"])
            if item is None:
                errors.append(f"Item code '{line['ItemCode']}' is not valid.")
            else:
                out["ItemCode"] = item["Code"]
        details = (item or {}).get("SalesDetails" if sales else "PurchaseDetails") or {}
        description = line.get("Description") or (item or {}).get("Description")
        if description:
            out["Description"] = str(description)
        elif require_description:
            errors.append(f"Description must be specified on line item {index}.")
        quantity = money(line.get("Quantity"), "Quantity", errors, default=Decimal("1"))
        unit = money(line.get("UnitAmount"), "UnitAmount", errors)
        if unit is None and details.get("UnitPrice") is not None:
            unit = Decimal(str(details["UnitPrice"]))
        discount = money(line.get("DiscountRate"), "DiscountRate", errors)
        account_code = line.get("AccountCode") or details.get("AccountCode")
        account = find_account(org, account_code, line.get("AccountID"))
        if account_code or line.get("AccountID"):
            if account is None or account.get("Status") == "ARCHIVED":
                shown = account_code or line.get("AccountID")
                errors.append(f"Account code '{shown}' is not a valid code for this document.")
        elif require_account:
            errors.append(f"Account code must be specified on line item {index}.")
        if account is not None:
            out["AccountCode"] = account.get("Code")
            out["AccountID"] = account.get("AccountID")
        tax_type = line.get("TaxType") or details.get("TaxType") or (account or {}).get("TaxType")
        rate = ZERO
        if tax_type:
            tax = find_tax_rate(org, tax_type)
            if tax is None or tax.get("Status") != "ACTIVE":
                errors.append(
                    f"The TaxType code '{tax_type}' does not exist or cannot be used with "
                    "this type of transaction."
                )
            else:
                out["TaxType"] = tax["TaxType"]
                rate = Decimal(str(tax.get("EffectiveRate", tax.get("DisplayTaxRate", 0))))
        if discount is not None:
            if not ZERO <= discount <= HUNDRED:
                errors.append(f"DiscountRate on line item {index} must be between 0 and 100.")
            out["DiscountRate"] = discount
        if unit is None:
            given = money(line.get("LineAmount"), "LineAmount", errors)
            unit = given if given is not None else ZERO
            quantity = Decimal("1") if given is not None else quantity
        out["Quantity"] = quantity
        # Stored lines fed back in (a status change) keep their unit amount as stored.
        out["UnitAmount"] = unit if raw.get("_stored") else round_unit(unit)
        out["_rate"] = rate
        tax_override = money(line.get("TaxAmount"), "TaxAmount", errors)
        if tax_override is not None and (not raw.get("_stored") or raw.get("_TaxOverridden")):
            out["_tax"] = round_money(tax_override)
        if line.get("Tracking"):
            out["Tracking"] = line["Tracking"]
        parsed.append(out)
    return parsed


def apply_totals(document: dict[str, Any], lines: list[dict[str, Any]], amount_types: str) -> None:
    """Compute LineAmount and TaxAmount per line, then SubTotal, TotalTax and Total."""
    subtotal = ZERO
    total_tax = ZERO
    for line in lines:
        gross = line["Quantity"] * line["UnitAmount"]
        if line.get("DiscountRate"):
            gross = gross * (HUNDRED - line["DiscountRate"]) / HUNDRED
        amount = round_money(gross)
        rate = line.pop("_rate", ZERO) if amount_types != "NoTax" else ZERO
        line.pop("_rate", None)
        override = line.pop("_tax", None)
        if override is None and line.get("_TaxOverridden"):
            override = line["TaxAmount"]  # a stored override survives a recomputation
        if override is not None and amount_types != "NoTax":
            line["_TaxOverridden"] = True
        if amount_types == "NoTax":
            tax = ZERO
        elif override is not None:
            tax = override
        elif amount_types == "Inclusive":
            tax = round_money(amount - amount / (1 + rate / HUNDRED)) if rate else ZERO
        else:
            tax = round_money(amount * rate / HUNDRED)
        subtotal += amount - tax if amount_types == "Inclusive" else amount
        line["LineAmount"] = amount
        line["TaxAmount"] = tax
        total_tax += tax
    document["LineItems"] = lines
    document["LineAmountTypes"] = amount_types
    document["SubTotal"] = round_money(subtotal)
    document["TotalTax"] = round_money(total_tax)
    document["Total"] = round_money(subtotal + total_tax)


def restore_rates(org: Organisation, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give stored lines back their tax rate so totals can be recomputed after an edit."""
    out = []
    for line in lines:
        copy = dict(line)
        tax = find_tax_rate(org, line["TaxType"]) if line.get("TaxType") else None
        copy["_rate"] = Decimal(str((tax or {}).get("EffectiveRate", 0)))
        out.append(copy)
    return out


def generated_lines(
    amount: Decimal, description: str, account_code: str, tax_type: str
) -> dict[str, Any]:
    """One Exclusive line with 15% tax, and the totals it makes (bulk-generated documents)."""
    tax = round_money(amount * Decimal("0.15"))
    return {
        "LineAmountTypes": "Exclusive",
        "LineItems": [
            {
                "LineItemID": new_id(),
                "Description": description,
                "Quantity": Decimal("1"),
                "UnitAmount": amount,
                "AccountCode": account_code,
                "TaxType": tax_type,
                "LineAmount": amount,
                "TaxAmount": tax,
            }
        ],
        "SubTotal": amount,
        "TotalTax": tax,
        "Total": amount + tax,
    }


def reference_text(data: dict[str, Any], field_name: str, limit: int, errors: list[str]) -> Any:
    value = get_field(data, field_name)
    if value is not None and len(str(value)) > limit:
        errors.append(f"{field_name} must be {limit} characters or less.")
    return value
