"""Bank transfers: money moved between two of the organisation's bank accounts.

Rules emulated (Xero's BankTransfers docs and spec v16.1.0):

* ``PUT /BankTransfers`` creates: ``FromBankAccount`` and ``ToBankAccount`` (AccountID or
  Code of two different active BANK accounts), ``Amount`` > 0, optional ``Date`` (today),
  ``Reference``, ``FromIsReconciled``/``ToIsReconciled`` and tracking. Each transfer
  creates two read-only bank transactions, SPEND-TRANSFER on the from-account and
  RECEIVE-TRANSFER on the to-account, named by FromBankTransactionID/ToBankTransactionID.
* ``POST /BankTransfers`` (bulk) and ``POST /BankTransfers/{id}`` only delete: the body is
  ``{"BankTransferID": .., "Status": "DELETED"}`` (or ``{"Status": "DELETED"}`` on the
  record path). Deleting deletes both bank transactions, and is refused while either is
  reconciled. Deleting an already deleted transfer changes nothing.
* There is no UpdatedDateUTC: ``CreatedDateUTC`` is what If-Modified-Since compares.
  Lists have no paging and hide DELETED transfers unless ``includeDeleted=true``.
* Transfers between accounts in different currencies are not emulated (refused).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from xero_sandbox.accounting.bank_transactions import (
    account_currency,
    bank_account,
    render_account,
    transfer_half,
)
from xero_sandbox.accounting.base import (
    ResourceRules,
    WriteContext,
    add_date_strings,
    clone,
    date_field,
    get_field,
    money,
    normalise_keys,
    query_flag,
    to_wire,
)
from xero_sandbox.accounting.documents import find_account
from xero_sandbox.errors import ValidationException
from xero_sandbox.organisation import Organisation, new_id

_FIELDS = [
    "BankTransferID",
    "FromBankAccount",
    "ToBankAccount",
    "Amount",
    "Date",
    "Reference",
    "FromIsReconciled",
    "ToIsReconciled",
    "FromTracking",
    "ToTracking",
    "Status",
]
DELETE_ONLY_MESSAGE = (
    "Bank transfers cannot be edited: a POST to BankTransfers can only delete a transfer "
    'with {"Status": "DELETED"}.'
)


class BankTransferRules(ResourceRules):
    """Bank transfers (``/BankTransfers``): PUT creates, POST deletes."""

    name = "BankTransfers"
    id_field = "BankTransferID"
    scope = "transactions"
    granular_scope = "accounting.banktransactions"
    paging = "none"
    updated_field = "CreatedDateUTC"  # no UpdatedDateUTC: If-Modified-Since uses this

    def find_existing(self, org: Organisation, data: dict[str, Any]) -> dict[str, Any] | None:
        """POST names the transfer to delete; without an ID it is not a create (use PUT).

        The service only asks without an ID for ``POST /BankTransfers``: a PUT asks only
        when the element carries an ID.
        """
        transfer_id = get_field(data, "BankTransferID")
        if not transfer_id:
            raise ValidationException(
                [
                    "BankTransferID must be specified: POST /BankTransfers only deletes bank "
                    "transfers. Create bank transfers with PUT."
                ],
                data,
            )
        return org.get(self.name, str(transfer_id))

    def create(self, ctx: WriteContext, data: dict[str, Any]) -> dict[str, Any]:
        data = normalise_keys(data, _FIELDS)
        org = ctx.org
        errors: list[str] = []
        source = bank_account(org, data.get("FromBankAccount"), "FromBankAccount", errors)
        target = bank_account(org, data.get("ToBankAccount"), "ToBankAccount", errors)
        if source and target:
            if source["AccountID"] == target["AccountID"]:
                errors.append("The FromBankAccount and ToBankAccount must be different accounts.")
            elif account_currency(org, source) != account_currency(org, target):
                errors.append(
                    "Transfers between bank accounts in different currencies are not supported "
                    "by the sandbox."
                )
        amount = money(data.get("Amount"), "Amount", errors)
        if data.get("Amount") in (None, ""):
            errors.append("Amount must be specified for a bank transfer.")
        elif amount is not None and amount <= 0:
            errors.append("Amount must be greater than zero.")
        day = date_field(data.get("Date"), "Date", errors)
        flags = {}
        for key in ("FromIsReconciled", "ToIsReconciled"):
            value = data.get(key)
            if value is not None and not isinstance(value, bool):
                errors.append(f"{key} must be true or false.")
            flags[key] = bool(value)
        status = data.get("Status")
        if status not in (None, "") and str(status).upper() != "AUTHORISED":
            errors.append("A bank transfer is created AUTHORISED; its Status cannot be set.")
        if errors:
            raise ValidationException(errors, data)
        record: dict[str, Any] = {
            "BankTransferID": new_id(),
            "FromBankAccount": {"AccountID": source["AccountID"]},
            "ToBankAccount": {"AccountID": target["AccountID"]},
            "Amount": amount.quantize(Decimal("0.01")),
            "Date": day or ctx.now.date(),
            "Status": "AUTHORISED",
            "CurrencyRate": Decimal("1"),
            "FromBankTransactionID": new_id(),
            "ToBankTransactionID": new_id(),
            "HasAttachments": False,
            "CreatedDateUTC": ctx.now,
            "FromTracking": data.get("FromTracking") or [],
            "ToTracking": data.get("ToTracking") or [],
            **flags,
        }
        if data.get("Reference") not in (None, ""):
            record["Reference"] = str(data["Reference"])
        return record

    def update(
        self, ctx: WriteContext, record: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        data = normalise_keys(data, _FIELDS)
        extra = [
            k for k, v in data.items() if k not in ("BankTransferID", "Status") and v is not None
        ]
        status = str(data.get("Status") or "").upper()
        errors: list[str] = []
        if extra or status != "DELETED":
            errors.append(DELETE_ONLY_MESSAGE)
        elif record["Status"] == "AUTHORISED":
            for key in ("FromBankTransactionID", "ToBankTransactionID"):
                half = ctx.org.get("BankTransactions", record[key])
                if half is not None and half.get("IsReconciled"):
                    errors.append(
                        "A bank transfer cannot be deleted while its bank transactions are "
                        "reconciled."
                    )
                    break
        if errors:
            raise ValidationException(errors, data)
        updated = clone(record)
        updated["Status"] = "DELETED"
        return updated

    def after_write(self, ctx: WriteContext, record: dict[str, Any], created: bool) -> None:
        """Create the two bank transactions, or delete them with the transfer."""
        org = ctx.org
        if created:
            source = org.get("Accounts", record["FromBankAccount"]["AccountID"])
            target = org.get("Accounts", record["ToBankAccount"]["AccountID"])
            halves = (
                ("FromBankTransactionID", "SPEND-TRANSFER", source, "FromIsReconciled"),
                ("ToBankTransactionID", "RECEIVE-TRANSFER", target, "ToIsReconciled"),
            )
            for id_key, type_, account, reconciled_key in halves:
                half = transfer_half(
                    transaction_id=record[id_key],
                    type_=type_,
                    account=account,
                    amount=record["Amount"],
                    day=record["Date"],
                    reference=record.get("Reference"),
                    reconciled=record[reconciled_key],
                    currency=account_currency(org, account),
                    transfer_id=record["BankTransferID"],
                    now=ctx.now,
                )
                org.put("BankTransactions", half["BankTransactionID"], half)
                org.add_history(
                    half["BankTransactionID"],
                    {
                        "Changes": "Created",
                        "DateUTC": ctx.now,
                        "User": ctx.user,
                        "Details": f"Bank transfer created via {ctx.app_name}.",
                    },
                )
            return
        if record["Status"] != "DELETED":
            return
        for id_key in ("FromBankTransactionID", "ToBankTransactionID"):
            half = org.get("BankTransactions", record[id_key])
            if half is None or half["Status"] == "DELETED":
                continue
            deleted = clone(half)
            deleted["Status"] = "DELETED"
            deleted["UpdatedDateUTC"] = ctx.now
            org.put("BankTransactions", deleted["BankTransactionID"], deleted)

    def filter_list(self, records: list[dict[str, Any]], query: dict[str, str]) -> list:
        """Deleted transfers are listed only with ``includeDeleted=true``."""
        if query_flag(query, "includeDeleted", False):
            return records
        return [r for r in records if r.get("Status") != "DELETED"]

    def render(self, org: Organisation, record: dict[str, Any]) -> dict[str, Any]:
        rendered = to_wire(record)
        rendered.pop("UpdatedDateUTC", None)  # Xero's transfers have none (bulk seeding adds it)
        rendered["FromBankAccount"] = render_account(org, record.get("FromBankAccount"))
        rendered["ToBankAccount"] = render_account(org, record.get("ToBankAccount"))
        for id_key, flag in (
            ("FromBankTransactionID", "FromIsReconciled"),
            ("ToBankTransactionID", "ToIsReconciled"),
        ):
            half = org.get("BankTransactions", record.get(id_key) or "")
            if half is not None:
                rendered[flag] = bool(half.get("IsReconciled"))
        add_date_strings(rendered, record, "Date")
        return rendered

    def history_label(self, record: dict[str, Any]) -> str:
        return "BankTransfer"

    @staticmethod
    def generate(ctx: WriteContext, n: int) -> dict[str, Any]:
        """A transfer record for bulk seeding (benchmarks): no linked bank transactions."""
        source = find_account(ctx.org, "090")
        target = find_account(ctx.org, "091")
        return {
            "BankTransferID": new_id(),
            "FromBankAccount": {"AccountID": source["AccountID"] if source else new_id()},
            "ToBankAccount": {"AccountID": target["AccountID"] if target else new_id()},
            "Amount": Decimal(10 + n % 990),
            "Date": ctx.now.date(),
            "Status": "AUTHORISED",
            "CurrencyRate": Decimal("1"),
            "FromBankTransactionID": new_id(),
            "ToBankTransactionID": new_id(),
            "FromIsReconciled": False,
            "ToIsReconciled": False,
            "HasAttachments": False,
            "CreatedDateUTC": ctx.now,
            "FromTracking": [],
            "ToTracking": [],
            "Reference": f"GEN-{n:06d}",
        }


RESOURCE_RULES: list[type[ResourceRules]] = [BankTransferRules]
