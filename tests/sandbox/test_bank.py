"""Bank transactions and bank transfers: types, bank accounts, contacts, lines, the
reconciled lock, deleting and voiding, and the two bank transactions every transfer owns."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.sandbox.in_process import InProcessOrg, messages
from xero_sandbox.accounting import registry, service
from xero_sandbox.accounting.bank_transactions import BankTransactionRules
from xero_sandbox.accounting.bank_transfers import BankTransferRules
from xero_sandbox.conformance import XeroSpec
from xero_sandbox.responses import Outcome


class Env(InProcessOrg):
    """One organisation with a customer and a supplier, bank rules registered in-process."""

    def __init__(self) -> None:
        super().__init__({"name": "Bank Ltd"}, [{"Name": "Bayside Club"}, {"Name": "PowerDirect"}])
        self.txns = BankTransactionRules()
        self.transfers = BankTransferRules()

    write = InProcessOrg.write_with

    def spend(self, **fields: Any) -> dict[str, Any]:
        outcome = self.write(self.txns, [txn_body(self, **fields)])
        assert outcome.status == 200, outcome.body
        return outcome.body["BankTransactions"][0]

    def update(self, txn: dict[str, Any], **fields: Any) -> Outcome:
        stored = self.org.get("BankTransactions", txn["BankTransactionID"])
        return self.write(self.txns, [fields], mode="post", target=stored)

    def txn(self, txn_id: str) -> dict[str, Any]:
        return self.txns.render(self.org, self.org.get("BankTransactions", txn_id))

    def transfer(self, **fields: Any) -> dict[str, Any]:
        outcome = self.write(self.transfers, [transfer_body(**fields)])
        assert outcome.status == 200, outcome.body
        return outcome.body["BankTransfers"][0]

    def delete_transfer(self, transfer: dict[str, Any], body: dict | None = None):
        stored = self.org.get("BankTransfers", transfer["BankTransferID"])
        return self.write(
            self.transfers, [body or {"Status": "DELETED"}], mode="post", target=stored
        )


def txn_body(env: Env, **fields: Any) -> dict[str, Any]:
    body = {
        "Type": "SPEND",
        "Contact": {"ContactID": env.contacts["PowerDirect"]},
        "BankAccount": {"Code": "090"},
        "Date": "2026-03-02",
        "LineItems": [
            {"Description": "Electricity", "Quantity": 1, "UnitAmount": 200, "AccountCode": "445"}
        ],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def transfer_body(**fields: Any) -> dict[str, Any]:
    body = {
        "FromBankAccount": {"Code": "090"},
        "ToBankAccount": {"Code": "091"},
        "Amount": 250,
        "Date": "2026-03-03",
        "Reference": "To savings",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Env:
    for cls in (BankTransactionRules, BankTransferRules):
        monkeypatch.setitem(registry.RULES, cls.name.lower(), cls())
    return Env()


def validate(path: str, body: dict[str, Any]) -> None:
    XeroSpec.load().validate(
        "GET",
        f"http://sandbox/api.xro/2.0/{path}",
        200,
        {"content-type": "application/json"},
        json.dumps(body).encode(),
    )


# --------------------------------------------------------------------------- create


@pytest.mark.parametrize(
    ("type_", "line", "id_key", "total"),
    [
        pytest.param("SPEND", {"AccountCode": "445"}, None, 230.0, id="spend"),
        pytest.param("RECEIVE", {"AccountCode": "200"}, None, 230.0, id="receive"),
        pytest.param("SPEND-PREPAYMENT", {"AccountCode": "300"}, "PrepaymentID", 230.0, id="sp"),
        pytest.param("RECEIVE-PREPAYMENT", {"AccountCode": "200"}, "PrepaymentID", 230.0, id="rp"),
        pytest.param("SPEND-OVERPAYMENT", {}, "OverpaymentID", 200.0, id="spend-overpayment"),
        pytest.param("RECEIVE-OVERPAYMENT", {}, "OverpaymentID", 200.0, id="receive-overpayment"),
    ],
)
def test_every_writable_type_is_created_authorised(
    env: Env, type_: str, line: dict, id_key: str | None, total: float
) -> None:
    lines = [{"Description": "Money", "Quantity": 1, "UnitAmount": 200, **line}]
    txn = env.spend(Type=type_, LineItems=lines)
    assert txn["Type"] == type_ and txn["Status"] == "AUTHORISED"
    assert txn["IsReconciled"] is False and txn["Total"] == total
    assert txn["BankAccount"]["Code"] == "090" and txn["BankAccount"]["Name"]
    other_ids = {"PrepaymentID", "OverpaymentID"} - {id_key}
    assert (id_key is None or txn[id_key]) and not other_ids & txn.keys()
    if "OVERPAYMENT" in type_:
        assert txn["LineAmountTypes"] == "NoTax"  # overpayments carry no tax


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param({"Type": None}, "Type must be specified", id="no-type"),
        pytest.param({"Type": "SPEND-TRANSFER"}, "use the BankTransfers endpoint", id="transfer"),
        pytest.param({"Type": "RECEIVE-TRANSFER"}, "use the BankTransfers", id="receive-transfer"),
        pytest.param({"Type": "PAYMENT"}, "Type 'PAYMENT' is not valid", id="unknown-type"),
        pytest.param({"Contact": None}, "identify the contact", id="no-contact"),
        pytest.param({"BankAccount": None}, "BankAccount must be specified", id="no-account"),
        pytest.param({"BankAccount": {"Code": "200"}}, "not a bank account", id="not-bank"),
        pytest.param({"BankAccount": {"Code": "999"}}, "not a valid account", id="unknown-bank"),
        pytest.param({"LineItems": None}, "LineItems must be specified", id="no-lines"),
        pytest.param(
            {"LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5}]},
            "Account code must be specified",
            id="line-without-account",
        ),
        pytest.param(
            {"Status": "DELETED"}, "only be created with the status", id="created-deleted"
        ),
        pytest.param({"CurrencyCode": "USD"}, "does not match the currency", id="currency"),
        pytest.param(
            {
                "LineItems": [
                    {
                        "Description": "Refund",
                        "Quantity": 1,
                        "UnitAmount": -10,
                        "AccountCode": "445",
                    }
                ]
            },
            "cannot be negative",
            id="negative-total",
        ),
        pytest.param(
            {
                "Type": "RECEIVE-PREPAYMENT",
                "Reference": "R1",
                "LineItems": [{"Description": "x", "UnitAmount": 5, "AccountCode": "200"}],
            },
            "Reference is only supported for SPEND and RECEIVE",
            id="reference-on-prepayment",
        ),
        pytest.param(
            {"Type": "SPEND-PREPAYMENT", "LineItems": [{"ItemCode": "WIDGET", "Quantity": 1}]},
            "item codes can only be used on SPEND and RECEIVE",
            id="item-on-prepayment",
        ),
        pytest.param(
            {
                "Type": "RECEIVE-OVERPAYMENT",
                "LineItems": [
                    {"Description": "a", "UnitAmount": 1},
                    {"Description": "b", "UnitAmount": 2},
                ],
            },
            "only have one line item",
            id="two-line-overpayment",
        ),
    ],
)
def test_create_refuses_invalid_bank_transactions(env: Env, change: dict, fragment: str) -> None:
    errors = messages(env.write(env.txns, [txn_body(env, **change)]))
    assert any(fragment in m for m in errors), errors
    assert env.org.table("BankTransactions") == {}


def test_an_item_code_works_on_spend_and_receive(env: Env) -> None:
    txn = env.spend(Type="RECEIVE", LineItems=[{"ItemCode": "WIDGET", "Quantity": 2}])
    line = txn["LineItems"][0]
    assert (line["ItemCode"], line["AccountCode"], line["LineAmount"]) == ("WIDGET", "200", 50.0)


def test_a_new_contact_is_created_by_name_but_only_for_a_valid_element(env: Env) -> None:
    before = len(env.org.table("Contacts"))
    bad = env.write(env.txns, [txn_body(env, Contact={"Name": "Corner Dairy"}, BankAccount=None)])
    assert bad.status == 400 and len(env.org.table("Contacts")) == before
    txn = env.spend(Contact={"Name": "Corner Dairy"})
    assert txn["Contact"]["Name"] == "Corner Dairy"
    assert len(env.org.table("Contacts")) == before + 1


# --------------------------------------------------------------------------- update


def test_lines_can_be_edited_and_totals_follow(env: Env) -> None:
    txn = env.spend()
    lines = [{"Description": "Gas", "Quantity": 2, "UnitAmount": 40, "AccountCode": "445"}]
    outcome = env.update(txn, LineItems=lines, LineAmountTypes="Inclusive", Reference="Gas bill")
    assert outcome.status == 200, outcome.body
    edited = outcome.body["BankTransactions"][0]
    assert (edited["SubTotal"], edited["TotalTax"], edited["Total"]) == (69.57, 10.43, 80.0)
    assert edited["Reference"] == "Gas bill" and edited["DateString"].startswith("2026-03-02")


def test_spend_can_become_receive_but_not_a_prepayment(env: Env) -> None:
    txn = env.spend()
    assert env.update(txn, Type="RECEIVE").status == 200
    errors = messages(env.update(txn, Type="RECEIVE-PREPAYMENT"))
    assert errors == [
        "The Type of a RECEIVE bank transaction cannot be changed to RECEIVE-PREPAYMENT."
    ]


@pytest.mark.parametrize(
    ("type_", "status", "allowed"),
    [
        pytest.param("SPEND", "DELETED", True, id="delete-spend"),
        pytest.param("RECEIVE-PREPAYMENT", "DELETED", True, id="delete-prepayment"),
        pytest.param("SPEND-OVERPAYMENT", "VOIDED", True, id="void-overpayment"),
        pytest.param("SPEND", "VOIDED", False, id="void-spend-refused"),
        pytest.param("SPEND", "PAID", False, id="unknown-status"),
    ],
)
def test_deleting_and_voiding(env: Env, type_: str, status: str, allowed: bool) -> None:
    line = {} if "OVERPAYMENT" in type_ else {"AccountCode": "200"}
    txn = env.spend(Type=type_, LineItems=[{"Description": "x", "UnitAmount": 10, **line}])
    outcome = env.update(txn, Status=status)
    assert (outcome.status == 200) is allowed, outcome.body
    assert env.txn(txn["BankTransactionID"])["Status"] == (status if allowed else "AUTHORISED")


def test_deleted_transactions_are_final(env: Env) -> None:
    txn = env.spend()
    env.update(txn, Status="DELETED")
    errors = messages(env.update(txn, Reference="again"))
    assert errors == ["This bank transaction is DELETED and can no longer be changed."]


def test_a_reconciled_transaction_is_locked(env: Env) -> None:
    txn = env.spend(IsReconciled=True)
    before = env.txn(txn["BankTransactionID"])
    for change in ({"Reference": "new"}, {"Status": "DELETED"}, {"IsReconciled": False}):
        errors = messages(env.update(txn, **change))
        assert errors == [
            "This Bank Transaction cannot be edited as it has been reconciled with a Bank "
            "Statement."
        ]
    assert env.txn(txn["BankTransactionID"]) == before
    assert env.update(txn, IsReconciled=True, Status="AUTHORISED").status == 200  # a no-op


def test_a_batch_with_one_bad_element_keeps_the_good_one(env: Env) -> None:
    """A default-mode batch saves its valid elements even when it answers 400 (xero-ruby
    issue 247); the bad element's own side effects (its new contact) are undone."""
    good = txn_body(env, Contact={"Name": "Fresh Contact"})
    bad = txn_body(env, BankAccount={"Code": "200"}, Contact={"Name": "Doomed Contact"})
    outcome = env.write(env.txns, [good, bad])
    assert outcome.status == 400 and len(outcome.body["Elements"]) == 1
    assert outcome.body["Elements"][0]["BankTransactionID"] == service.ZERO_ID
    assert len(env.org.table("BankTransactions")) == 1
    names = [c["Name"] for c in env.org.table("Contacts").values()]
    assert "Fresh Contact" in names and "Doomed Contact" not in names


