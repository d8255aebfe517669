"""The rest of the Accounting API a warehouse sync reads: each endpoint served with Xero's
rules and paging, read through XeroHook.iter_records from the provider's resource table,
and by the official xero-python SDK unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.provider.connections import xero_connection
from tests.sandbox.test_xero_python_sdk import _accounting, sdk  # noqa: F401
from xero_provider.hooks import XeroHook
from xero_provider.resources import get_resource

NEW_RESOURCES = [
    "ManualJournals",
    "Journals",
    "Overpayments",
    "Prepayments",
    "Users",
    "Currencies",
    "TrackingCategories",
    "ContactGroups",
    "BrandingThemes",
    "RepeatingInvoices",
    "LinkedTransactions",
    "Receipts",
    "ExpenseClaims",
]


@pytest.fixture
def hook(sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[XeroHook]:
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")
    hook = XeroHook(conn_id)
    yield hook
    hook.close()


def _state(sandbox: Any, resource: str) -> list[dict[str, Any]]:
    return sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/{resource}").json()[resource]


@pytest.mark.parametrize("resource", NEW_RESOURCES)
def test_hook_reads_every_new_resource_with_its_paging(
    sandbox: Any, hook: XeroHook, resource: str
) -> None:
    spec = get_resource(resource)
    sandbox.control("DELETE", "/requests")
    records = list(hook.iter_records(resource))
    ids = [r[spec.id_field] for r in records]
    assert records and len(ids) == len(set(ids))
    stored = {r[spec.id_field] for r in _state(sandbox, resource)}
    assert set(ids) <= stored
    calls = sandbox.requests(path=f"/api.xro/2.0/{spec.path}")
    queries = [c["query"] for c in calls]
    if spec.paging == "full":
        assert all("pageSize=1000" in q and "page=" in q for q in queries)
    elif spec.paging == "page":
        assert all("page=" in q and "pageSize" not in q for q in queries)
    elif spec.paging == "offset":
        assert queries[0] == "offset=0"
    else:
        assert all("page" not in q for q in queries)


def test_journals_page_by_offset_on_journal_number(
    sandbox: Any, hook: XeroHook, xero_client: httpx.Client
) -> None:
    """Xero's Journals: ``offset`` returns the next 100 with a greater JournalNumber."""
    lines = [
        {"LineAmount": 5, "AccountCode": "429"},
        {"LineAmount": -5, "AccountCode": "800"},
    ]
    batch = [
        {"Narration": f"Journal {i}", "Status": "POSTED", "JournalLines": lines} for i in range(50)
    ]
    for _ in range(5):
        assert xero_client.put("/ManualJournals", json={"ManualJournals": batch}).status_code == 200
    sandbox.control("DELETE", "/requests")
    journals = list(hook.iter_records("Journals"))
    numbers = [j["JournalNumber"] for j in journals]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 250
    offsets = [c["query"] for c in sandbox.requests(path="/api.xro/2.0/Journals")]
    assert offsets[:3] == ["offset=0", "offset=100", "offset=200"]
    assert len(offsets) == len(numbers) // 100 + 1
    raw = xero_client.get("/Journals", params={"offset": 100}).json()["Journals"]
    assert [j["JournalNumber"] for j in raw] == list(range(101, 201))
    for journal in journals:
        total = sum(Decimal(str(line["NetAmount"])) for line in journal["JournalLines"])
        assert total == 0, journal  # every journal balances


def test_journals_take_if_modified_since_on_created_date(
    sandbox: Any, hook: XeroHook, xero_client: httpx.Client
) -> None:
    later = sandbox.control("PUT", "/clock", json={"advance_seconds": 600}).json()["now"]
    body = {
        "Narration": "After the mark",
        "Status": "POSTED",
        "JournalLines": [
            {"LineAmount": 7, "AccountCode": "429"},
            {"LineAmount": -7, "AccountCode": "090"},
        ],
    }
    xero_client.put("/ManualJournals", json=body)
    recent = list(hook.iter_records("Journals", modified_since=later))
    assert [j["SourceType"] for j in recent] == ["MANJOURNAL"]


