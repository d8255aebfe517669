"""pyxero (an unchanged client from PyPI) against the sandbox: it writes in XML, reads
the plural ``/Organisations`` and lower-case ``history`` paths, and indexes the empty
collections Xero always sends.

Only its base URL is pointed at the sandbox (``credentials.base_url``, the attribute
its managers read) and oauthlib is told plain http is fine; its code is not touched.
"""

from __future__ import annotations

from typing import Any

import pytest
from xero import Xero
from xero.auth import OAuth2Credentials


@pytest.fixture
def pyxero(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Xero:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # oauthlib's switch for http://
    demo = sandbox.demo
    token = sandbox.tokens(tenant_ids=[demo.tenant_id])
    credentials = OAuth2Credentials(
        demo.web_client_id, demo.web_client_secret, token=token, tenant_id=demo.tenant_id
    )
    credentials.base_url = sandbox.url
    return Xero(credentials)


def _last_request(sandbox: Any, method: str) -> dict[str, Any]:
    entries = sandbox.control("GET", "/requests").json()
    entries = entries.get("requests", entries) if isinstance(entries, dict) else entries
    return [e for e in entries if e["method"] == method][-1]


def test_pyxero_creates_and_updates_a_contact_in_xml(sandbox: Any, pyxero: Xero) -> None:
    created = pyxero.contacts.put(
        {
            "Name": "XML Stationers",
            "EmailAddress": "xml@example.com",
            "Addresses": [{"AddressType": "POBOX", "City": "Wellington"}],
            "IsSupplier": True,
        }
    )[0]
    assert created["Name"] == "XML Stationers"
    assert created["Addresses"][0]["City"] == "Wellington"
    created["EmailAddress"] = "accounts@xml.example.com"
    updated = pyxero.contacts.save(created)[0]
    assert updated["EmailAddress"] == "accounts@xml.example.com"
    fetched = pyxero.contacts.get(created["ContactID"])[0]
    assert fetched["EmailAddress"] == "accounts@xml.example.com"
    assert fetched["ContactGroups"] == [] and fetched["ContactPersons"] == []


def test_pyxero_writes_an_invoice_and_a_history_note_in_xml(sandbox: Any, pyxero: Xero) -> None:
    contact = pyxero.contacts.all()[0]
    invoice = pyxero.invoices.put(
        {
            "Type": "ACCREC",
            "Contact": {"ContactID": contact["ContactID"]},
            "LineItems": [
                {"Description": "Paper", "Quantity": 3, "UnitAmount": 12.5, "AccountCode": "200"}
            ],
            "Status": "DRAFT",
        }
    )[0]
    assert invoice["SubTotal"] == 37.5  # numbers in XML are typed by Xero's spec
    assert invoice["LineItems"][0]["Quantity"] == 3
    pyxero.invoices.put_history(invoice["InvoiceID"], "sent in XML")
    history = pyxero.invoices.get_history(invoice["InvoiceID"])  # GET ./history/
    assert any(r.get("Details") == "sent in XML" for r in history["HistoryRecords"])


def test_pyxero_reads_the_plural_organisations(pyxero: Xero, sandbox: Any) -> None:
    organisations = pyxero.organisations.all()
    assert organisations[0]["Name"] == sandbox.demo.tenant_name


def test_a_bad_xml_element_gets_xeros_validation_error(sandbox: Any, pyxero: Xero) -> None:
    from xero.exceptions import XeroBadRequest

    with pytest.raises(XeroBadRequest) as caught:
        pyxero.contacts.put({"Name": ""})
    assert "name must be specified" in str(caught.value.errors).lower()
