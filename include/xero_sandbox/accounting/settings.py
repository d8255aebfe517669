"""Settings resources: the chart of accounts, tax rates, items and the organisation itself.

Rules emulated (Xero's developer docs and spec v16.1.0 examples):

* Accounts: PUT creates (Type, Name <= 150 and, except for BANK accounts, Code <= 10 are
  required; BANK accounts need BankAccountNumber); Code and Name are unique ("Please
  enter a unique Name." is Xero's wording, from the spec). POST /Accounts/{id} updates;
  the Type cannot move to or from BANK; Status ACTIVE/ARCHIVED. ``delete()`` answers
  ``DELETE /Accounts/{id}``: refused while anything uses the account, otherwise the
  account comes back with Status DELETED and drops out of lists. No history.
* TaxRates have no ID: they are keyed by ``TaxType``. PUT creates one from ``Name`` and
  ``TaxComponents`` and assigns the next ``TAX001``-style TaxType; POST updates one named
  by TaxType or Name (the spec's example deletes by Name). The system rates seeded with
  every organisation cannot be changed. ``GET /TaxRates/{TaxType}`` works by key.
* Items: Code (<= 30, unique) is the only required field (spec); Name <= 50, texts <=
  4000; sales/purchase details name valid accounts and tax types; IsSold/IsPurchased
  default true and, when false, clear the matching description and details (spec).
  Tracked items need an INVENTORY account and a COGS account. GET and POST by ItemID or
  Code. ``delete()`` answers ``DELETE /Items/{id}`` with 204.
* Organisation (``/Organisation``, collection ``Organisations``) is rendered from the
  tenant; writes answer 501 Not Implemented, as Xero does for POST Organisation.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, ClassVar

from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    clone,
    enum_field,
    get_field,
    money,
    normalise_keys,
    to_wire,
)
from xero_sandbox.accounting.documents import find_account, find_tax_rate
from xero_sandbox.accounting.quotes import currency_code
from xero_sandbox.accounting.service import Listing, NoContent, Result
from xero_sandbox.errors import SandboxError, ValidationException
from xero_sandbox.organisation import Organisation, new_id

# --- accounts ----------------------------------------------------------------------------

ACCOUNT_TYPES = (
    "BANK",
    "CURRENT",
    "CURRLIAB",
    "DEPRECIATN",
    "DIRECTCOSTS",
    "EQUITY",
    "EXPENSE",
    "FIXED",
    "INVENTORY",
    "LIABILITY",
    "NONCURRENT",
    "OTHERINCOME",
    "OVERHEADS",
    "PREPAYMENT",
    "REVENUE",
    "SALES",
    "TERMLIAB",
    "PAYG",
)
ACCOUNT_CLASS = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "PAYG": "LIABILITY",
    "DEPRECIATN": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "EQUITY": "EQUITY",
    "OTHERINCOME": "REVENUE",
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
}
REPORTING = {
    "ASSET": ("ASS", "Assets"),
    "EXPENSE": ("EXP", "Expense"),
    "LIABILITY": ("LIA", "Liabilities"),
    "EQUITY": ("EQU", "Equity"),
    "REVENUE": ("REV", "Revenue"),
}
BANK_ACCOUNT_TYPES = ("BANK", "CREDITCARD", "PAYPAL")
ACCOUNT_STATUSES = ("ACTIVE", "ARCHIVED")
_ACCOUNT_FIELDS = [
    "AccountID",
    "Code",
    "Name",
    "Type",
    "BankAccountNumber",
    "Status",
    "Description",
    "BankAccountType",
    "CurrencyCode",
    "TaxType",
    "EnablePaymentsToAccount",
    "ShowInExpenseClaims",
    "AddToWatchlist",
    "ReportingCode",
]
_ACCOUNT_FLAGS = ("EnablePaymentsToAccount", "ShowInExpenseClaims", "AddToWatchlist")
# Keys that hold an account's ID or code inside other records (what "in use" looks for).
_ID_KEYS = frozenset({"accountid"})
_CODE_KEYS = frozenset({"accountcode", "cogsaccountcode", "inventoryassetaccountcode"})


class AccountRules(ResourceRules):
    """The chart of accounts (``/Accounts``)."""

    name = "Accounts"
    id_field = "AccountID"
    scope = "settings"
    granular_scope = "accounting.settings"
    paging = "none"
    supports_history = False

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, _ACCOUNT_FIELDS)
        errors: list[str] = []
        type_ = enum_field(data.get("Type"), "Type", ACCOUNT_TYPES, errors)
        if data.get("Type") in (None, ""):
            errors.append("Type must be specified for an account.")
        status = enum_field(data.get("Status"), "Status", ACCOUNT_STATUSES, errors)
        if status == "ARCHIVED":
            errors.append("An account is created ACTIVE; archive it with an update.")
        record: dict[str, Any] = {
            "AccountID": new_id(),
            "Status": "ACTIVE",
            "Type": type_,
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": False,
            "HasAttachments": False,
        }
        self._apply(ctx.org, record, data, errors, creating=True)
        if errors:
            raise ValidationException(errors, data)
        return record

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        data = normalise_keys(data, _ACCOUNT_FIELDS)
        errors: list[str] = []
        if record["Status"] == "DELETED":
            raise ValidationException(["This account has been deleted."], data)
        updated = clone(record)
        if data.get("Type") not in (None, ""):
            type_ = enum_field(data["Type"], "Type", ACCOUNT_TYPES, errors)
            if type_ and type_ != record["Type"] and "BANK" in (type_, record["Type"]):
                errors.append("An account cannot be changed to or from the BANK type.")
            elif type_:
                updated["Type"] = type_
        if data.get("Status") not in (None, ""):
            if str(data["Status"]).upper() == "DELETED":
                errors.append("Accounts are deleted with DELETE /Accounts/{AccountID}.")
            else:
                status = enum_field(data["Status"], "Status", ACCOUNT_STATUSES, errors)
                updated["Status"] = status or updated["Status"]
        self._apply(ctx.org, updated, data, errors, creating=False)
        if errors:
            raise ValidationException(errors, data)
        return updated

    @staticmethod
    def _apply(
        org: Organisation,
        record: dict[str, Any],
        data: dict[str, Any],
        errors: list[str],
        *,
        creating: bool,
    ) -> None:
        """Validate and copy the editable fields; derive Class and the reporting code."""
        bank = record.get("Type") == "BANK"
        name = data.get("Name", record.get("Name"))
        if name in (None, "") or not str(name).strip():
            errors.append("Name must be specified for an account.")
        elif len(str(name)) > 150:
            errors.append("Name must be 150 characters or less.")
        elif _account_with(org, "Name", str(name), record["AccountID"]):
            errors.append("Please enter a unique Name.")
        code = data.get("Code", record.get("Code"))
        if code in (None, ""):
            if not bank:
                errors.append("Code must be specified for an account that is not a bank account.")
        elif len(str(code)) > 10:
            errors.append("Code must be 10 characters or less.")
        elif _account_with(org, "Code", str(code), record["AccountID"]):
            errors.append("Please enter a unique Code.")
        if bank:
            number = data.get("BankAccountNumber", record.get("BankAccountNumber"))
            if number in (None, ""):
                errors.append("BankAccountNumber must be specified for a BANK account.")
            if data.get("Description"):
                errors.append("Description is not valid for bank accounts.")
            kind = enum_field(
                data.get("BankAccountType") or record.get("BankAccountType") or "BANK",
                "BankAccountType",
                BANK_ACCOUNT_TYPES,
                errors,
            )
            currency = currency_code(
                org, data.get("CurrencyCode") or record.get("CurrencyCode"), errors
            )
        elif data.get("BankAccountNumber") or data.get("BankAccountType"):
            errors.append("BankAccountNumber and BankAccountType are only valid for BANK accounts.")
        tax_type = data.get("TaxType")
        if tax_type not in (None, ""):
            rate = find_tax_rate(org, tax_type)
            if rate is None or rate.get("Status") != "ACTIVE":
                errors.append(f"The TaxType code '{tax_type}' does not exist or cannot be used.")
            else:
                tax_type = rate["TaxType"]
        for flag in _ACCOUNT_FLAGS:
            if flag in data and not isinstance(data[flag], bool):
                errors.append(f"{flag} must be true or false.")
        if data.get("Description") is not None and len(str(data["Description"])) > 4000:
            errors.append("Description must be 4000 characters or less.")
        if errors or record.get("Type") is None:
            return
        record["Name"] = str(name).strip()
        if code not in (None, ""):
            record["Code"] = str(code).strip()
        if bank:
            record["BankAccountNumber"] = str(number)
            record["BankAccountType"] = kind
            record["CurrencyCode"] = currency
        elif data.get("Description") is not None:
            record["Description"] = str(data["Description"])
        if tax_type not in (None, ""):
            record["TaxType"] = tax_type
        elif creating:
            record["TaxType"] = _default_tax_type(org, record["Type"])
        for flag in _ACCOUNT_FLAGS:
            if isinstance(data.get(flag), bool):
                record[flag] = data[flag]
        account_class = ACCOUNT_CLASS[record["Type"]]
        record["Class"] = account_class
        code_name = REPORTING[account_class]
        if data.get("ReportingCode"):
            record["ReportingCode"] = str(data["ReportingCode"])
        elif creating or not record.get("ReportingCode"):
            record["ReportingCode"] = code_name[0]
        record["ReportingCodeName"] = code_name[1]

    def is_archived(self, record: dict[str, Any]) -> bool:
        return record.get("Status") == "DELETED"  # archived accounts are still listed

    def delete(self, ctx: WriteContext, record: dict[str, Any]) -> Result:
        """``DELETE /Accounts/{id}``: only an unused account; it comes back DELETED."""
        org = ctx.org
        with org.lock:
            if record["Status"] == "DELETED":
                raise ValidationException(["This account has been deleted."], _echo(record))
            if _account_in_use(org, record):
                raise ValidationException(
                    [
                        "This account cannot be deleted because it has been used in "
                        "transactions or items; archive it instead."
                    ],
                    _echo(record),
                )
            deleted = clone(record)
            deleted["Status"] = "DELETED"
            deleted["UpdatedDateUTC"] = ctx.now
            org.put(self.name, deleted["AccountID"], deleted)
        return Listing(self.name, [self.render(org, deleted)])

    @staticmethod
    def generate(ctx: WriteContext, n: int) -> dict[str, Any]:
        """An EXPENSE account with a unique code, for bulk seeding (benchmarks)."""
        return {
            "AccountID": new_id(),
            "Code": f"G{n:06d}",
            "Name": f"Generated expense {n:06d}",
            "Type": "EXPENSE",
            "TaxType": "INPUT2",
            "Status": "ACTIVE",
            "Class": "EXPENSE",
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": False,
            "ReportingCode": "EXP",
            "ReportingCodeName": "Expense",
            "HasAttachments": False,
        }


def _account_with(org: Organisation, field_name: str, value: str, own_id: str) -> bool:
    wanted = value.strip().lower()
    for other in org.table("Accounts").values():
        if other["AccountID"].lower() == own_id.lower() or other.get("Status") == "DELETED":
            continue
        theirs = other.get(field_name)
        if isinstance(theirs, str) and theirs.strip().lower() == wanted:
            return True
    return False


def _default_tax_type(org: Organisation, type_: str) -> str:
    """What Xero preselects: the first active sales or purchases rate for the class."""
    account_class = ACCOUNT_CLASS[type_]
    flag = {"REVENUE": "CanApplyToRevenue", "EXPENSE": "CanApplyToExpenses"}.get(account_class)
    if flag:
        for rate in org.table("TaxRates").values():
            zero = Decimal(str(rate.get("EffectiveRate", 0))) == 0
            if rate.get("Status") == "ACTIVE" and rate.get(flag) and not zero:
                return rate["TaxType"]
    return "NONE"


def _account_in_use(org: Organisation, account: dict[str, Any]) -> bool:
    """Whether any record (documents, lines, items, payments) names the account."""
    account_id = account["AccountID"].lower()
    code = str(account.get("Code") or "").lower()

    def walk(value: Any) -> bool:
        if isinstance(value, dict):
            for key, inner in value.items():
                lowered = key.lower()
                if lowered in _ID_KEYS and str(inner).lower() == account_id:
                    return True
                if code and lowered in _CODE_KEYS and str(inner).lower() == code:
                    return True
                if isinstance(inner, (dict, list)) and walk(inner):
                    return True
        elif isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return any(
        walk(record)
        for resource, table in org.tables.items()
        if resource != "Accounts"
        for record in table.values()
    )


def _echo(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in to_wire(record).items() if k in ("AccountID", "ItemID", "Code")}


# --- tax rates ---------------------------------------------------------------------------

TAX_RATE_STATUSES = ("ACTIVE", "DELETED", "ARCHIVED")
# The spec's TaxRate.ReportTaxType enum.
# fmt: off
REPORT_TAX_TYPES = (
    "AVALARA", "BASEXCLUDED", "CAPITALSALESOUTPUT", "CAPITALEXPENSESINPUT", "ECOUTPUT",
    "ECOUTPUTSERVICES", "ECINPUT", "ECACQUISITIONS", "EXEMPTEXPENSES", "EXEMPTINPUT",
    "EXEMPTOUTPUT", "GSTONIMPORTS", "INPUT", "INPUTTAXED", "MOSSSALES", "NONE", "NONEOUTPUT",
    "OUTPUT", "PURCHASESINPUT", "SALESOUTPUT", "EXEMPTCAPITAL", "EXEMPTEXPORT", "CAPITALEXINPUT",
    "GSTONCAPIMPORTS", "GSTONCAPITALIMPORTS", "REVERSECHARGES", "PAYMENTS", "INVOICE", "CASH",
    "ACCRUAL", "FLATRATECASH", "FLATRATEACCRUAL", "ACCRUALS", "TXCA", "SRCAS", "DSOUTPUT",
    "BLINPUT2", "EPINPUT", "IMINPUT2", "MEINPUT", "IGDSINPUT2", "ESN33OUTPUT", "OPINPUT",
    "OSOUTPUT", "TXN33INPUT", "TXESSINPUT", "TXREINPUT", "TXPETINPUT", "NRINPUT", "ES33OUTPUT",
    "ZERORATEDINPUT", "ZERORATEDOUTPUT", "DRCHARGESUPPLY", "DRCHARGE", "CAPINPUT", "CAPIMPORTS",
    "IMINPUT", "INPUT2", "CIUINPUT", "SRINPUT", "OUTPUT2", "SROUTPUT", "CAPOUTPUT", "SROUTPUT2",
    "CIUOUTPUT", "ZROUTPUT", "ZREXPORT", "ACC28PLUS", "ACCUPTO28", "OTHEROUTPUT", "SHOUTPUT",
    "ZRINPUT", "BADDEBT", "OTHERINPUT", "BADDEBTRELIEF", "IGDSINPUT3", "SROVR", "TOURISTREFUND",
    "TXRCN33", "TXRCRE", "TXRCESS", "TXRCTS", "CAPEXINPUT", "UNDEFINED", "CAPEXOUTPUT",
    "ZEROEXPOUTPUT", "GOODSIMPORT", "NONEINPUT", "NOTREPORTED", "SROVRRS", "SROVRLVG", "SRLVG",
    "IM", "IMESS", "IMN33", "IMRE", "BADDEBTRECOVERY", "USSALESTAX", "BLINPUT3",
)
# fmt: on
_CUSTOM_TAX_TYPE = re.compile(r"^TAX\d{3,}$")
_TAX_FIELDS = ["Name", "TaxType", "TaxComponents", "Status", "ReportTaxType"]
_COMPONENT_FIELDS = ["Name", "Rate", "IsCompound", "IsNonRecoverable"]
FOUR_DP = Decimal("0.0001")


class TaxRateRules(ResourceRules):
    """Tax rates (``/TaxRates``), keyed by TaxType: Xero gives them no ID."""

    name = "TaxRates"
    id_field = "TaxType"
    scope = "settings"
    granular_scope = "accounting.settings"
    paging = "none"
    supports_history = False
    updated_field = None  # no UpdatedDateUTC, no If-Modified-Since

    def find_existing(self, org: Organisation, data: dict[str, Any]) -> dict[str, Any] | None:
        """POST names a rate by TaxType or, failing that, by Name (the spec's example)."""
        tax_type = get_field(data, "TaxType")
        if tax_type:
            return org.get(self.name, str(tax_type))
        name = get_field(data, "Name")
        if isinstance(name, str) and name.strip():
            return _rate_named(org, name, None)
        return None

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, _TAX_FIELDS)
        org = ctx.org
        errors: list[str] = []
        name = data.get("Name")
        if not isinstance(name, str) or not name.strip():
            errors.append("Name must be specified for a tax rate.")
        elif _rate_named(org, name, None):
            errors.append(f"A tax rate with the name '{name.strip()}' already exists.")
        components = self._components(data.get("TaxComponents"), errors)
        report = enum_field(data.get("ReportTaxType"), "ReportTaxType", REPORT_TAX_TYPES, errors)
        status = enum_field(data.get("Status"), "Status", TAX_RATE_STATUSES, errors)
        if status not in (None, "ACTIVE"):
            errors.append("A tax rate is created ACTIVE.")
        if errors:
            raise ValidationException(errors, data)
        tax_type = f"TAX{int(org.next_number('TaxRates', '')):03d}"
        while org.get(self.name, tax_type) is not None:
            tax_type = f"TAX{int(org.next_number('TaxRates', '')):03d}"
        record: dict[str, Any] = {"Name": name.strip(), "TaxType": tax_type, "Status": "ACTIVE"}
        if report:
            record["ReportTaxType"] = report
        self._set_components(record, components)
        return record

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        data = normalise_keys(data, _TAX_FIELDS)
        errors: list[str] = []
        if not _CUSTOM_TAX_TYPE.match(record["TaxType"]):
            raise ValidationException(
                [f"The system tax rate '{record['TaxType']}' cannot be changed."], data
            )
        if record["Status"] == "DELETED":
            raise ValidationException(["This tax rate has been deleted."], data)
        updated = clone(record)
        name = data.get("Name")
        if name is not None and get_field(data, "TaxType"):  # renaming needs the TaxType
            if not str(name).strip():
                errors.append("Name must be specified for a tax rate.")
            elif _rate_named(ctx.org, str(name), record["TaxType"]):
                errors.append(f"A tax rate with the name '{str(name).strip()}' already exists.")
            else:
                updated["Name"] = str(name).strip()
        if "TaxComponents" in data:
            self._set_components(updated, self._components(data["TaxComponents"], errors))
        if data.get("ReportTaxType") not in (None, ""):
            updated["ReportTaxType"] = enum_field(
                data["ReportTaxType"], "ReportTaxType", REPORT_TAX_TYPES, errors
            )
        if data.get("Status") not in (None, ""):
            updated["Status"] = (
                enum_field(data["Status"], "Status", TAX_RATE_STATUSES, errors) or record["Status"]
            )
        if errors:
            raise ValidationException(errors, data)
        self._set_components(updated, updated["TaxComponents"])
        return updated

    @staticmethod
    def _components(raw: Any, errors: list[str]) -> list[dict[str, Any]]:
        if not isinstance(raw, list) or not raw:
            errors.append("TaxComponents must be specified: a tax rate needs at least one.")
            return []
        components = []
        for index, item in enumerate(raw, start=1):
            if not isinstance(item, dict):
                errors.append(f"TaxComponent {index} must be an object.")
                continue
            item = normalise_keys(item, _COMPONENT_FIELDS)
            if not isinstance(item.get("Name"), str) or not item["Name"].strip():
                errors.append(f"Name must be specified on TaxComponent {index}.")
            rate = money(item.get("Rate"), f"Rate on TaxComponent {index}", errors)
            if rate is None and item.get("Rate") in (None, ""):
                errors.append(f"Rate must be specified on TaxComponent {index}.")
            elif rate is not None and rate < 0:
                errors.append(f"Rate on TaxComponent {index} cannot be negative.")
            components.append(
                {
                    "Name": str(item.get("Name") or "").strip(),
                    "Rate": (rate or Decimal("0")).quantize(FOUR_DP),
                    "IsCompound": bool(item.get("IsCompound")),
                    "IsNonRecoverable": bool(item.get("IsNonRecoverable")),
                }
            )
        return components

    @staticmethod
    def _set_components(record: dict[str, Any], components: list[dict[str, Any]]) -> None:
        """Store the components and derive the display and effective rates and usage flags."""
        simple = sum(
            (Decimal(str(c["Rate"])) for c in components if not c["IsCompound"]), Decimal("0")
        )
        compound = sum(
            (Decimal(str(c["Rate"])) for c in components if c["IsCompound"]), Decimal("0")
        )
        effective = simple + compound * (1 + simple / 100)
        record["TaxComponents"] = components
        record["DisplayTaxRate"] = float((simple + compound).quantize(FOUR_DP))
        record["EffectiveRate"] = float(effective.quantize(FOUR_DP))
        report = record.get("ReportTaxType", "")
        record["CanApplyToAssets"] = True
        record["CanApplyToEquity"] = True
        record["CanApplyToLiabilities"] = True
        record["CanApplyToRevenue"] = "INPUT" not in report
        record["CanApplyToExpenses"] = "OUTPUT" not in report

    def history_label(self, record: dict[str, Any]) -> str:
        return "TaxRate"

    @staticmethod
    def generate(ctx: WriteContext, n: int) -> dict[str, Any]:
        """A custom single-component rate for bulk seeding (benchmarks)."""
        record: dict[str, Any] = {
            "Name": f"Generated rate {n:06d}",
            "TaxType": f"TAX{100000 + n}",
            "Status": "ACTIVE",
            "ReportTaxType": "OUTPUT",
        }
        rate = Decimal(n % 20)
        components = [
            {"Name": "Generated", "Rate": rate, "IsCompound": False, "IsNonRecoverable": False}
        ]
        TaxRateRules._set_components(record, components)
        return record