def test_voiding_a_posted_invoice_adds_a_reversing_journal(
    xero_client: httpx.Client,
) -> None:
    contact = xero_client.put("/Contacts", json={"Name": "Journal Buyer"}).json()["Contacts"][0]
    line = {"Description": "x", "UnitAmount": 100, "AccountCode": "200"}
    invoice = xero_client.put(
        "/Invoices",
        json={
            "Type": "ACCREC",
            "Status": "AUTHORISED",
            "Contact": {"ContactID": contact["ContactID"]},
            "LineItems": [line],
        },
    ).json()["Invoices"][0]
    xero_client.post(f"/Invoices/{invoice['InvoiceID']}", json={"Status": "VOIDED"})
    journals = [
        j
        for j in xero_client.get("/Journals", params={"offset": 0}).json()["Journals"]
        if j["SourceID"] == invoice["InvoiceID"]
    ]
    assert [j["SourceType"] for j in journals] == ["ACCREC", "ACCREC"]
    posted, reversal = journals
    by_code = {line["AccountCode"]: line["NetAmount"] for line in posted["JournalLines"]}
    assert by_code == {"200": -100.0, "820": -15.0, "610": 115.0}
    assert {line["AccountCode"]: line["NetAmount"] for line in reversal["JournalLines"]} == {
        code: -amount for code, amount in by_code.items()
    }


# --------------------------------------------------------------------- rules per endpoint


def test_manual_journals_must_balance_to_post(xero_client: httpx.Client) -> None:
    unbalanced = {
        "Narration": "Oops",
        "Status": "POSTED",
        "JournalLines": [
            {"LineAmount": 10, "AccountCode": "429"},
            {"LineAmount": -9, "AccountCode": "800"},
        ],
    }
    response = xero_client.put("/ManualJournals", json=unbalanced)
    assert response.status_code == 400
    messages = [m["Message"] for m in response.json()["Elements"][0]["ValidationErrors"]]
    assert messages == ["The total debits must equal the total credits."]
    missing = xero_client.put("/ManualJournals", json={"JournalLines": []})
    assert "Narration must be specified." in missing.text


