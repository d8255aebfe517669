"""Fidelity, third round: XML request bodies, empty collections, case-insensitive paths and
the plural ``/Organisations``. Sources are in BEHAVIOUR.md; pyxero's own run through the
same behaviour is in test_pyxero_client.py."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

CONTACTS_XML = (
    b"<Contacts><Contact><Name>Angle Brackets Ltd</Name><IsSupplier>true</IsSupplier>"
    b"<Phones><Phone><PhoneType>MOBILE</PhoneType><PhoneNumber>021 555</PhoneNumber></Phone>"
    b"</Phones></Contact></Contacts>"
)


def _bare(xero_client: httpx.Client) -> httpx.Client:
    """The same credentials without ``Accept: application/json``."""
    headers = {k: v for k, v in xero_client.headers.items() if k.lower() != "accept"}
    return httpx.Client(base_url=str(xero_client.base_url), headers=headers, timeout=30)


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml; charset=utf-8"])
def test_an_xml_body_writes_like_json(xero_client: httpx.Client, content_type: str) -> None:
    response = xero_client.put(
        "/Contacts", content=CONTACTS_XML, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    contact = response.json()["Contacts"][0]
    assert contact["Name"] == "Angle Brackets Ltd"
    assert contact["Phones"] == [{"PhoneType": "MOBILE", "PhoneNumber": "021 555"}]
    stored = xero_client.get(f"/Contacts/{contact['ContactID']}").json()["Contacts"][0]
    assert stored["Phones"][0]["PhoneNumber"] == "021 555"


def test_form_encoded_xml_is_read_and_xml_is_answered_without_accept(
    xero_client: httpx.Client,
) -> None:
    body = urlencode({"xml": CONTACTS_XML.decode().replace("Angle", "Form")})
    with _bare(xero_client) as bare:
        response = bare.put(
            "/Contacts",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.find("Contacts/Contact/Name").text == "Form Brackets Ltd"


def test_an_xml_validation_error_names_the_field(xero_client: httpx.Client) -> None:
    response = xero_client.put(
        "/Contacts",
        content=b"<Contact><Name></Name></Contact>",
        headers={"Content-Type": "application/xml"},
    )
    assert response.status_code == 400
    messages = response.json()["Elements"][0]["ValidationErrors"]
    assert "contact name must be specified" in messages[0]["Message"].lower()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><Contact><Name>&a;</Name></Contact>', "DTD"),
        (b"<Contact><Name>unclosed</Contact>", "Invalid Xml data"),
        (b"<a>" * 70 + b"</a>" * 70, "nested deeper than 64"),
        (b'{"Contacts": [{"Name": "JSON labelled XML"}]}', "Invalid Xml data"),
    ],
)
def test_bad_xml_is_a_400_and_stores_nothing(
    sandbox: Any, xero_client: httpx.Client, body: bytes, expected: str
) -> None:
    before = len(xero_client.get("/Contacts").json()["Contacts"])
    response = xero_client.put(
        "/Contacts", content=body, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 400
    assert response.json()["Type"] == "PostDataInvalidException"
    assert expected in response.json()["Message"]
    assert len(xero_client.get("/Contacts").json()["Contacts"]) == before


def test_contacts_carry_their_empty_collections(xero_client: httpx.Client) -> None:
    """spec examples of GET /Contacts: ``ContactGroups: []``, ``ContactPersons: []``."""
    created = xero_client.put("/Contacts", json={"Name": "Bare Minimum"}).json()["Contacts"][0]
    for listed in (created, xero_client.get(f"/Contacts/{created['ContactID']}").json()):
        record = listed if "ContactID" in listed else listed["Contacts"][0]
        for key in ("ContactGroups", "ContactPersons", "Addresses", "Phones"):
            assert record[key] == [], key
    everyone = xero_client.get("/Contacts").json()["Contacts"]
    assert all(isinstance(c["ContactGroups"], list) for c in everyone)


def test_a_contact_lists_the_groups_it_is_in(xero_client: httpx.Client) -> None:
    contact = xero_client.put("/Contacts", json={"Name": "Grouped Co"}).json()["Contacts"][0]
    group = xero_client.put("/ContactGroups", json={"ContactGroups": [{"Name": "VIP xml"}]})
    group_id = group.json()["ContactGroups"][0]["ContactGroupID"]
    added = xero_client.put(
        f"/ContactGroups/{group_id}/Contacts",
        json={"Contacts": [{"ContactID": contact["ContactID"]}]},
    )
    assert added.status_code == 200, added.text
    record = xero_client.get(f"/Contacts/{contact['ContactID']}").json()["Contacts"][0]
    assert [g["ContactGroupID"] for g in record["ContactGroups"]] == [group_id]


@pytest.mark.parametrize(
    "path", ["/API.XRO/2.0/CONTACTS", "/Api.Xro/2.0/contacts", "/api.xro/2.0/Organisations"]
)
def test_paths_are_case_insensitive_and_the_plural_organisations_answers(
    sandbox: Any, xero_client: httpx.Client, path: str
) -> None:
    with httpx.Client(base_url=sandbox.url, headers=xero_client.headers, timeout=30) as root:
        response = root.get(path)
    assert response.status_code == 200, response.text
    assert response.json()["Status"] == "OK"


def test_plural_organisations_is_the_same_as_the_singular(xero_client: httpx.Client) -> None:
    plural = xero_client.get("/organisations").json()["Organisations"]
    singular = xero_client.get("/Organisation").json()["Organisations"]
    assert plural == singular and len(plural) == 1
