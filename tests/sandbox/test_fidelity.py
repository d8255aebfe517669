"""Where the sandbox used to differ from Xero: list parameters it ignored, line items on
unpaged lists, response formats, unit decimal places and tax overrides, large
organisations, and what a draft needs. Each test names its source."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from tests.conftest import authorised_client


def _contact(xero_client: httpx.Client, **fields: Any) -> dict:
    response = xero_client.put("/Contacts", json={"Contacts": [fields]})
    assert response.status_code == 200, response.text
    return response.json()["Contacts"][0]


def _invoice(xero_client: httpx.Client, contact_id: str, **fields: Any) -> dict:
    body = {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "LineItems": [
            {"Description": "Widget", "Quantity": 2, "UnitAmount": 10, "AccountCode": "200"}
        ],
        **fields,
    }
    response = xero_client.put("/Invoices", json={"Invoices": [body]})
    assert response.status_code == 200, response.text
    return response.json()["Invoices"][0]


# ------------------------------------------------------------------------ searchTerm


def test_search_term_filters_contacts_across_the_documented_fields(
    xero_client: httpx.Client,
) -> None:
    """spec GET /Contacts searchTerm: "a case-insensitive text search across the Name,
    FirstName, LastName, ContactNumber and EmailAddress fields"."""
    by_name = _contact(xero_client, Name="Zebracorn Holdings")
    by_mail = _contact(xero_client, Name="Plain Ltd", EmailAddress="ops@zebracorn.example")
    by_last = _contact(xero_client, Name="Other Ltd", LastName="ZEBRACORN")
    everyone = xero_client.get("/Contacts").json()["Contacts"]
    found = xero_client.get("/Contacts", params={"searchTerm": "zebraCORN"}).json()["Contacts"]
    assert {c["ContactID"] for c in found} == {
        by_name["ContactID"],
        by_mail["ContactID"],
        by_last["ContactID"],
    }
    assert len(everyone) > len(found)
    none = xero_client.get("/Contacts", params={"searchTerm": "no-such-text-anywhere"})
    assert none.json()["Contacts"] == []


def test_search_term_filters_invoices_by_number_and_reference(xero_client: httpx.Client) -> None:
    """spec searchTerm on Invoices: "e.g. InvoiceNumber, Reference"."""
    contact = _contact(xero_client, Name="Search Buyer")
    wanted = _invoice(xero_client, contact["ContactID"], Reference="PO-QUOKKA-77")
    _invoice(xero_client, contact["ContactID"], Reference="something else")
    found = xero_client.get("/Invoices", params={"searchTerm": "quokka"}).json()["Invoices"]
    assert [i["InvoiceID"] for i in found] == [wanted["InvoiceID"]]
    by_number = xero_client.get("/Invoices", params={"searchTerm": wanted["InvoiceNumber"]})
    assert wanted["InvoiceID"] in {i["InvoiceID"] for i in by_number.json()["Invoices"]}


# ---------------------------------------------------------------------- createdByMyApp


def test_created_by_my_app_keeps_only_this_apps_invoices(
    sandbox: Any, xero_client: httpx.Client, xero_spec: Any
) -> None:
    """spec: "When set to true you'll only retrieve Invoices created by your app"."""
    contact = _contact(xero_client, Name="Mine Buyer")
    mine = _invoice(xero_client, contact["ContactID"])
    with authorised_client(sandbox, xero_spec, client_id=sandbox.demo.pkce_client_id) as other:
        theirs = _invoice(other, contact["ContactID"])
        seen_by_other = other.get("/Invoices", params={"createdByMyApp": "true"}).json()
    ours = xero_client.get("/Invoices", params={"createdByMyApp": "true"}).json()["Invoices"]
    assert [i["InvoiceID"] for i in ours] == [mine["InvoiceID"]]  # demo data was seeded
    assert [i["InvoiceID"] for i in seen_by_other["Invoices"]] == [theirs["InvoiceID"]]
    everything = xero_client.get("/Invoices", params={"createdByMyApp": "false"}).json()
    assert len(everything["Invoices"]) > 2


# ------------------------------------------------------------------------ summaryOnly


