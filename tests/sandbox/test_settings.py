"""Settings: accounts (unique code and name, bank accounts, archive, delete), tax rates
(keyed by TaxType, custom rates only), items (codes, details, inventory) and the
organisation (rendered from the tenant, writes answer 501)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.sandbox.in_process import InProcessOrg, messages
from xero_sandbox import seed
from xero_sandbox.accounting import registry, service
from xero_sandbox.accounting.base import ResourceRules
from xero_sandbox.accounting.settings import (
    RESOURCE_RULES,
    AccountRules,
    ItemRules,
    NotImplementedError501,
    OrganisationRules,
    TaxRateRules,
)
from xero_sandbox.conformance import XeroSpec
from xero_sandbox.errors import NotFound, ValidationException
from xero_sandbox.responses import outcome_of
from xero_sandbox.seed import add_organisation
from xero_sandbox.state import SandboxState


class Env(InProcessOrg):
    """One seeded organisation (accounts, tax rates, items) with the settings rules."""

    def __init__(self) -> None:
        super().__init__({"name": "Settings Ltd", "short_code": "!Set01"})
        self.accounts = AccountRules()
        self.rates = TaxRateRules()
        self.items = ItemRules()

    write = InProcessOrg.write_with

    def ok(self, rules: ResourceRules, element: dict, mode: str = "put", target=None) -> dict:
        outcome = self.write(rules, [element], mode, target)
        assert outcome.status == 200, outcome.body
        return outcome.body[rules.name][0]

    def account(self, code: str) -> dict[str, Any]:
        return next(a for a in self.org.table("Accounts").values() if a.get("Code") == code)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Env:
    for cls in RESOURCE_RULES:
        monkeypatch.setitem(registry.RULES, (cls.path or cls.name).lower(), cls())
    return Env()


def validate(path: str, key: str, records: list[dict]) -> None:
    body = service.envelope(key, records, "Test App", SandboxState().clock.now())
    XeroSpec.load().validate(
        "GET",
        f"http://sandbox/api.xro/2.0/{path}",
        200,
        {"content-type": "application/json"},
        json.dumps(body).encode(),
    )


# --------------------------------------------------------------------------- accounts


def test_create_an_expense_account_derives_class_and_reporting(env: Env) -> None:
    account = env.ok(env.accounts, {"Code": "480", "Name": "Staff Training", "Type": "expense"})
    assert (account["Type"], account["Class"], account["Status"]) == (
        "EXPENSE",
        "EXPENSE",
        "ACTIVE",
    )
    assert (account["ReportingCode"], account["ReportingCodeName"]) == ("EXP", "Expense")
    assert account["TaxType"] == "INPUT2"  # the active purchases rate, as Xero preselects
    assert account["UpdatedDateUTC"].startswith("/Date(")


def test_a_bank_account_needs_a_number_but_no_code(env: Env) -> None:
    errors = messages(env.write(env.accounts, [{"Name": "Credit Card", "Type": "BANK"}]))
    assert errors == ["BankAccountNumber must be specified for a BANK account."]
    account = env.ok(
        env.accounts,
        {
            "Name": "Credit Card",
            "Type": "BANK",
            "BankAccountNumber": "4111",
            "BankAccountType": "CREDITCARD",
        },
    )
    assert (account["BankAccountType"], account["CurrencyCode"], account["Class"]) == (
        "CREDITCARD",
        "NZD",
        "ASSET",
    )
    assert "Code" not in account


@pytest.mark.parametrize(
    ("element", "message"),
    [
        pytest.param(
            {"Code": "200", "Name": "New", "Type": "SALES"},
            "Please enter a unique Code.",
            id="duplicate-code",
        ),
        pytest.param(
            {"Code": "201", "Name": "sales", "Type": "SALES"},
            "Please enter a unique Name.",
            id="duplicate-name",
        ),
        pytest.param(
            {"Code": "12345678901", "Name": "Long", "Type": "SALES"},
            "Code must be 10 characters or less.",
            id="long-code",
        ),
        pytest.param(
            {"Name": "No code", "Type": "SALES"},
            "Code must be specified for an account that is not a bank account.",
            id="no-code",
        ),
        pytest.param(
            {"Code": "202", "Name": "N" * 151, "Type": "SALES"},
            "Name must be 150 characters or less.",
            id="long-name",
        ),
        pytest.param(
            {"Code": "203", "Name": "No type"},
            "Type must be specified for an account.",
            id="no-type",
        ),
        pytest.param(
            {"Code": "204", "Name": "Odd", "Type": "ASSETS"},
            "Type 'ASSETS' is not valid",
            id="bad-type",
        ),
        pytest.param(
            {"Code": "205", "Name": "Taxed", "Type": "SALES", "TaxType": "GST"},
            "The TaxType code 'GST' does not exist",
            id="bad-tax-type",
        ),
        pytest.param(
            {"Code": "206", "Name": "Acct", "Type": "SALES", "BankAccountNumber": "1"},
            "only valid for BANK accounts",
            id="bank-number-on-sales",
        ),
    ],
)
def test_invalid_accounts_are_refused(env: Env, element: dict, message: str) -> None:
    before = len(env.org.table("Accounts"))
    errors = messages(env.write(env.accounts, [element]))
    assert any(message in m for m in errors), errors
    assert len(env.org.table("Accounts")) == before


def test_update_archives_and_renames_but_keeps_bank_types_apart(env: Env) -> None:
    sales = env.account("260")
    updated = env.ok(env.accounts, {"Name": "Sundry Revenue", "Status": "ARCHIVED"}, "post", sales)
    assert (updated["Name"], updated["Status"], updated["Code"]) == (
        "Sundry Revenue",
        "ARCHIVED",
        "260",
    )
    errors = messages(env.write(env.accounts, [{"Type": "BANK"}], "post", env.account("429")))
    assert errors == ["An account cannot be changed to or from the BANK type."]
    errors = messages(env.write(env.accounts, [{"Code": "090"}], "post", env.account("429")))
    assert errors == ["Please enter a unique Code."]


def test_delete_an_unused_account(env: Env) -> None:
    created = env.ok(env.accounts, {"Code": "481", "Name": "Temporary", "Type": "EXPENSE"})
    stored = env.org.get("Accounts", created["AccountID"])
    ctx = env.ctx()
    outcome = outcome_of(lambda: env.accounts.delete(ctx, stored), ctx.app_name, ctx.now)
    assert outcome.status == 200 and outcome.body["Accounts"][0]["Status"] == "DELETED"
    listed, _ = service.list_records(env.org, env.accounts, service.ListQuery())
    assert created["AccountID"] not in {a["AccountID"] for a in listed}
    validate("Accounts/" + created["AccountID"], "Accounts", outcome.body["Accounts"])


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("200", id="used-by-an-item"),
        pytest.param("090", id="used-by-a-bank-transaction"),
    ],
)
def test_an_account_in_use_cannot_be_deleted(env: Env, code: str) -> None:
    if code == "090":
        env.org.put(
            "BankTransactions",
            "t1",
            {
                "BankTransactionID": "t1",
                "BankAccount": {"AccountID": env.account("090")["AccountID"]},
            },
        )
    with pytest.raises(ValidationException) as caught:
        env.accounts.delete(env.ctx(), env.account(code))
    assert "archive it instead" in caught.value.messages[0]
    assert env.account(code)["Status"] == "ACTIVE"


def test_accounts_render_to_the_spec(env: Env) -> None:
    records, _ = service.list_records(env.org, env.accounts, service.ListQuery())
    validate("Accounts", "Accounts", records)
    assert len(records) == len(seed.ACCOUNTS) == 12  # incl. GST (820) and Retained Earnings


# --------------------------------------------------------------------------- tax rates


def test_tax_rates_are_listed_and_read_by_tax_type(env: Env) -> None:
    records, _ = service.list_records(env.org, env.rates, service.ListQuery())
    validate("TaxRates", "TaxRates", records)
    assert {r["TaxType"] for r in records} >= {"OUTPUT2", "INPUT2", "NONE"}
    assert service.get_record(env.org, env.rates, "output2")["Name"] == "15% GST on Income"


def test_create_a_tax_rate_assigns_the_next_tax_type(env: Env) -> None:
    rate = env.ok(
        env.rates,
        {
            "Name": "Regional levy",
            "ReportTaxType": "INPUT",
            "TaxComponents": [{"Name": "Levy", "Rate": 2.25}],
        },
    )
    second = env.ok(env.rates, {"Name": "Other", "TaxComponents": [{"Name": "x", "Rate": 1}]})
    assert (rate["TaxType"], second["TaxType"]) == ("TAX001", "TAX002")
    assert (rate["EffectiveRate"], rate["DisplayTaxRate"], rate["Status"]) == (2.25, 2.25, "ACTIVE")
    assert rate["CanApplyToRevenue"] is False and rate["CanApplyToExpenses"] is True
    validate("TaxRates", "TaxRates", [rate, second])


def test_a_compound_component_applies_on_top(env: Env) -> None:
    rate = env.ok(
        env.rates,
        {
            "Name": "Stacked",
            "TaxComponents": [
                {"Name": "Base", "Rate": 10},
                {"Name": "On top", "Rate": 5, "IsCompound": True},
            ],
        },
    )
    assert (rate["DisplayTaxRate"], rate["EffectiveRate"]) == (15.0, 15.5)


@pytest.mark.parametrize(
    ("element", "fragment"),
    [
        pytest.param(
            {"TaxComponents": [{"Name": "x", "Rate": 1}]}, "Name must be specified", id="no-name"
        ),
        pytest.param(
            {"Name": "15% GST on Income", "TaxComponents": [{"Name": "x", "Rate": 1}]},
            "already exists",
            id="duplicate-name",
        ),
        pytest.param({"Name": "Empty"}, "TaxComponents must be specified", id="no-components"),
        pytest.param(
            {"Name": "Neg", "TaxComponents": [{"Name": "x", "Rate": -1}]},
            "cannot be negative",
            id="negative-rate",
        ),
        pytest.param(
            {"Name": "NoRate", "TaxComponents": [{"Name": "x"}]},
            "Rate must be specified",
            id="no-rate",
        ),
        pytest.param(
            {
                "Name": "Odd",
                "ReportTaxType": "SOMETHING",
                "TaxComponents": [{"Name": "x", "Rate": 1}],
            },
            "ReportTaxType 'SOMETHING' is not valid",
            id="bad-report-type",
        ),
    ],
)
def test_invalid_tax_rates_are_refused(env: Env, element: dict, fragment: str) -> None:
    before = len(env.org.table("TaxRates"))
    errors = messages(env.write(env.rates, [element]))
    assert any(fragment in m for m in errors), errors
    assert len(env.org.table("TaxRates")) == before


def test_post_updates_a_custom_rate_by_name_and_refuses_system_rates(env: Env) -> None:
    env.ok(env.rates, {"Name": "State Tax NY", "TaxComponents": [{"Name": "State", "Rate": 4}]})
    deleted = env.ok(env.rates, {"Name": "state tax ny", "Status": "DELETED"}, mode="post")
    assert (deleted["TaxType"], deleted["Status"]) == ("TAX001", "DELETED")
    errors = messages(env.write(env.rates, [{"TaxType": "OUTPUT2", "Status": "DELETED"}], "post"))
    assert errors == ["The system tax rate 'OUTPUT2' cannot be changed."]
    errors = messages(env.write(env.rates, [{"TaxType": "TAX404", "Name": "x"}], "post"))
    assert errors == ["TaxType 'TAX404' was not found."]


def test_changing_components_recomputes_the_rate(env: Env) -> None:
    env.ok(env.rates, {"Name": "Levy", "TaxComponents": [{"Name": "Levy", "Rate": 2}]})
    updated = env.ok(
        env.rates,
        {"TaxType": "TAX001", "Name": "Levy 3%", "TaxComponents": [{"Name": "Levy", "Rate": 3}]},
        mode="post",
    )
    assert (updated["Name"], updated["EffectiveRate"]) == ("Levy 3%", 3.0)


# --------------------------------------------------------------------------- items


def test_create_an_item_and_read_it_by_id_or_code(env: Env) -> None:
    item = env.ok(
        env.items,
        {
            "Code": "MUG",
            "Name": "Coffee mug",
            "Description": "Branded mug",
            "SalesDetails": {"UnitPrice": 12.5, "AccountCode": "200", "TaxType": "OUTPUT2"},
            "PurchaseDetails": {"UnitPrice": 4, "AccountCode": "300"},
        },
    )
    assert (item["IsSold"], item["IsPurchased"], item["IsTrackedAsInventory"]) == (
        True,
        True,
        False,
    )
    assert item["SalesDetails"] == {"UnitPrice": 12.5, "AccountCode": "200", "TaxType": "OUTPUT2"}
    assert service.get_record(env.org, env.items, "mug")["ItemID"] == item["ItemID"]
    records, _ = service.list_records(env.org, env.items, service.ListQuery())
    validate("Items", "Items", records)


def test_post_upserts_by_code(env: Env) -> None:
    widget = next(i for i in env.org.table("Items").values() if i["Code"] == "WIDGET")
    updated = env.ok(env.items, {"Code": "widget", "Name": "Blue widget XL"}, mode="post")
    assert updated["ItemID"] == widget["ItemID"] and updated["Name"] == "Blue widget XL"
    assert len(env.org.table("Items")) == 3


@pytest.mark.parametrize(
    ("element", "fragment"),
    [
        pytest.param({"Name": "No code"}, "Code must be specified", id="no-code"),
        pytest.param({"Code": "support"}, "already in use", id="duplicate-code"),
        pytest.param({"Code": "C" * 31}, "Code must be 30", id="long-code"),
        pytest.param({"Code": "N1", "Name": "N" * 51}, "Name must be 50", id="long-name"),
        pytest.param(
            {"Code": "N2", "SalesDetails": {"AccountCode": "999"}},
            "SalesDetails.AccountCode '999' is not a valid",
            id="bad-sales-account",
        ),
        pytest.param(
            {"Code": "N3", "PurchaseDetails": {"TaxType": "VAT"}},
            "PurchaseDetails.TaxType 'VAT' is not a valid",
            id="bad-purchase-tax",
        ),
        pytest.param(
            {"Code": "N4", "SalesDetails": {"UnitPrice": "cheap"}},
            "must be a number",
            id="bad-price",
        ),
        pytest.param(
            {
                "Code": "N5",
                "InventoryAssetAccountCode": "610",
                "PurchaseDetails": {"COGSAccountCode": "300"},
            },
            "must be the code of an INVENTORY account",
            id="not-inventory",
        ),
        pytest.param(
            {"Code": "N6", "IsTrackedAsInventory": True},
            "tracked as inventory once",
            id="tracked-without-accounts",
        ),
        pytest.param({"Code": "N7", "IsSold": "yes"}, "IsSold must be true or false", id="flag"),
    ],
)
def test_invalid_items_are_refused(env: Env, element: dict, fragment: str) -> None:
    errors = messages(env.write(env.items, [element]))
    assert any(fragment in m for m in errors), errors
    assert len(env.org.table("Items")) == 3


def test_tracked_inventory_item(env: Env) -> None:
    env.ok(env.accounts, {"Code": "630", "Name": "Inventory", "Type": "INVENTORY"})
    item = env.ok(
        env.items,
        {
            "Code": "STOCK",
            "InventoryAssetAccountCode": "630",
            "PurchaseDetails": {"COGSAccountCode": "300"},
        },
    )
    assert item["IsTrackedAsInventory"] is True and item["QuantityOnHand"] == 0.0


def test_is_sold_false_clears_the_sales_side(env: Env) -> None:
    widget = next(i for i in env.org.table("Items").values() if i["Code"] == "WIDGET")
    updated = env.ok(env.items, {"IsSold": False}, mode="post", target=widget)
    assert updated["IsSold"] is False
    assert "SalesDetails" not in updated and "Description" not in updated
    assert updated["PurchaseDetails"]["UnitPrice"] == 12.5


def test_delete_an_item(env: Env) -> None:
    widget = next(i for i in env.org.table("Items").values() if i["Code"] == "WIDGET")
    assert env.items.delete(env.ctx(), widget) == service.NoContent()
    with pytest.raises(NotFound):
        service.get_record(env.org, env.items, "WIDGET")


# --------------------------------------------------------------------------- organisation


def test_organisation_is_rendered_from_the_tenant(env: Env) -> None:
    rendered = OrganisationRules().render(env.org, {})
    assert rendered["OrganisationID"] == env.org.tenant_id
    assert (rendered["Name"], rendered["ShortCode"]) == ("Settings Ltd", "!Set01")
    assert (rendered["CountryCode"], rendered["BaseCurrency"], rendered["Version"]) == (
        "NZ",
        "NZD",
        "NZ",
    )
    assert (rendered["OrganisationType"], rendered["OrganisationStatus"]) == ("COMPANY", "ACTIVE")
    assert rendered["Timezone"] == "NEWZEALANDSTANDARDTIME"
    validate("Organisation", "Organisations", [rendered])


def test_a_uk_organisation_reports_version_uk(env: Env) -> None:
    org = add_organisation(
        env.state, {"name": "UK Ltd", "country_code": "GB", "base_currency": "GBP"}
    )
    rendered = OrganisationRules().render(org, {})
    assert (rendered["Version"], rendered["Timezone"]) == ("UK", "GMTSTANDARDTIME")
    validate("Organisation", "Organisations", [rendered])


@pytest.mark.parametrize("mode", ["put", "post"])
def test_organisation_writes_are_not_implemented(env: Env, mode: str) -> None:
    with pytest.raises(NotImplementedError501) as caught:
        env.write(OrganisationRules(), [{"Name": "Renamed"}], mode=mode)
    assert caught.value.status == 501
    assert caught.value.body()["Type"] == "NotImplementedException"


# --------------------------------------------------------------------------- over HTTP


def test_http_organisation_get_and_post(xero_client: httpx.Client, sandbox) -> None:
    body = xero_client.get("/Organisation").json()
    assert [o["OrganisationID"] for o in body["Organisations"]] == [sandbox.demo.tenant_id]
    refused = xero_client.post("/Organisation", json={"Organisations": [{"Name": "x"}]})
    assert refused.status_code == 501


def test_http_accounts_items_and_tax_rates(xero_client: httpx.Client) -> None:
    account = xero_client.put("/Accounts", json={"Code": "482", "Name": "HTTP", "Type": "EXPENSE"})
    assert account.status_code == 200, account.text
    duplicate = xero_client.put(
        "/Accounts", json={"Code": "483", "Name": "http", "Type": "EXPENSE"}
    )
    assert duplicate.status_code == 400
    assert duplicate.json()["Elements"][0]["ValidationErrors"] == [
        {"Message": "Please enter a unique Name."}
    ]
    assert xero_client.get("/Items/WIDGET").json()["Items"][0]["Code"] == "WIDGET"
    assert xero_client.get("/TaxRates/OUTPUT2").json()["TaxRates"][0]["TaxType"] == "OUTPUT2"