def _rate_named(org: Organisation, name: str, own_type: str | None) -> dict[str, Any] | None:
    wanted = name.strip().lower()
    for rate in org.table("TaxRates").values():
        if own_type and rate["TaxType"].lower() == own_type.lower():
            continue
        if rate.get("Status") != "DELETED" and str(rate.get("Name", "")).lower() == wanted:
            return rate
    return None


# --- items -------------------------------------------------------------------------------

_ITEM_FIELDS = [
    "ItemID",
    "Code",
    "Name",
    "IsSold",
    "IsPurchased",
    "Description",
    "PurchaseDescription",
    "PurchaseDetails",
    "SalesDetails",
    "IsTrackedAsInventory",
    "InventoryAssetAccountCode",
]
_DETAIL_FIELDS = ["UnitPrice", "AccountCode", "COGSAccountCode", "TaxType"]
ITEM_TEXT_LIMITS = {"Code": 30, "Name": 50, "Description": 4000, "PurchaseDescription": 4000}


class ItemRules(ResourceRules):
    """Items (``/Items``): unique codes, sales and purchase defaults, tracked inventory."""

    name = "Items"
    id_field = "ItemID"
    number_field = "Code"  # GET /Items/{Code} and POST upsert by Code
    scope = "settings"
    granular_scope = "accounting.invoices"
    paging = "none"

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, _ITEM_FIELDS)
        record: dict[str, Any] = {
            "ItemID": new_id(),
            "IsSold": True,
            "IsPurchased": True,
            "IsTrackedAsInventory": False,
        }
        return self._apply(ctx.org, record, data)

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        data = normalise_keys(data, _ITEM_FIELDS)
        return self._apply(ctx.org, clone(record), data)

    def _apply(self, org: Organisation, record: dict[str, Any], data: dict[str, Any]) -> dict:
        errors: list[str] = []
        code = data.get("Code", record.get("Code"))
        if code in (None, "") or not str(code).strip():
            errors.append("Code must be specified for an item.")
        elif _item_with_code(org, str(code), record["ItemID"]):
            errors.append(f"The item code '{str(code).strip()}' is already in use.")
        for key, limit in ITEM_TEXT_LIMITS.items():
            value = data.get(key)
            if value is not None and len(str(value)) > limit:
                errors.append(f"{key} must be {limit} characters or less.")
        for flag in ("IsSold", "IsPurchased", "IsTrackedAsInventory"):
            if flag in data and not isinstance(data[flag], bool):
                errors.append(f"{flag} must be true or false.")
        sales = self._details(org, data, "SalesDetails", record, errors)
        purchase = self._details(org, data, "PurchaseDetails", record, errors)
        inventory = data.get("InventoryAssetAccountCode", record.get("InventoryAssetAccountCode"))
        if inventory not in (None, ""):
            account = find_account(org, inventory)
            if account is None or account.get("Type") != "INVENTORY":
                errors.append(
                    f"InventoryAssetAccountCode '{inventory}' must be the code of an INVENTORY "
                    "account."
                )
            if not (purchase or {}).get("COGSAccountCode"):
                errors.append(
                    "PurchaseDetails.COGSAccountCode is required to track an item as inventory."
                )
        elif data.get("IsTrackedAsInventory") is True:
            errors.append(
                "An item is tracked as inventory once InventoryAssetAccountCode and "
                "PurchaseDetails.COGSAccountCode are set."
            )
        if errors:
            raise ValidationException(errors, data)
        record["Code"] = str(code).strip()
        for key in ("Name", "Description", "PurchaseDescription"):
            if data.get(key) is not None:
                record[key] = str(data[key])
        for flag in ("IsSold", "IsPurchased"):
            if isinstance(data.get(flag), bool):
                record[flag] = data[flag]
        if sales is not None:
            record["SalesDetails"] = sales
        if purchase is not None:
            record["PurchaseDetails"] = purchase
        if not record["IsSold"]:  # the spec: these are nulled when IsSold becomes false
            record.pop("Description", None)
            record.pop("SalesDetails", None)
        if not record["IsPurchased"]:
            record.pop("PurchaseDescription", None)
            record.pop("PurchaseDetails", None)
        if inventory not in (None, ""):
            record["InventoryAssetAccountCode"] = str(inventory)
            record["IsTrackedAsInventory"] = True
            record.setdefault("QuantityOnHand", Decimal("0"))
            record.setdefault("TotalCostPool", Decimal("0"))
        return record

    @staticmethod
    def _details(
        org: Organisation,
        data: dict[str, Any],
        key: str,
        record: dict[str, Any],
        errors: list[str],
    ) -> dict[str, Any] | None:
        """Merge and check SalesDetails/PurchaseDetails; None when neither exists."""
        given = data.get(key)
        if given is None:
            return record.get(key)
        if not isinstance(given, dict):
            errors.append(f"{key} must be an object.")
            return None
        given = normalise_keys(given, _DETAIL_FIELDS)
        details = dict(record.get(key) or {})
        if "UnitPrice" in given:
            price = money(given["UnitPrice"], f"{key}.UnitPrice", errors)
            if price is not None:
                details["UnitPrice"] = price
        for code_key in ("AccountCode", "COGSAccountCode"):
            code = given.get(code_key)
            if code in (None, ""):
                continue
            if code_key == "COGSAccountCode" and key != "PurchaseDetails":
                errors.append("COGSAccountCode is only valid in PurchaseDetails.")
                continue
            account = find_account(org, code)
            if account is None or account.get("Status") != "ACTIVE":
                errors.append(f"{key}.{code_key} '{code}' is not a valid account code.")
            else:
                details[code_key] = account["Code"]
        if given.get("TaxType") not in (None, ""):
            rate = find_tax_rate(org, given["TaxType"])
            if rate is None or rate.get("Status") != "ACTIVE":
                errors.append(f"{key}.TaxType '{given['TaxType']}' is not a valid tax type.")
            else:
                details["TaxType"] = rate["TaxType"]
        return details

    def delete(self, ctx: WriteContext, record: dict[str, Any]) -> Result:
        """``DELETE /Items/{id}`` -> 204. A tracked item with stock cannot be deleted."""
        org = ctx.org
        with org.lock:
            if record.get("IsTrackedAsInventory") and Decimal(
                str(record.get("QuantityOnHand") or 0)
            ):
                raise ValidationException(
                    ["A tracked inventory item with quantity on hand cannot be deleted."],
                    _echo(record),
                )
            org.table(self.name).pop(record["ItemID"].lower(), None)
        return NoContent()

    def history_label(self, record: dict[str, Any]) -> str:
        return "Item"

    @staticmethod
    def generate(ctx: WriteContext, n: int) -> dict[str, Any]:
        """A sold-and-purchased item with a unique code, for bulk seeding (benchmarks)."""
        return {
            "ItemID": new_id(),
            "Code": f"GEN-{n:06d}",
            "Name": f"Generated item {n:06d}",
            "Description": f"Generated item {n:06d}",
            "IsSold": True,
            "IsPurchased": True,
            "IsTrackedAsInventory": False,
            "SalesDetails": {
                "UnitPrice": Decimal(10 + n % 90),
                "AccountCode": "200",
                "TaxType": "OUTPUT2",
            },
            "PurchaseDetails": {
                "UnitPrice": Decimal(5 + n % 45),
                "AccountCode": "300",
                "TaxType": "INPUT2",
            },
        }