# --------------------------------------------------------------------------- transfers


def test_a_transfer_creates_its_two_bank_transactions(env: Env) -> None:
    transfer = env.transfer(ToIsReconciled=True)
    assert transfer["Status"] == "AUTHORISED" and transfer["Amount"] == 250.0
    assert transfer["FromBankAccount"]["Code"] == "090"
    assert transfer["ToBankAccount"]["Code"] == "091"
    assert transfer["CreatedDateUTC"].startswith("/Date(")
    assert "UpdatedDateUTC" not in transfer
    spend = env.txn(transfer["FromBankTransactionID"])
    receive = env.txn(transfer["ToBankTransactionID"])
    assert (spend["Type"], spend["BankAccount"]["Code"], spend["Total"]) == (
        "SPEND-TRANSFER",
        "090",
        250.0,
    )
    assert (receive["Type"], receive["BankAccount"]["Code"], receive["Total"]) == (
        "RECEIVE-TRANSFER",
        "091",
        250.0,
    )
    assert spend["Reference"] == receive["Reference"] == "To savings"
    assert (spend["IsReconciled"], receive["IsReconciled"]) == (False, True)
    assert (transfer["FromIsReconciled"], transfer["ToIsReconciled"]) == (False, True)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param({"ToBankAccount": {"Code": "090"}}, "must be different", id="same-account"),
        pytest.param({"FromBankAccount": {"Code": "200"}}, "not a bank account", id="not-bank"),
        pytest.param({"ToBankAccount": None}, "ToBankAccount must be specified", id="no-to"),
        pytest.param({"Amount": None}, "Amount must be specified", id="no-amount"),
        pytest.param({"Amount": 0}, "greater than zero", id="zero"),
        pytest.param({"Amount": -5}, "greater than zero", id="negative"),
        pytest.param({"Amount": "lots"}, "Amount must be a number", id="not-a-number"),
        pytest.param({"Date": "tomorrow"}, "not a valid date", id="bad-date"),
    ],
)
def test_invalid_transfers_are_refused(env: Env, change: dict, fragment: str) -> None:
    errors = messages(env.write(env.transfers, [transfer_body(**change)]))
    assert any(fragment in m for m in errors), errors
    assert env.org.table("BankTransfers") == {} and env.org.table("BankTransactions") == {}


