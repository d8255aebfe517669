"""Bank transactions: spend and receive money, and the overpayments and prepayments made
through them; the transfer types are Xero's own halves of a bank transfer.

Rules emulated (Xero's BankTransactions docs and spec v16.1.0):

* Required: ``Type``, ``Contact`` (an existing one, or a new one named by ``Name``,
  which Xero creates), ``BankAccount`` (AccountID or Code of an active BANK account)
  and at least one line item, each with an account code (overpayments excepted: they
  post to accounts receivable/payable).
* Writable types: RECEIVE, SPEND and their -OVERPAYMENT and -PREPAYMENT kinds.
  RECEIVE-TRANSFER/SPEND-TRANSFER exist only as the halves of a bank transfer: they
  can be read but never written here.
* ``Reference`` and line ``ItemCode`` are only for SPEND and RECEIVE (docs). An
  overpayment has one line and no tax (NoTax); prepayments and overpayments carry
  ``PrepaymentID`` / ``OverpaymentID``.
* Created AUTHORISED. An update may delete (``DELETED``; prepayments and overpayments may
  also be ``VOIDED``), switch SPEND<->RECEIVE, or change the lines, contact, account,
  date, texts and ``IsReconciled``, but nothing once the transaction is reconciled,
  deleted or voided. Totals always come from the lines.
* The currency is the bank account's; a different ``CurrencyCode`` is refused.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from xero_sandbox.accounting import contacts
from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    add_date_strings,
    clone,
    date_field,
    get_field,
    normalise_keys,
    to_wire,
)
from xero_sandbox.accounting.documents import (
    apply_totals,
    find_account,
    generated_lines,
    line_amount_types,
    parse_line_items,
    restore_rates,
)
from xero_sandbox.accounting.quotes import render_contact
from xero_sandbox.errors import ValidationException
from xero_sandbox.organisation import Organisation, new_id

WRITABLE_TYPES = (
    "RECEIVE",
    "SPEND",
    "RECEIVE-OVERPAYMENT",
    "SPEND-OVERPAYMENT",
    "RECEIVE-PREPAYMENT",
    "SPEND-PREPAYMENT",
)
TRANSFER_TYPES = ("RECEIVE-TRANSFER", "SPEND-TRANSFER")
ALL_TYPES = WRITABLE_TYPES + TRANSFER_TYPES
SIMPLE_TYPES = ("RECEIVE", "SPEND")
OVERPAYMENT_TYPES = ("RECEIVE-OVERPAYMENT", "SPEND-OVERPAYMENT")
PREPAYMENT_TYPES = ("RECEIVE-PREPAYMENT", "SPEND-PREPAYMENT")
STATUSES = ("AUTHORISED", "DELETED", "VOIDED")
RECONCILED_MESSAGE = (
    "This Bank Transaction cannot be edited as it has been reconciled with a Bank Statement."
)
_FIELDS = [
    "BankTransactionID",
    "Type",
    "Contact",
    "LineItems",
    "BankAccount",
    "IsReconciled",
    "Date",
    "Reference",
    "CurrencyCode",
    "CurrencyRate",
    "Url",
    "Status",
    "LineAmountTypes",
]


# --- bank accounts (shared with bank transfers) ------------------------------------------


def bank_account(
    org: Organisation, data: Any, field_name: str, errors: list[str]
) -> dict[str, Any] | None:
    """Resolve ``{"AccountID": ..}`` or ``{"Code": ..}`` to an active BANK account."""
    if not isinstance(data, dict) or not (get_field(data, "AccountID") or get_field(data, "Code")):
        errors.append(f"{field_name} must be specified with an AccountID or Code.")
        return None
    account_id, code = get_field(data, "AccountID"), get_field(data, "Code")
    account = find_account(org, code, account_id)
    shown = account_id or code
    if account is None:
        errors.append(f"{field_name} '{shown}' is not a valid account for this organisation.")
        return None
    if account.get("Type") != "BANK":
        errors.append(f"{field_name} '{shown}' is not a bank account: its Type must be BANK.")
        return None
    if account.get("Status") != "ACTIVE":
        errors.append(f"{field_name} '{shown}' is archived and cannot be used.")
        return None
    return account


def account_currency(org: Organisation, account: dict[str, Any]) -> str:
    return str(account.get("CurrencyCode") or org.base_currency).upper()


def render_account(org: Organisation, reference: dict[str, Any] | None) -> dict[str, Any]:
    """A bank account as Xero embeds it in documents: ID, code and name."""
    account_id = (reference or {}).get("AccountID")
    account = org.get("Accounts", account_id) if account_id else None
    if account is None:
        return {"AccountID": account_id}
    out = {"AccountID": account["AccountID"], "Name": account["Name"]}
    if account.get("Code"):
        out["Code"] = account["Code"]
    return out


def transfer_half(
    *,
    transaction_id: str,
    type_: str,
    account: dict[str, Any],
    amount: Decimal,
    day: date,
    reference: str | None,
    reconciled: bool,
    currency: str,
    transfer_id: str,
    now: datetime,
) -> dict[str, Any]:
    """One of the two bank transactions a bank transfer creates (read-only through the API)."""
    record: dict[str, Any] = {
        "BankTransactionID": transaction_id,
        "Type": type_,
        "BankAccount": {"AccountID": account["AccountID"]},
        "Date": day,
        "Status": "AUTHORISED",
        "IsReconciled": reconciled,
        "LineAmountTypes": "NoTax",
        "LineItems": [],
        "SubTotal": amount,
        "TotalTax": Decimal("0"),
        "Total": amount,
        "CurrencyCode": currency,
        "CurrencyRate": Decimal("1"),
        "HasAttachments": False,
        "UpdatedDateUTC": now,
        "_BankTransferID": transfer_id,
    }
    if reference:
        record["Reference"] = reference
    return record


# --- bank transactions -------------------------------------------------------------------


class BankTransactionRules(ResourceRules):
    """Bank transactions (``/BankTransactions``)."""

    name = "BankTransactions"
    paged_lines = "LineItems"
    id_field = "BankTransactionID"
    scope = "transactions"
    granular_scope = "accounting.banktransactions"
    paging = "full"

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, _FIELDS)
        org = ctx.org
        errors: list[str] = []
        type_ = self._type(data.get("Type"), errors)
        if type_ is None and data.get("Type") in (None, ""):
            errors.append("Type must be specified for a bank transaction.")
        status = data.get("Status")
        if status not in (None, "") and str(status).upper() != "AUTHORISED":
            errors.append("A bank transaction can only be created with the status AUTHORISED.")
        contact = contacts.contact_reference(org, data.get("Contact"), errors)
        account = bank_account(org, data.get("BankAccount"), "BankAccount", errors)
        if not data.get("LineItems"):
            errors.append("LineItems must be specified: at least one line item is required.")
        lines, amount_types = self._lines(org, data, type_ or "SPEND", None, errors)
        fields = self._scalars(org, data, type_, account, errors)
        if errors:
            raise ValidationException(errors, data)
        record: dict[str, Any] = {
            "BankTransactionID": new_id(),
            "Type": type_,
            "BankAccount": {"AccountID": account["AccountID"]},
            "Date": fields.pop("Date", None) or ctx.now.date(),
            "Status": "AUTHORISED",
            "IsReconciled": False,
            "CurrencyCode": account_currency(org, account),
            "CurrencyRate": Decimal("1"),
            "HasAttachments": False,
            **fields,
        }
        if type_ in OVERPAYMENT_TYPES:
            record["OverpaymentID"] = new_id()
        elif type_ in PREPAYMENT_TYPES:
            record["PrepaymentID"] = new_id()
        apply_totals(record, lines, amount_types)
        self._check_total(record, errors)
        if errors:
            raise ValidationException(errors, data)
        # Only now that the element is valid: a contact named for the first time is created.
        record["Contact"] = {"ContactID": contacts.materialise_contact(ctx, contact)["ContactID"]}
        return record

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        data = normalise_keys(data, _FIELDS)
        org = ctx.org
        errors: list[str] = []
        self._check_editable(record, data, errors)
        if errors:
            raise ValidationException(errors, data)
        type_ = record["Type"]
        if data.get("Type") not in (None, ""):
            wanted = self._type(data["Type"], errors)
            if wanted and wanted != type_:
                if {wanted, type_} <= set(SIMPLE_TYPES):
                    type_ = wanted
                else:
                    errors.append(
                        f"The Type of a {record['Type']} bank transaction cannot be changed "
                        f"to {wanted}."
                    )
        status = record["Status"]
        if data.get("Status") not in (None, ""):
            status = self._status_change(record, str(data["Status"]).upper(), errors)
        contact = None
        if "Contact" in data:
            contact = contacts.contact_reference(org, data["Contact"], errors)
        account = None
        if "BankAccount" in data:
            account = bank_account(org, data["BankAccount"], "BankAccount", errors)
        if "LineItems" in data and not data["LineItems"]:
            errors.append("LineItems must be specified: at least one line item is required.")
        lines, amount_types = self._lines(org, data, type_, record, errors)
        fields = self._scalars(org, data, type_, account or self._account_of(org, record), errors)
        if errors:
            raise ValidationException(errors, data)
        updated = clone(record)
        updated["Type"] = type_
        updated["Status"] = status
        if account is not None:
            updated["BankAccount"] = {"AccountID": account["AccountID"]}
            updated["CurrencyCode"] = account_currency(org, account)
        for key, value in fields.items():
            if value is None:
                updated.pop(key, None)
            else:
                updated[key] = value
        if type_ not in SIMPLE_TYPES:
            updated.pop("Reference", None)  # only SPEND and RECEIVE carry a reference
        apply_totals(updated, lines, amount_types)
        self._check_total(updated, errors)
        if errors:
            raise ValidationException(errors, data)
        if contact is not None:
            updated["Contact"] = {
                "ContactID": contacts.materialise_contact(ctx, contact)["ContactID"]
            }
        return updated

    # --- validation pieces ---------------------------------------------------------------

    @staticmethod
    def _type(value: Any, errors: list[str]) -> str | None:
        if value in (None, ""):
            return None
        text = str(value).strip().upper()
        if text in TRANSFER_TYPES:
            errors.append(
                f"Bank transactions of Type {text} are created by bank transfers and cannot be "
                "written directly: use the BankTransfers endpoint."
            )
            return None
        if text not in WRITABLE_TYPES:
            errors.append(
                f"Type '{value}' is not valid. Allowed values: {', '.join(WRITABLE_TYPES)}."
            )
            return None
        return text

    @staticmethod
    def _lines(
        org: Organisation,
        data: dict[str, Any],
        type_: str,
        record: dict[str, Any] | None,
        errors: list[str],
    ) -> tuple[list[dict[str, Any]], str]:
        """Parse (or restore) the lines; overpayments get one tax-free line."""
        overpayment = type_ in OVERPAYMENT_TYPES
        amount_types = line_amount_types(
            data.get("LineAmountTypes"),
            errors,
            record["LineAmountTypes"] if record else "Exclusive",
        )
        if overpayment:
            amount_types = "NoTax"
        if "LineItems" not in data and record is not None:
            lines = restore_rates(org, record["LineItems"])
        else:
            raw = data.get("LineItems") or []
            if isinstance(raw, list) and type_ not in SIMPLE_TYPES:
                for index, line in enumerate(raw, start=1):
                    if isinstance(line, dict) and get_field(line, "ItemCode"):
                        errors.append(
                            f"ItemCode on line item {index} is not allowed: item codes can only "
                            "be used on SPEND and RECEIVE bank transactions."
                        )
            lines = parse_line_items(
                org,
                raw,
                errors,
                require_account=not overpayment,
                sales=type_.startswith("RECEIVE"),
            )
        if overpayment and len(lines) > 1:
            errors.append("An overpayment can only have one line item.")
        return lines, amount_types

    @staticmethod
    def _scalars(
        org: Organisation,
        data: dict[str, Any],
        type_: str | None,
        account: dict[str, Any] | None,
        errors: list[str],
    ) -> dict[str, Any]:
        """Date, Reference, Url, IsReconciled and the currency check, for the keys present."""
        fields: dict[str, Any] = {}
        day = date_field(data.get("Date"), "Date", errors)
        if day is not None:
            fields["Date"] = day
        if data.get("Reference") not in (None, ""):
            if type_ is not None and type_ not in SIMPLE_TYPES:
                errors.append(
                    "Reference is only supported for SPEND and RECEIVE bank transactions."
                )
            fields["Reference"] = str(data["Reference"])
        elif "Reference" in data:
            fields["Reference"] = None
        if "Url" in data:
            fields["Url"] = str(data["Url"]) if data["Url"] not in (None, "") else None
        if "IsReconciled" in data:
            if not isinstance(data["IsReconciled"], bool):
                errors.append("IsReconciled must be true or false.")
            else:
                fields["IsReconciled"] = data["IsReconciled"]
        currency = data.get("CurrencyCode")
        if currency not in (None, "") and account is not None:
            expected = account_currency(org, account)
            if str(currency).upper() != expected:
                errors.append(
                    f"CurrencyCode '{currency}' does not match the currency of the bank "
                    f"account ({expected})."
                )
        return fields

    @staticmethod
    def _check_total(record: dict[str, Any], errors: list[str]) -> None:
        if record["Total"] < 0:
            errors.append("The total of a bank transaction cannot be negative.")

    @staticmethod
    def _check_editable(record: dict[str, Any], data: dict[str, Any], errors: list[str]) -> None:
        if record["Type"] in TRANSFER_TYPES:
            errors.append(
                "This bank transaction belongs to a bank transfer and cannot be changed: "
                "delete the bank transfer instead."
            )
        elif record["Status"] != "AUTHORISED":
            errors.append(
                f"This bank transaction is {record['Status']} and can no longer be changed."
            )
        elif record.get("IsReconciled"):
            changes = [
                k
                for k, v in data.items()
                if k != "BankTransactionID"
                and not (k == "IsReconciled" and v is True)
                and not (k == "Status" and str(v).upper() == "AUTHORISED")
            ]
            if changes:
                errors.append(RECONCILED_MESSAGE)

    @staticmethod
    def _status_change(record: dict[str, Any], wanted: str, errors: list[str]) -> str:
        current = record["Status"]
        if wanted == current:
            return current
        if wanted not in STATUSES:
            errors.append(f"Status '{wanted}' is not valid. Allowed values: {', '.join(STATUSES)}.")
        elif wanted == "VOIDED" and record["Type"] not in OVERPAYMENT_TYPES + PREPAYMENT_TYPES:
            errors.append(
                "Only prepayment and overpayment bank transactions can be VOIDED: delete a "
                "SPEND or RECEIVE bank transaction with the status DELETED."
            )
        elif wanted == "AUTHORISED":
            errors.append(f"A {current} bank transaction cannot be restored.")
        else:
            return wanted
        return current

    @staticmethod
    def _account_of(org: Organisation, record: dict[str, Any]) -> dict[str, Any] | None:
        return org.get("Accounts", record["BankAccount"]["AccountID"])

    # --- wire shape ----------------------------------------------------------------------

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        rendered = to_wire(record)
        rendered["BankAccount"] = render_account(org, record.get("BankAccount"))
        if record.get("Contact"):
            rendered["Contact"] = render_contact(org, record["Contact"])
        add_date_strings(rendered, record, "Date")
        return rendered

    def history_label(self, record: dict[str, Any]) -> str:
        return "BankTransaction"

    @staticmethod
    def generate(ctx: WriteContext, n: int) -> dict[str, Any]:
        """A valid SPEND or RECEIVE on account 090 for bulk seeding (benchmarks)."""
        org = ctx.org
        account = find_account(org, "090") or next(iter(org.table("Accounts").values()))
        contact = next(iter(org.table("Contacts").values()), None)
        receive = n % 2 == 0
        return {
            "BankTransactionID": new_id(),
            "Type": "RECEIVE" if receive else "SPEND",
            "Contact": {"ContactID": contact["ContactID"] if contact else new_id()},
            "BankAccount": {"AccountID": account["AccountID"]},
            "Date": ctx.now.date(),
            "Reference": f"GEN-{n:06d}",
            "Status": "AUTHORISED",
            "IsReconciled": False,
            "CurrencyCode": org.base_currency,
            "CurrencyRate": Decimal("1"),
            "HasAttachments": False,
            **generated_lines(
                Decimal(20 + n % 480),
                "Generated bank line",
                "200" if receive else "429",
                "OUTPUT2" if receive else "INPUT2",
            ),
        }


RESOURCE_RULES: list[type[ResourceRules]] = [BankTransactionRules]
