"""Reports computed from the sandbox's own journals: they balance, agree with each other and
with the documents, answer in the spec's ReportWithRows shape, and the SDK reads them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import authorised_client
from tests.sandbox.test_xero_python_sdk import _accounting, sdk  # noqa: F401


def _report(client: httpx.Client, name: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/Reports/{name}", params=params)
    assert response.status_code == 200, response.text
    reports = response.json()["Reports"]
    assert len(reports) == 1
    return reports[0]


def _rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in report["Rows"]:
        out.extend(row.get("Rows", []) if row["RowType"] == "Section" else [row])
    return out


def _value(report: dict[str, Any], label: str) -> Decimal:
    for row in _rows(report):
        if row["Cells"] and row["Cells"][0]["Value"] == label:
            return Decimal(row["Cells"][-1]["Value"])
    raise AssertionError(f"no row {label!r} in {report['ReportName']}")


def test_trial_balance_debits_equal_credits(xero_client: httpx.Client) -> None:
    report = _report(xero_client, "TrialBalance")
    total = next(r for r in _rows(report) if r["RowType"] == "SummaryRow")
    debit, credit = Decimal(total["Cells"][1]["Value"]), Decimal(total["Cells"][2]["Value"])
    assert debit == credit > 0
    accounts = [r for r in _rows(report) if r["RowType"] == "Row"]
    assert accounts and all(c["Attributes"][0]["Id"] == "account" for c in accounts[0]["Cells"])


def test_balance_sheet_balances_and_profit_follows_an_invoice(xero_client: httpx.Client) -> None:
    sheet = _report(xero_client, "BalanceSheet")
    assert _value(sheet, "Net Assets") == _value(sheet, "Total Equity")
    today = date.today().isoformat()
    before = _value(
        _report(xero_client, "ProfitAndLoss", fromDate=today, toDate=today), "Net Profit"
    )
    contact = xero_client.put("/Contacts", json={"Name": "Report Buyer"}).json()["Contacts"][0]
    xero_client.put(
        "/Invoices",
        json={
            "Type": "ACCREC",
            "Status": "AUTHORISED",
            "Date": today,
            "Contact": {"ContactID": contact["ContactID"]},
            "LineItems": [{"Description": "Job", "UnitAmount": 100, "AccountCode": "200"}],
        },
    )
    after = _report(xero_client, "ProfitAndLoss", fromDate=today, toDate=today)
    assert _value(after, "Net Profit") - before == Decimal("100.00")
    sheet = _report(xero_client, "BalanceSheet")
    assert _value(sheet, "Net Assets") == _value(sheet, "Total Equity")


def test_aged_receivables_list_what_the_contact_owes(xero_client: httpx.Client) -> None:
    contact = xero_client.put("/Contacts", json={"Name": "Aged Buyer"}).json()["Contacts"][0]
    for amount in (40, 60):
        xero_client.put(
            "/Invoices",
            json={
                "Type": "ACCREC",
                "Status": "AUTHORISED",
                "Contact": {"ContactID": contact["ContactID"]},
                "LineAmountTypes": "NoTax",
                "DueDate": "2026-01-31",
                "LineItems": [{"Description": "x", "UnitAmount": amount, "AccountCode": "200"}],
            },
        )
    report = _report(xero_client, "AgedReceivablesByContact", contactId=contact["ContactID"])
    rows = [r for r in _rows(report) if r["RowType"] == "Row"]
    assert [r["Cells"][-1]["Value"] for r in rows] == ["40.00", "60.00"]
    assert _value(report, "Total") == Decimal("100.00")
    payables = _report(xero_client, "AgedPayablesByContact", contactId=contact["ContactID"])
    assert _value(payables, "Total") == Decimal("0.00")
    missing = xero_client.get("/Reports/AgedReceivablesByContact")
    assert missing.status_code == 400 and "contactId" in missing.text


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"fromDate": "2026-13-01"}, "fromDate"),
        ({"fromDate": "2026-02-01", "toDate": "2026-01-01"}, "toDate"),
    ],
)
def test_bad_report_dates_are_a_400(
    xero_client: httpx.Client, params: dict[str, str], fragment: str
) -> None:
    response = xero_client.get("/Reports/ProfitAndLoss", params=params)
    assert response.status_code == 400 and fragment in response.json()["Message"]


def test_unknown_report_is_a_404(xero_client: httpx.Client) -> None:
    assert xero_client.get("/Reports/NoSuchReport").status_code == 404
    assert xero_client.get("/Reports").status_code == 404


def test_a_granular_report_scope_opens_only_its_report(sandbox: Any, xero_spec: Any) -> None:
    scopes = ["accounting.reports.profitandloss.read"]
    with authorised_client(sandbox, xero_spec, scopes=scopes) as client:
        assert client.get("/Reports/ProfitAndLoss").status_code == 200
        refused = client.get("/Reports/BalanceSheet")
        assert refused.status_code == 401  # a missing scope: insufficient_scope


def test_xero_python_sdk_reads_the_reports(sandbox: Any, sdk: Any) -> None:  # noqa: F811
    client, _ = sdk
    api = _accounting(sandbox, client)
    tenant = sandbox.demo.tenant_id
    for report in (
        api.get_report_profit_and_loss(tenant),
        api.get_report_balance_sheet(tenant),
        api.get_report_trial_balance(tenant),
    ):
        assert report.reports[0].rows, report
    contact = api.get_contacts(tenant).contacts[0]
    aged = api.get_report_aged_receivables_by_contact(tenant, contact.contact_id)
    assert aged.reports[0].report_type == "AgedReceivablesByContact"
