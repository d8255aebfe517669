"""Reads: by ID and number, paging, If-Modified-Since, where, order, IDs, archived, paths."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from tests.conftest import authorised_client
from xero_sandbox.dates import parse_datetime


def _generate(sandbox, count: int, resource: str = "Contacts", spread: float = 0.0) -> None:
    sandbox.control(
        "POST",
        "/generate",
        json={
            "tenant_id": sandbox.demo.tenant_id,
            "resource": resource,
            "count": count,
            "spread_seconds": spread,
        },
    )


def test_get_contact_by_id_and_by_number(xero_client: httpx.Client) -> None:
    created = xero_client.put(
        "/Contacts", json={"Contacts": [{"Name": "Kiwi Kites", "ContactNumber": "KK-1"}]}
    )
    contact = created.json()["Contacts"][0]
    by_id = xero_client.get(f"/Contacts/{contact['ContactID']}").json()["Contacts"]
    by_number = xero_client.get("/Contacts/KK-1").json()["Contacts"]
    assert [c["ContactID"] for c in by_id] == [contact["ContactID"]]
    assert [c["ContactID"] for c in by_number] == [contact["ContactID"]]


def test_unknown_id_is_a_plain_text_404(xero_client: httpx.Client) -> None:
    response = xero_client.get("/Contacts/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.text == "The resource you're looking for cannot be found"


def test_envelope_and_dates_are_xero_shaped(xero_client: httpx.Client) -> None:
    body = xero_client.get("/Contacts").json()
    assert body["Status"] == "OK"
    assert body["DateTimeUTC"].startswith("/Date(")
    contact = body["Contacts"][0]
    assert contact["UpdatedDateUTC"].startswith("/Date(") and contact["UpdatedDateUTC"].endswith(
        "+0000)/"
    )


@pytest.mark.parametrize(
    "path",
    ["/contacts", "/CONTACTS", "/Contacts"],
    ids=["lower", "upper", "canonical"],
)
def test_paths_match_case_insensitively(sandbox, xero_client: httpx.Client, path: str) -> None:
    response = httpx.get(
        sandbox.url + "/API.XRO/2.0" + path, headers=dict(xero_client.headers), timeout=10
    )
    assert response.status_code == 200
    assert response.json()["Contacts"]


def test_paging_uses_page_size_and_reports_pagination(sandbox, xero_client: httpx.Client) -> None:
    _generate(sandbox, 250)
    total = len(xero_client.get("/Contacts").json()["Contacts"])
    page1 = xero_client.get("/Contacts", params={"page": 1, "pageSize": 100}).json()
    page3 = xero_client.get("/Contacts", params={"page": 3, "pageSize": 100}).json()
    assert len(page1["Contacts"]) == 100
    assert len(page3["Contacts"]) == total - 200
    assert page1["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 3, "itemCount": total}


def test_page_size_is_capped_at_xero_maximum(sandbox, xero_client: httpx.Client) -> None:
    _generate(sandbox, 1200)
    body = xero_client.get("/Contacts", params={"page": 1, "pageSize": 5000}).json()
    assert body["pagination"]["pageSize"] == 1000
    assert len(body["Contacts"]) == 1000


def test_pages_together_return_every_record_once(sandbox, xero_client: httpx.Client) -> None:
    _generate(sandbox, 230)
    seen: list[str] = []
    page = 1
    while True:
        batch = xero_client.get("/Contacts", params={"page": page, "pageSize": 50}).json()
        seen += [c["ContactID"] for c in batch["Contacts"]]
        if len(batch["Contacts"]) < 50:
            break
        page += 1
    everything = xero_client.get("/Contacts").json()["Contacts"]
    assert sorted(seen) == sorted(c["ContactID"] for c in everything)
    assert len(seen) == len(set(seen))


def _set_clock(sandbox, when: datetime) -> None:
    sandbox.control("PUT", "/clock", json={"now": when.isoformat()})


def _client_at(sandbox, xero_spec, when: datetime) -> httpx.Client:
    """Move the sandbox clock, then authorise (a token from before a jump may be expired)."""
    _set_clock(sandbox, when)
    return authorised_client(sandbox, xero_spec)


@pytest.mark.parametrize(
    "header_form",
    ["rfc1123", "iso_naive", "iso_z", "iso_offset"],
)
def test_if_modified_since_accepts_client_date_forms(sandbox, xero_spec, header_form: str) -> None:
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    _client_at(sandbox, xero_spec, base).put("/Contacts", json={"Name": "Before Cutoff"})
    xero_client = _client_at(sandbox, xero_spec, base + timedelta(hours=2))
    xero_client.put("/Contacts", json={"Name": "After Cutoff"})
    cutoff = base + timedelta(hours=1)
    header = {
        "rfc1123": email.utils.format_datetime(cutoff, usegmt=True),
        "iso_naive": cutoff.strftime("%Y-%m-%dT%H:%M:%S"),
        "iso_z": cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "iso_offset": cutoff.astimezone(timezone(timedelta(hours=13))).isoformat(),
    }[header_form]
    names = [
        c["Name"]
        for c in xero_client.get("/Contacts", headers={"If-Modified-Since": header}).json()[
            "Contacts"
        ]
    ]
    assert names == ["After Cutoff"]


def test_if_modified_since_rejects_garbage(xero_client: httpx.Client) -> None:
    response = xero_client.get("/Contacts", headers={"If-Modified-Since": "yesterday-ish"})
    assert response.status_code == 400
    assert "If-Modified-Since" in response.json()["Message"]


def test_where_filters_with_contains_and_guid(xero_client: httpx.Client) -> None:
    contacts = xero_client.get("/Contacts").json()["Contacts"]
    target = contacts[0]
    by_guid = xero_client.get(
        "/Contacts", params={"where": f'ContactID==Guid("{target["ContactID"]}")'}
    ).json()["Contacts"]
    assert [c["ContactID"] for c in by_guid] == [target["ContactID"]]
    fragment = target["Name"][1:4].lower()
    matches = xero_client.get("/Contacts", params={"where": f'Name.Contains("{fragment}")'}).json()[
        "Contacts"
    ]
    assert matches and all(fragment in c["Name"].lower() for c in matches)


def test_where_with_and_or_and_datetime(sandbox, xero_spec) -> None:
    _client_at(sandbox, xero_spec, datetime(2026, 3, 1, tzinfo=UTC)).put(
        "/Contacts", json={"Name": "Old Alpha"}
    )
    xero_client = _client_at(sandbox, xero_spec, datetime(2026, 5, 1, tzinfo=UTC))
    xero_client.put("/Contacts", json={"Name": "New Alpha"})
    xero_client.put("/Contacts", json={"Name": "New Beta"})
    where = (
        'UpdatedDateUTC>=DateTime(2026,04,01) AND (Name.StartsWith("New A") OR Name=="new beta")'
    )
    names = sorted(
        c["Name"] for c in xero_client.get("/Contacts", params={"where": where}).json()["Contacts"]
    )
    assert names == ["New Alpha", "New Beta"]


def test_bad_where_is_a_query_parse_error(xero_client: httpx.Client) -> None:
    response = xero_client.get("/Contacts", params={"where": 'Name=="x" AND'})
    assert response.status_code == 400
    assert response.json()["Type"] == "QueryParseException"


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_order_sorts_by_field(xero_client: httpx.Client, direction: str) -> None:
    names = [
        c["Name"]
        for c in xero_client.get("/Contacts", params={"order": f"Name {direction}"}).json()[
            "Contacts"
        ]
    ]
    expected = sorted(names, key=str.lower, reverse=direction == "DESC")
    assert names == expected and len(names) > 2


def test_ids_parameter_selects_records(xero_client: httpx.Client) -> None:
    contacts = xero_client.get("/Contacts").json()["Contacts"]
    wanted = [contacts[0]["ContactID"], contacts[2]["ContactID"]]
    got = xero_client.get("/Contacts", params={"IDs": ",".join(wanted)}).json()["Contacts"]
    assert sorted(c["ContactID"] for c in got) == sorted(wanted)


def test_archived_contacts_only_with_include_archived(xero_client: httpx.Client) -> None:
    default = xero_client.get("/Contacts").json()["Contacts"]
    everything = xero_client.get("/Contacts", params={"includeArchived": "true"}).json()["Contacts"]
    assert all(c["ContactStatus"] != "ARCHIVED" for c in default)
    assert any(c["ContactStatus"] == "ARCHIVED" for c in everything)
    assert len(everything) == len(default) + 1


def test_updated_date_follows_the_sandbox_clock(sandbox, xero_spec) -> None:
    when = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    xero_client = _client_at(sandbox, xero_spec, when)
    contact = xero_client.put("/Contacts", json={"Name": "Clocked"}).json()["Contacts"][0]
    assert abs(parse_datetime(contact["UpdatedDateUTC"]) - when) < timedelta(seconds=5)
