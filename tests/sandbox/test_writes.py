"""Writes: PUT creates, POST creates or updates, batches with summarizeErrors, Idempotency-Key,
history notes, and Xero's validation error bodies."""

from __future__ import annotations

import uuid

import httpx
import pytest


def _names(client: httpx.Client) -> list[str]:
    return [
        c["Name"]
        for c in client.get("/Contacts", params={"includeArchived": "true"}).json()["Contacts"]
    ]


def test_put_creates_and_assigns_an_id(xero_client: httpx.Client) -> None:
    response = xero_client.put("/Contacts", json={"Contacts": [{"Name": "Tui Tea"}]})
    assert response.status_code == 200
    contact = response.json()["Contacts"][0]
    assert uuid.UUID(contact["ContactID"])
    assert contact["ContactStatus"] == "ACTIVE"
    assert "Tui Tea" in _names(xero_client)


def test_put_refuses_a_duplicate_name_with_xeros_message(xero_client: httpx.Client) -> None:
    xero_client.put("/Contacts", json={"Name": "Dup Ltd"})
    response = xero_client.put("/Contacts", json={"Name": "dup ltd"})
    assert response.status_code == 400
    body = response.json()
    assert body["Type"] == "ValidationException" and body["ErrorNumber"] == 10
    element = body["Elements"][0]
    assert element["Name"] == "dup ltd"
    assert "must be unique" in element["ValidationErrors"][0]["Message"]


def test_missing_name_names_the_field(xero_client: httpx.Client) -> None:
    response = xero_client.put("/Contacts", json={"Contacts": [{"EmailAddress": "a@b.co"}]})
    assert response.status_code == 400
    assert "name" in response.json()["Elements"][0]["ValidationErrors"][0]["Message"].lower()


def test_post_updates_by_id_and_creates_without(xero_client: httpx.Client) -> None:
    created = xero_client.put("/Contacts", json={"Name": "Pukeko Pies"}).json()["Contacts"][0]
    updated = xero_client.post(
        "/Contacts",
        json={
            "Contacts": [
                {"ContactID": created["ContactID"], "EmailAddress": "hi@pukeko.example.com"},
                {"Name": "Brand New"},
            ]
        },
    ).json()["Contacts"]
    assert updated[0]["ContactID"] == created["ContactID"]
    assert updated[0]["EmailAddress"] == "hi@pukeko.example.com"
    assert updated[0]["Name"] == "Pukeko Pies"
    assert updated[1]["ContactID"] != created["ContactID"]


def test_post_to_record_path_updates_that_record(xero_client: httpx.Client) -> None:
    created = xero_client.put("/Contacts", json={"Name": "Weka Wares"}).json()["Contacts"][0]
    response = xero_client.post(
        f"/Contacts/{created['ContactID']}", json={"Contacts": [{"Name": "Weka Wares Ltd"}]}
    )
    assert response.status_code == 200
    assert response.json()["Contacts"][0]["Name"] == "Weka Wares Ltd"


def test_post_with_unknown_id_is_an_error(xero_client: httpx.Client) -> None:
    response = xero_client.post("/Contacts", json={"ContactID": str(uuid.uuid4()), "Name": "Ghost"})
    assert response.status_code == 400
    assert "ContactID" in response.json()["Elements"][0]["ValidationErrors"][0]["Message"]


def test_summarized_batch_keeps_the_good_and_names_only_the_bad(
    xero_client: httpx.Client,
) -> None:
    """Xero saves the valid elements of a default-mode batch that answers 400 (xero-ruby
    issue 247); the 400 lists only the failed elements (Xero-Java issue 171), a failed
    create with the all-zero ID."""
    before = _names(xero_client)
    response = xero_client.put(
        "/Contacts",
        json={"Contacts": [{"Name": "Batch One"}, {"Name": ""}, {"Name": "Batch Three"}]},
    )
    assert response.status_code == 400
    elements = response.json()["Elements"]
    assert len(elements) == 1
    assert elements[0]["ContactID"] == "00000000-0000-0000-0000-000000000000"
    assert elements[0]["HasValidationErrors"] is True
    assert elements[0]["ValidationErrors"][0]["Message"]
    assert sorted(_names(xero_client)) == sorted([*before, "Batch One", "Batch Three"])


def test_unsummarized_batch_saves_the_good_and_flags_the_bad(xero_client: httpx.Client) -> None:
    response = xero_client.put(
        "/Contacts",
        params={"summarizeErrors": "false"},
        json={"Contacts": [{"Name": "Good One"}, {"Name": ""}, {"Name": "Good Two"}]},
    )
    assert response.status_code == 200
    items = response.json()["Contacts"]
    assert [i["StatusAttributeString"] for i in items] == ["OK", "ERROR", "OK"]
    assert items[1]["ValidationErrors"][0]["Message"]
    assert items[1]["ContactID"] == "00000000-0000-0000-0000-000000000000"  # NetStandard #156
    names = _names(xero_client)
    assert "Good One" in names and "Good Two" in names