def _item_with_code(org: Organisation, code: str, own_id: str) -> bool:
    wanted = code.strip().lower()
    return any(
        str(item.get("Code", "")).strip().lower() == wanted
        for item in org.table("Items").values()
        if item["ItemID"].lower() != own_id.lower()
    )


# --- organisation ------------------------------------------------------------------------


class NotImplementedError501(SandboxError):
    """501: Xero answers writes to the Organisation endpoint with Not Implemented."""

    status = 501

    def body(self) -> Any:
        return {"ErrorNumber": 20, "Type": "NotImplementedException", "Message": self.message}


_VERSIONS = {"AU": "AU", "NZ": "NZ", "GB": "UK", "US": "US"}
_TIMEZONES = {
    "NZ": "NEWZEALANDSTANDARDTIME",
    "AU": "AUSEASTERNSTANDARDTIME",
    "GB": "GMTSTANDARDTIME",
    "US": "EASTERNSTANDARDTIME",
}
_TAX_SETTINGS = {  # (SalesTaxBasis, SalesTaxPeriod, FinancialYearEndMonth)
    "NZ": ("PAYMENTS", "TWOMONTHS", 3),
    "AU": ("CASH", "QUARTERLY1", 6),
    "GB": ("ACCRUAL", "QUARTERLY1", 3),
    "US": ("ACCRUAL", "NONE", 12),
}
_CLASSES = ("STARTER", "STANDARD", "PREMIUM")