def test_a_refused_transfer_leaves_no_bank_transactions(env: Env) -> None:
    outcome = env.write(env.transfers, [transfer_body(), transfer_body(Amount=0)])
    assert outcome.status == 400
    assert len(env.org.table("BankTransfers")) == 1  # the good one stays, as on Xero
    assert len(env.org.table("BankTransactions")) == 2  # its two sides, none for the bad


def test_deleting_a_transfer_deletes_both_bank_transactions(env: Env) -> None:
    transfer = env.transfer()
    outcome = env.delete_transfer(transfer)
    assert outcome.status == 200, outcome.body
    assert outcome.body["BankTransfers"][0]["Status"] == "DELETED"
    for key in ("FromBankTransactionID", "ToBankTransactionID"):
        assert env.txn(transfer[key])["Status"] == "DELETED"


def test_bulk_post_deletes_by_id_and_never_creates(env: Env) -> None:
    transfer = env.transfer()
    deleted = env.write(
        env.transfers,
        [{"BankTransferID": transfer["BankTransferID"], "Status": "DELETED"}],
        mode="post",
    )
    assert deleted.status == 200 and deleted.body["BankTransfers"][0]["Status"] == "DELETED"
    errors = messages(env.write(env.transfers, [transfer_body()], mode="post"))
    assert errors == [
        "BankTransferID must be specified: POST /BankTransfers only deletes bank transfers. "
        "Create bank transfers with PUT."
    ]
    assert len(env.org.table("BankTransfers")) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"Amount": 10}, id="edit-amount"),
        pytest.param({"Status": "AUTHORISED"}, id="status-authorised"),
        pytest.param({"Status": "DELETED", "Reference": "x"}, id="delete-with-edit"),
    ],
)
def test_transfers_cannot_be_edited(env: Env, body: dict) -> None:
    transfer = env.transfer()
    assert messages(env.delete_transfer(transfer, body))[0].startswith(
        "Bank transfers cannot be edited"
    )
    assert env.org.get("BankTransfers", transfer["BankTransferID"])["Status"] == "AUTHORISED"