def test_overpayment_allocation_pays_an_invoice(xero_client: httpx.Client) -> None:
    contact = xero_client.put("/Contacts", json={"Name": "Overpaid Co"}).json()["Contacts"][0]
    ref = {"ContactID": contact["ContactID"]}
    txn = xero_client.put(
        "/BankTransactions",
        json={
            "Type": "RECEIVE-OVERPAYMENT",
            "Contact": ref,
            "BankAccount": {"Code": "090"},
            "LineAmountTypes": "NoTax",
            "LineItems": [{"Description": "Overpaid", "LineAmount": 80}],
        },
    ).json()["BankTransactions"][0]
    overpayment_id = txn["OverpaymentID"]
    credit = xero_client.get(f"/Overpayments/{overpayment_id}").json()["Overpayments"][0]
    assert credit["RemainingCredit"] == 80.0 and credit["Status"] == "AUTHORISED"
    invoice = xero_client.put(
        "/Invoices",
        json={
            "Type": "ACCREC",
            "Status": "AUTHORISED",
            "Contact": ref,
            "LineAmountTypes": "NoTax",
            "LineItems": [{"Description": "Work", "UnitAmount": 50, "AccountCode": "200"}],
        },
    ).json()["Invoices"][0]
    too_much = xero_client.put(
        f"/Overpayments/{overpayment_id}/Allocations",
        json={
            "Allocations": [
                {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 60, "Date": "2026-03-01"}
            ]
        },
    )
    assert too_much.status_code == 400
    assert "amount outstanding on the invoice" in too_much.text
    ok = xero_client.put(
        f"/Overpayments/{overpayment_id}/Allocations",
        json={
            "Allocations": [
                {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 50, "Date": "2026-03-01"}
            ]
        },
    )
    assert ok.status_code == 200, ok.text
    paid = xero_client.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]
    assert paid["AmountDue"] == 0.0 and paid["Status"] == "PAID"
    credit = xero_client.get(f"/Overpayments/{overpayment_id}").json()["Overpayments"][0]
    assert credit["RemainingCredit"] == 30.0 and len(credit["Allocations"]) == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bill", "A SPEND-PREPAYMENT prepayment can only be allocated to invoices of Type ACCPAY."),
        ("other-contact", "The prepayment and the invoice must be for the same contact."),
        (
            "draft",
            "Prepayments can only be allocated to AUTHORISED invoices; this invoice is DRAFT.",
        ),
        (
            "over-credit",
            "The amount being allocated exceeds the remaining credit on this prepayment.",
        ),
        ("missing", "The invoice to allocate the prepayment to was not found."),
        ("no-date", "Date must be specified."),
    ],
)
def test_prepayment_allocation_refusals(
    xero_client: httpx.Client, case: str, expected: str
) -> None:
    """The allocation check credit notes use serves prepayments too, in their own words."""
    supplier = xero_client.put("/Contacts", json={"Name": f"Prepaid {case}"}).json()["Contacts"][0]
    ref = {"ContactID": supplier["ContactID"]}
    txn = xero_client.put(
        "/BankTransactions",
        json={
            "Type": "SPEND-PREPAYMENT",
            "Contact": ref,
            "BankAccount": {"Code": "090"},
            "LineAmountTypes": "NoTax",
            "LineItems": [{"Description": "Paid ahead", "LineAmount": 40, "AccountCode": "300"}],
        },
    ).json()["BankTransactions"][0]
    other = xero_client.put("/Contacts", json={"Name": f"Other {case}"}).json()["Contacts"][0]
    invoice_type = "ACCREC" if case == "bill" else "ACCPAY"
    invoice = xero_client.put(
        "/Invoices",
        json={
            "Type": invoice_type,
            "Status": "DRAFT" if case == "draft" else "AUTHORISED",
            "Contact": {"ContactID": other["ContactID"]} if case == "other-contact" else ref,
            "LineAmountTypes": "NoTax",
            "LineItems": [{"Description": "Goods", "UnitAmount": 100, "AccountCode": "300"}],
        },
    ).json()["Invoices"][0]
    element: dict[str, Any] = {
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        "Amount": 50 if case == "over-credit" else 10,
        "Date": "2026-03-01",
    }
    if case == "missing":
        element["Invoice"] = {"InvoiceID": "00000000-0000-0000-0000-000000000001"}
    if case == "no-date":
        del element["Date"]
    refused = xero_client.put(
        f"/Prepayments/{txn['PrepaymentID']}/Allocations", json={"Allocations": [element]}
    )
    assert refused.status_code == 400
    messages = [m["Message"] for m in refused.json()["Elements"][0]["ValidationErrors"]]
    assert messages == [expected]
    credit = xero_client.get(f"/Prepayments/{txn['PrepaymentID']}").json()["Prepayments"][0]
    assert credit["RemainingCredit"] == 40.0 and credit["Allocations"] == []


def test_only_two_active_tracking_categories(xero_client: httpx.Client) -> None:
    existing = len(xero_client.get("/TrackingCategories").json()["TrackingCategories"])
    assert existing == 1  # the demo's Region
    assert xero_client.put("/TrackingCategories", json={"Name": "Project"}).status_code == 200
    third = xero_client.put("/TrackingCategories", json={"Name": "Team"})
    assert third.status_code == 400
    assert "only have 2 active tracking categories" in third.text
    archived = xero_client.put("/TrackingCategories", json={"Name": "Team", "Status": "ARCHIVED"})
    assert archived.status_code == 200
    listed = xero_client.get("/TrackingCategories").json()["TrackingCategories"]
    everything = xero_client.get("/TrackingCategories", params={"includeArchived": "true"})
    assert len(everything.json()["TrackingCategories"]) == len(listed) + 1
    region = next(c for c in listed if c["Name"] == "Region")
    assert [o["Name"] for o in region["Options"]] == ["North", "South"]
    dup = xero_client.put(
        f"/TrackingCategories/{region['TrackingCategoryID']}/Options",
        json={"Options": [{"Name": "north"}]},
    )
    assert dup.status_code == 400