def test_summary_only_leaves_out_heavy_fields(xero_client: httpx.Client) -> None:
    """spec summaryOnly: "returns only lightweight fields, excluding computation-heavy
    fields". Which fields exactly is not published: the sandbox empties the collections."""
    contact = _contact(
        xero_client,
        Name="Summary Co",
        Addresses=[{"AddressType": "POBOX", "City": "Wellington"}],
    )
    _invoice(xero_client, contact["ContactID"])
    params = {"summaryOnly": "true", "page": 1, "where": f'Name=="{contact["Name"]}"'}
    summary = xero_client.get("/Contacts", params=params).json()["Contacts"][0]
    full = xero_client.get("/Contacts", params={**params, "summaryOnly": "false"}).json()
    assert summary["Addresses"] == [] and full["Contacts"][0]["Addresses"]
    invoices = xero_client.get("/Invoices", params={"summaryOnly": "true", "page": 1}).json()
    assert all(i["LineItems"] == [] and i["Payments"] == [] for i in invoices["Invoices"])
    assert all("Total" in i for i in invoices["Invoices"])


# ------------------------------------------------------------- line items need a page


@pytest.mark.parametrize("resource", ["Invoices", "CreditNotes", "BankTransactions", "Quotes"])
def test_unpaged_lists_leave_out_line_items(xero_client: httpx.Client, resource: str) -> None:
    """spec, page parameter: "Up to 100 invoices will be returned in a single API call with
    line items shown for each invoice" - without page the lines are not shown."""
    unpaged = xero_client.get(f"/{resource}").json()[resource]
    paged = xero_client.get(f"/{resource}", params={"page": 1}).json()[resource]
    assert unpaged and all(r["LineItems"] == [] for r in unpaged)
    assert any(r["LineItems"] for r in paged)
    one = paged[0]
    id_field = next(k for k in one if k.endswith("ID") and k[:-2] in resource)
    single = xero_client.get(f"/{resource}/{one[id_field]}").json()[resource][0]
    assert single["LineItems"] == one["LineItems"]


# ------------------------------------------------------------------ formats: XML, PDF


def test_no_accept_header_gets_xml(sandbox: Any, xero_client: httpx.Client) -> None:
    """Xero answers XML unless the request asks for JSON (requests-and-responses page)."""
    headers = {k: v for k, v in xero_client.headers.items() if k.lower() != "accept"}
    with httpx.Client(base_url=str(xero_client.base_url), timeout=30) as bare:
        response = bare.get("/Contacts", headers={**headers, "Accept": ""})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        root = ET.fromstring(response.content)
        assert root.tag == "Response" and root.findtext("Status") == "OK"
        names = [c.findtext("Name") for c in root.find("Contacts").findall("Contact")]
        json_names = [c["Name"] for c in xero_client.get("/Contacts").json()["Contacts"]]
        assert names == json_names
        error = bare.put("/Contacts", headers=headers, json={"Contacts": [{"Name": ""}]})
        assert error.status_code == 400
        assert ET.fromstring(error.content).tag == "ApiException"