def test_duplicate_within_one_batch_is_caught(xero_client: httpx.Client) -> None:
    response = xero_client.put(
        "/Contacts", params={"summarizeErrors": "false"}, json=[{"Name": "Twin"}, {"Name": "Twin"}]
    )
    assert [i["StatusAttributeString"] for i in response.json()["Contacts"]] == ["OK", "ERROR"]


def test_invalid_json_is_post_data_invalid(xero_client: httpx.Client) -> None:
    response = xero_client.put(
        "/Contacts", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["Type"] == "PostDataInvalidException"


def test_idempotency_key_replays_without_a_second_record(
    sandbox, xero_client: httpx.Client
) -> None:
    key = str(uuid.uuid4())
    body = {"Contacts": [{"Name": "Once Only"}]}
    first = xero_client.put("/Contacts", json=body, headers={"Idempotency-Key": key})
    second = xero_client.put("/Contacts", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 200
    assert first.json()["Contacts"][0]["ContactID"] == second.json()["Contacts"][0]["ContactID"]
    assert _names(xero_client).count("Once Only") == 1


def test_idempotency_key_with_another_body_is_refused(xero_client: httpx.Client) -> None:
    key = str(uuid.uuid4())
    xero_client.put("/Contacts", json={"Name": "Key Owner"}, headers={"Idempotency-Key": key})
    response = xero_client.put(
        "/Contacts", json={"Name": "Key Thief"}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["Message"]
    assert "Key Thief" not in _names(xero_client)


def test_idempotency_key_expires_after_xeros_retention(sandbox, xero_client: httpx.Client) -> None:
    key = str(uuid.uuid4())
    xero_client.put("/Contacts", json={"Name": "Expiring Key"}, headers={"Idempotency-Key": key})
    sandbox.control("PUT", "/clock", json={"advance_seconds": 7 * 60})
    response = xero_client.put(
        "/Contacts", json={"Name": "Expiring Key"}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400  # a real second create: the name is taken now
    assert "unique" in response.json()["Elements"][0]["ValidationErrors"][0]["Message"]


def test_idempotency_key_longer_than_128_is_refused(xero_client: httpx.Client) -> None:
    response = xero_client.put(
        "/Contacts", json={"Name": "Long Key"}, headers={"Idempotency-Key": "k" * 129}
    )
    assert response.status_code == 400
    assert "128" in response.json()["Message"]


def test_history_notes_round_trip(xero_client: httpx.Client) -> None:
    contact = xero_client.put("/Contacts", json={"Name": "Noted Ltd"}).json()["Contacts"][0]
    path = f"/Contacts/{contact['ContactID']}/History"
    added = xero_client.put(path, json={"HistoryRecords": [{"Details": "Checked by audit"}]})
    assert added.status_code == 200
    assert added.json()["HistoryRecords"][0]["Details"] == "Checked by audit"
    history = xero_client.get(path).json()["HistoryRecords"]
    assert [h["Changes"] for h in history] == ["Created", "Note"]
    assert history[1]["Details"] == "Checked by audit"


@pytest.mark.parametrize(
    ("note", "fragment"),
    [({"Details": ""}, "Details"), ({"Details": "x" * 2501}, "2500")],
    ids=["empty", "too-long"],
)
def test_history_note_validation(xero_client: httpx.Client, note: dict, fragment: str) -> None:
    contact = xero_client.get("/Contacts").json()["Contacts"][0]
    response = xero_client.put(
        f"/Contacts/{contact['ContactID']}/History", json={"HistoryRecords": [note]}
    )
    assert response.status_code == 400
    assert fragment in response.json()["Elements"][0]["ValidationErrors"][0]["Message"]


def test_history_of_unknown_record_is_xeros_400(xero_client: httpx.Client) -> None:
    response = xero_client.put(
        f"/Contacts/{uuid.uuid4()}/History", json={"HistoryRecords": [{"Details": "x"}]}
    )
    assert response.status_code == 400
    message = response.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    assert message == "The document with the supplied id was not found for this endpoint."


def test_archiving_frees_the_name(xero_client: httpx.Client) -> None:
    old = xero_client.put("/Contacts", json={"Name": "Reused Name"}).json()["Contacts"][0]
    xero_client.post(f"/Contacts/{old['ContactID']}", json={"ContactStatus": "ARCHIVED"})
    again = xero_client.put("/Contacts", json={"Name": "Reused Name"})
    assert again.status_code == 200