def test_contact_groups_add_and_remove_members(xero_client: httpx.Client) -> None:
    group = xero_client.put("/ContactGroups", json={"Name": "VIP"}).json()["ContactGroups"][0]
    contact = xero_client.get("/Contacts").json()["Contacts"][0]
    path = f"/ContactGroups/{group['ContactGroupID']}/Contacts"
    assert (
        xero_client.put(path, json={"Contacts": [{"ContactID": contact["ContactID"]}]}).status_code
        == 200
    )
    members = xero_client.get(f"/ContactGroups/{group['ContactGroupID']}").json()["ContactGroups"][
        0
    ]
    assert [c["ContactID"] for c in members["Contacts"]] == [contact["ContactID"]]
    assert xero_client.delete(f"{path}/{contact['ContactID']}").status_code == 204
    emptied = xero_client.get(f"/ContactGroups/{group['ContactGroupID']}").json()["ContactGroups"][
        0
    ]
    assert emptied["Contacts"] == []
    assert xero_client.put("/ContactGroups", json={"Name": "vip"}).status_code == 400


def test_receipts_claimed_on_an_expense_claim(xero_client: httpx.Client) -> None:
    user = xero_client.get("/Users").json()["Users"][0]
    receipt = xero_client.put(
        "/Receipts",
        json={
            "Date": "2026-02-01",
            "Contact": {"Name": "Stationer"},
            "User": {"UserID": user["UserID"]},
            "LineItems": [{"Description": "Pens", "UnitAmount": 10, "AccountCode": "429"}],
        },
    ).json()["Receipts"][0]
    assert receipt["Status"] == "DRAFT" and receipt["Total"] == 11.5
    claim = xero_client.put(
        "/ExpenseClaims",
        json={
            "User": {"UserID": user["UserID"]},
            "Receipts": [{"ReceiptID": receipt["ReceiptID"]}],
        },
    ).json()["ExpenseClaims"][0]
    assert claim["Status"] == "SUBMITTED" and claim["Total"] == 11.5
    again = xero_client.put(
        "/ExpenseClaims",
        json={
            "User": {"UserID": user["UserID"]},
            "Receipts": [{"ReceiptID": receipt["ReceiptID"]}],
        },
    )
    assert again.status_code == 400
    approved = xero_client.post(
        f"/ExpenseClaims/{claim['ExpenseClaimID']}", json={"Status": "AUTHORISED"}
    )
    assert approved.json()["ExpenseClaims"][0]["Status"] == "AUTHORISED"
    stored = xero_client.get(f"/Receipts/{receipt['ReceiptID']}").json()["Receipts"][0]
    assert stored["Status"] == "AUTHORISED"


def test_linked_transactions_need_a_bill_line(xero_client: httpx.Client) -> None:
    bad = xero_client.put(
        "/LinkedTransactions", json={"SourceTransactionID": "00000000-0000-0000-0000-000000000001"}
    )
    assert bad.status_code == 400
    text = bad.text
    assert "SourceLineItemID must be specified." in text and "bill (ACCPAY)" in text
    listed = xero_client.get("/LinkedTransactions", params={"page": 1}).json()["LinkedTransactions"]
    assert listed and listed[0]["Status"] == "APPROVED"
    link_id = listed[0]["LinkedTransactionID"]
    assert xero_client.delete(f"/LinkedTransactions/{link_id}").status_code == 204
    assert xero_client.get(f"/LinkedTransactions/{link_id}").status_code == 404