@pytest.mark.parametrize("resource", ["Invoices", "CreditNotes", "Quotes", "PurchaseOrders"])
def test_accept_pdf_returns_the_document_as_pdf(xero_client: httpx.Client, resource: str) -> None:
    """spec getInvoiceAsPdf (x-path /Invoices/{InvoiceID}) and its siblings."""
    record = xero_client.get(f"/{resource}", params={"page": 1}).json()[resource][0]
    id_field = next(k for k in record if k.endswith("ID") and k[:-2] in resource)
    for path in (f"/{resource}/{record[id_field]}", f"/{resource}/{record[id_field]}/pdf"):
        response = xero_client.get(path, headers={"Accept": "application/pdf"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-1.4") and response.content.rstrip().endswith(
            b"%%EOF"
        )
        number = next((v for k, v in record.items() if k.endswith("Number")), "")
        assert number.encode() in response.content


# --------------------------------------------------------------- unitdp and TaxAmount


def test_unit_amounts_have_two_places_unless_unitdp_4(xero_client: httpx.Client) -> None:
    """spec unitdp: "You can opt in to use four decimal places for unit amounts"."""
    contact = _contact(xero_client, Name="Decimal Buyer")
    line = {"Description": "Fine", "Quantity": 3, "UnitAmount": 1.23456, "AccountCode": "200"}
    body = {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "LineItems": [line]}
    four = xero_client.put("/Invoices", params={"unitdp": 4}, json=body).json()["Invoices"][0]
    assert four["LineItems"][0]["UnitAmount"] == 1.2346
    assert four["LineItems"][0]["LineAmount"] == 3.70  # 3 x 1.2346 = 3.7038
    two = xero_client.put("/Invoices", json=body).json()["Invoices"][0]
    assert two["LineItems"][0]["UnitAmount"] == 1.23
    assert two["LineItems"][0]["LineAmount"] == 3.69
    read = xero_client.get(f"/Invoices/{four['InvoiceID']}").json()["Invoices"][0]
    assert read["LineItems"][0]["UnitAmount"] == 1.23  # shown at 2 places when not asked
    read4 = xero_client.get(f"/Invoices/{four['InvoiceID']}", params={"unitdp": 4}).json()
    assert read4["Invoices"][0]["LineItems"][0]["UnitAmount"] == 1.2346
    half = {**line, "UnitAmount": 0.125, "Quantity": 1}
    rounded = xero_client.put("/Invoices", json={**body, "LineItems": [half]}).json()
    assert rounded["Invoices"][0]["LineItems"][0]["UnitAmount"] == 0.13  # half away from zero


def test_a_sent_tax_amount_overrides_the_computed_one(xero_client: httpx.Client) -> None:
    """spec LineItem.TaxAmount: "This value can be overriden if the calculated <TaxAmount>
    is not correct"."""
    contact = _contact(xero_client, Name="Tax Override Buyer")
    line = {"Description": "Odd tax", "UnitAmount": 100, "AccountCode": "200", "TaxAmount": 14.99}
    invoice = _invoice(xero_client, contact["ContactID"], LineItems=[line])
    assert invoice["LineItems"][0]["TaxAmount"] == 14.99
    assert invoice["TotalTax"] == 14.99 and invoice["Total"] == 114.99
    approved = xero_client.post(
        f"/Invoices/{invoice['InvoiceID']}", json={"Status": "AUTHORISED"}
    ).json()["Invoices"][0]
    assert approved["TotalTax"] == 14.99  # the override survives the status change
    computed = _invoice(xero_client, contact["ContactID"], LineItems=[{**line, "TaxAmount": None}])
    assert computed["TotalTax"] == 15.0  # 15% GST on 100


# ------------------------------------------------------------------ large organisations


def test_high_volume_organisation_refuses_unoptimised_where_and_order(
    sandbox: Any, xero_client: httpx.Client
) -> None:
    """Xero refuses filters it cannot optimise on very large organisations with a plain-text
    400 (XeroAPI/xero-php-oauth2-app issue 30); the optimised lists are Xero's
    efficient-data-retrieval lists (as CData's Xero docs reproduce them)."""
    tenant = sandbox.demo.tenant_id
    slow = {"where": 'Reference.Contains("x")'}
    assert xero_client.get("/Invoices", params=slow).status_code == 200
    changed = sandbox.control("PUT", f"/organisations/{tenant}", json={"high_volume": True})
    assert changed.json()["high_volume"] is True
    refused = xero_client.get("/Invoices", params={"where": "SubTotal > 10", "page": 1})
    assert refused.status_code == 400
    assert refused.text.startswith(
        "Your request is not filtering invoices efficiently, given the extremely high volume"
    )
    assert "SubTotal" in refused.text
    order = xero_client.get("/Contacts", params={"order": "EmailAddress DESC"})
    assert order.status_code == 400 and "EmailAddress" in order.text
    fine = xero_client.get(
        "/Invoices",
        params={"where": 'Status=="AUTHORISED" AND Contact.ContactID!=null', "order": "Date"},
    )
    assert fine.status_code == 200
    sandbox.control("PUT", f"/organisations/{tenant}", json={"high_volume": False})
    assert xero_client.get("/Invoices", params={"where": "SubTotal > 10"}).status_code == 200


def test_high_volume_switch_refuses_unknown_organisations(sandbox: Any) -> None:
    response = httpx.put(
        sandbox.url + "/__sandbox/organisations/nope", json={"high_volume": True}, timeout=30
    )
    assert response.status_code == 404


def test_xml_stays_well_formed_for_any_json(sandbox: Any, xero_client: httpx.Client) -> None:
    """Control characters and odd keys (echoed in an error) still make valid XML."""
    headers = {k: v for k, v in xero_client.headers.items() if k.lower() != "accept"}
    with httpx.Client(base_url=str(xero_client.base_url), timeout=30) as bare:
        made = bare.put(
            "/Contacts",
            headers={**headers, "Accept": ""},
            json={"Contacts": [{"Name": "Bell\u0007 Ltd"}, {"Name": "", "odd key<>": 1}]},
        )
        assert made.status_code == 400
        root = ET.fromstring(made.content)
        assert root.tag == "ApiException"
        listed = bare.get("/Contacts", headers={**headers, "Accept": ""})
        names = [c.findtext("Name") for c in ET.fromstring(listed.content).iter("Contact")]
        assert "Bell Ltd" in names