def test_a_reconciled_transfer_cannot_be_deleted(env: Env) -> None:
    transfer = env.transfer(FromIsReconciled=True)
    assert "reconciled" in messages(env.delete_transfer(transfer))[0]
    assert env.txn(transfer["FromBankTransactionID"])["Status"] == "AUTHORISED"


def test_transfer_halves_are_read_only(env: Env) -> None:
    transfer = env.transfer()
    half = {"BankTransactionID": transfer["FromBankTransactionID"]}
    errors = messages(env.update(half, Status="DELETED"))
    assert "belongs to a bank transfer" in errors[0]


def test_deleted_transfers_are_listed_only_on_request(env: Env) -> None:
    keep = env.transfer()
    gone = env.transfer(Amount=10)
    env.delete_transfer(gone)
    records = list(env.org.table("BankTransfers").values())
    listed = env.transfers.filter_list(records, {})
    everything = env.transfers.filter_list(records, {"includeDeleted": "true"})
    assert [t["BankTransferID"] for t in listed] == [keep["BankTransferID"]]
    assert len(everything) == 2


def test_if_modified_since_compares_created_date(env: Env) -> None:
    env.transfer()
    env.state.clock.advance(3600)
    later = env.transfer(Amount=20)
    since = env.state.clock.now() - timedelta(minutes=5)
    records, _ = service.list_records(
        env.org, env.transfers, service.ListQuery(modified_since=since)
    )
    assert [t["BankTransferID"] for t in records] == [later["BankTransferID"]]