class OrganisationRules(ResourceRules):
    """``GET /Organisation`` -> ``{"Organisations": [..]}``, built from the tenant."""

    name = "Organisations"
    path: ClassVar[str] = "Organisation"
    singleton: ClassVar[bool] = True
    id_field = "OrganisationID"
    scope = "settings"
    granular_scope = "accounting.settings"
    paging = "none"
    supports_where = False
    supports_history = False
    updated_field = None

    def _refuse(self) -> None:
        raise NotImplementedError501("The Organisation endpoint does not support this method.")

    def find_existing(self, org: Organisation, data: dict[str, Any]) -> dict[str, Any] | None:
        self._refuse()
        return None

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        self._refuse()
        return {}

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        self._refuse()
        return {}

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        country = org.country_code.upper()
        basis, period, year_end = _TAX_SETTINGS.get(country, (None, None, 12))
        out: dict[str, Any] = {
            "OrganisationID": org.tenant_id,
            "Name": org.name,
            "LegalName": org.name,
            "PaysTax": basis is not None,
            "Version": _VERSIONS.get(country, "GLOBAL"),
            "OrganisationType": "COMPANY",
            "BaseCurrency": org.base_currency,
            "CountryCode": country,
            "IsDemoCompany": False,
            "OrganisationStatus": "ACTIVE",
            "FinancialYearEndDay": 31,
            "FinancialYearEndMonth": year_end,
            "DefaultSalesTax": "Tax Exclusive",
            "DefaultPurchasesTax": "Tax Exclusive",
            "OrganisationEntityType": "COMPANY",
            "Timezone": _TIMEZONES.get(country, "UTC"),
            "ShortCode": org.short_code,
            "Edition": "BUSINESS",
            "Class": org.tier.upper() if org.tier.upper() in _CLASSES else "STANDARD",
            "Addresses": [],
            "Phones": [],
            "ExternalLinks": [],
            "PaymentTerms": {},
        }
        if basis is not None:
            out["SalesTaxBasis"] = basis
            out["SalesTaxPeriod"] = period
        created = getattr(org, "created_utc", None)
        if created is not None:
            out["CreatedDateUTC"] = to_wire(created)
        return out


RESOURCE_RULES: list[type[ResourceRules]] = [
    AccountRules,
    TaxRateRules,
    ItemRules,
    OrganisationRules,
]