def test_repeating_invoice_needs_a_schedule(xero_client: httpx.Client) -> None:
    contact = xero_client.get("/Contacts").json()["Contacts"][0]
    response = xero_client.put(
        "/RepeatingInvoices",
        json={
            "Type": "ACCREC",
            "Contact": {"ContactID": contact["ContactID"]},
            "Schedule": {"Period": 0, "Unit": "YEARLY"},
            "LineItems": [{"Description": "x", "UnitAmount": 1}],
        },
    )
    assert response.status_code == 400
    messages = response.text
    assert "Period" in messages and "Unit" in messages and "StartDate" in messages


def test_currencies_add_by_iso_code(xero_client: httpx.Client) -> None:
    added = xero_client.put("/Currencies", json={"Code": "usd"})
    assert added.status_code == 200
    assert added.json()["Currencies"][0] == {"Code": "USD", "Description": "United States Dollar"}
    assert xero_client.put("/Currencies", json={"Code": "USD"}).status_code == 400
    assert xero_client.put("/Currencies", json={"Code": "XXX"}).status_code == 400


# ----------------------------------------------------------------------- xero-python SDK


SDK_READS = [
    ("get_currencies", "currencies"),
    ("get_tracking_categories", "tracking_categories"),
    ("get_contact_groups", "contact_groups"),
    ("get_branding_themes", "branding_themes"),
    ("get_users", "users"),
    ("get_manual_journals", "manual_journals"),
    ("get_journals", "journals"),
    ("get_overpayments", "overpayments"),
    ("get_prepayments", "prepayments"),
    ("get_repeating_invoices", "repeating_invoices"),
    ("get_linked_transactions", "linked_transactions"),
    ("get_receipts", "receipts"),
    ("get_expense_claims", "expense_claims"),
]


@pytest.mark.parametrize(("method", "attribute"), SDK_READS, ids=[m for m, _ in SDK_READS])
def test_xero_python_sdk_reads_each_new_endpoint(
    sandbox: Any,
    sdk: Any,  # noqa: F811
    method: str,
    attribute: str,
) -> None:
    client, _ = sdk
    api = _accounting(sandbox, client)
    result = getattr(api, method)(sandbox.demo.tenant_id)
    records = getattr(result, attribute)
    assert records, f"{method} returned no records"
    first = records[0]
    assert first.to_dict(), "the SDK built its model from the sandbox's answer"


# ------------------------------------------------------------------ the plan, without I/O


def test_offset_plan_counts_on_the_number_field() -> None:
    from xero_provider.hooks.planning import ListPlan

    plan = ListPlan.build(get_resource("Journals"))
    assert plan.page_size == 100 and plan.page_params(1) == {"offset": "0"}
    full = [{"JournalNumber": n} for n in range(1, 101)]
    assert plan.is_last_page(1, {}, full) is False
    assert plan.page_params(2) == {"offset": "100"}
    assert plan.is_last_page(2, {}, [{"JournalNumber": 101}]) is True
    with pytest.raises(ValueError, match="where"):
        ListPlan.build(get_resource("Journals"), where='Reference=="x"')


@pytest.mark.parametrize(
    ("resource", "statuses", "expected"),
    [
        ("Invoices", ["PAID", "DRAFT"], {"Statuses": "PAID,DRAFT"}),
        ("Quotes", ["SENT"], {"Status": "SENT"}),
        ("LinkedTransactions", ["APPROVED"], {"Status": "APPROVED"}),
        ("ManualJournals", ["POSTED"], {"where": 'Status=="POSTED"'}),
    ],
)
def test_query_facts_come_from_the_table(
    resource: str, statuses: list[str], expected: dict[str, str]
) -> None:
    from xero_provider.hooks.planning import ListPlan

    assert ListPlan.build(get_resource(resource), statuses=statuses).params == expected
    a, b = "0b6f6a36-1d1f-4a55-9d42-0d6c2f1c9a01", "0b6f6a36-1d1f-4a55-9d42-0d6c2f1c9a02"
    ids = ListPlan.build(get_resource("Contacts"), ids=[a, b]).params
    assert ids == {"IDs": f"{a},{b}"}