def test_rendered_bank_records_match_the_spec(env: Env) -> None:
    env.spend(Reference="Power")
    env.spend(Type="RECEIVE-OVERPAYMENT", LineItems=[{"Description": "x", "UnitAmount": 9}])
    env.transfer()
    for rules in (env.txns, env.transfers):
        page = 1 if rules.paging != "none" else None
        records, extra = service.list_records(env.org, rules, service.ListQuery(page=page))
        validate(
            rules.name, service.envelope(rules.name, records, "Test App", env.ctx().now, **extra)
        )


# --------------------------------------------------------------------------- over HTTP


def test_http_transfer_create_and_delete(xero_client: httpx.Client) -> None:
    created = xero_client.put(
        "/BankTransfers",
        json={
            "BankTransfers": [
                {
                    "FromBankAccount": {"Code": "091"},
                    "ToBankAccount": {"Code": "090"},
                    "Amount": "12.34",
                }
            ]
        },
    )
    assert created.status_code == 200, created.text
    transfer = created.json()["BankTransfers"][0]
    half = xero_client.get(f"/BankTransactions/{transfer['ToBankTransactionID']}")
    assert half.json()["BankTransactions"][0]["Type"] == "RECEIVE-TRANSFER"
    deleted = xero_client.post(
        f"/BankTransfers/{transfer['BankTransferID']}", json={"Status": "DELETED"}
    )
    assert deleted.status_code == 200, deleted.text
    half = xero_client.get(f"/BankTransactions/{transfer['FromBankTransactionID']}")
    assert half.json()["BankTransactions"][0]["Status"] == "DELETED"
    listed = xero_client.get("/BankTransfers").json()["BankTransfers"]
    assert transfer["BankTransferID"] not in {t["BankTransferID"] for t in listed}


def test_http_demo_has_every_bank_transaction_type(xero_client: httpx.Client) -> None:
    txns = xero_client.get("/BankTransactions").json()["BankTransactions"]
    types = {t["Type"] for t in txns}
    assert types >= {
        "RECEIVE",
        "SPEND",
        "RECEIVE-OVERPAYMENT",
        "SPEND-OVERPAYMENT",
        "RECEIVE-PREPAYMENT",
        "SPEND-PREPAYMENT",
        "SPEND-TRANSFER",
        "RECEIVE-TRANSFER",
    }
    assert "DELETED" in {t["Status"] for t in txns}
