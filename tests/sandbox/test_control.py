"""The control API, the request log's redaction, seeds, generation and --db persistence."""

from __future__ import annotations

import base64

import httpx
import pytest

from xero_sandbox.testing import SandboxServer


def test_apps_lists_the_fixed_demo_credentials(sandbox) -> None:
    apps = {a["client_id"]: a for a in sandbox.control("GET", "/apps").json()}
    assert apps[sandbox.demo.web_client_id]["client_secret"] == sandbox.demo.web_client_secret
    assert apps[sandbox.demo.custom_client_id]["kind"] == "custom"


def test_reset_without_demo_empties_everything(sandbox) -> None:
    sandbox.control("POST", "/reset")
    assert sandbox.control("GET", "/organisations").json() == []
    assert sandbox.control("GET", "/apps").json() == []


def test_seed_creates_organisations_apps_and_validated_records(sandbox) -> None:
    tenant = "11111111-2222-3333-4444-555555555555"
    seed = {
        "organisations": [{"tenant_id": tenant, "name": "Seeded Org"}],
        "apps": [
            {
                "client_id": "SEEDAPP",
                "client_secret": "s",
                "name": "Seed App",
                "kind": "web",
                "redirect_uris": ["http://localhost/cb"],
            }
        ],
        "records": {tenant: {"Contacts": [{"Name": "Seeded Contact"}]}},
    }
    result = sandbox.control("POST", "/seed", json=seed).json()
    assert result["created"] == {"Contacts": 1}
    state = sandbox.control("GET", f"/state/{tenant}/Contacts").json()
    assert [c["Name"] for c in state["Contacts"]] == ["Seeded Contact"]


def test_seed_with_an_invalid_record_is_refused(sandbox) -> None:
    seed = {"records": {sandbox.demo.tenant_id: {"Contacts": [{"Name": ""}]}}}
    response = httpx.post(sandbox.url + "/__sandbox/seed", json=seed, timeout=10)
    assert response.status_code == 400
    assert "Contacts rejected" in response.json()["detail"]


def test_generate_makes_many_records_fast(sandbox) -> None:
    before = sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/Contacts").json()["count"]
    body = {"tenant_id": sandbox.demo.tenant_id, "resource": "Contacts", "count": 5000}
    assert sandbox.control("POST", "/generate", json=body).json()["created"] == 5000
    after = sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/Contacts").json()["count"]
    assert after == before + 5000


def test_clock_can_be_set_advanced_and_frozen(sandbox) -> None:
    set_to = sandbox.control(
        "PUT", "/clock", json={"now": "2030-01-01T00:00:00Z", "frozen": True}
    ).json()
    assert set_to["now"].startswith("2030-01-01T00:00:00")
    moved = sandbox.control("PUT", "/clock", json={"advance_seconds": 90}).json()
    assert moved["now"].startswith("2030-01-01T00:01:30")
    assert moved["frozen"] is True


def test_request_log_never_holds_secrets(sandbox, xero_client: httpx.Client) -> None:
    demo = sandbox.demo
    basic = base64.b64encode(
        f"{demo.custom_client_id}:{demo.custom_client_secret}".encode()
    ).decode()
    token = httpx.post(
        sandbox.url + "/connect/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=10,
    ).json()
    httpx.post(
        sandbox.url + "/connect/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "made-up-refresh-token",
            "client_id": demo.web_client_id,
            "client_secret": demo.web_client_secret,
        },
        timeout=10,
    )
    xero_client.get("/Contacts")
    log_text = sandbox.control("GET", "/requests").text
    for secret in (
        demo.custom_client_secret,
        demo.web_client_secret,
        basic,
        token["access_token"],
        "made-up-refresh-token",
        xero_client.headers["Authorization"].split()[1],
    ):
        assert secret not in log_text
    token_calls = sandbox.requests(path="/connect/token")
    assert token_calls[0]["authorization"] == "Basic ***"
    assert token_calls[1]["form"]["client_secret"] == "***"
    assert token_calls[1]["form"]["grant_type"] == "refresh_token"


def test_request_log_names_the_tenant_and_token_id(sandbox, xero_client: httpx.Client) -> None:
    xero_client.get("/Contacts")
    entry = sandbox.requests(path="/api.xro/2.0/Contacts")[-1]
    assert entry["tenant_id"] == sandbox.demo.tenant_id
    assert entry["client_id"] == sandbox.demo.web_client_id
    assert entry["token_id"]


@pytest.mark.slow
def test_history_lists_every_records_notes_by_id(sandbox, xero_client: httpx.Client) -> None:
    """What the soak counts notes and emails with: the History the API shows, per record."""
    (contact,) = xero_client.put("/Contacts", json={"Contacts": [{"Name": "Noted"}]}).json()[
        "Contacts"
    ]
    note = {"HistoryRecords": [{"Details": "one note"}]}
    path = f"/Contacts/{contact['ContactID']}/History"
    assert xero_client.put(path, json=note).status_code == 200
    history = sandbox.control("GET", f"/history/{sandbox.demo.tenant_id}").json()["history"]
    shown = xero_client.get(path).json()["HistoryRecords"]
    assert [h["Details"] for h in history[contact["ContactID"].lower()]] == [
        h["Details"] for h in shown
    ]
    assert "one note" in [h["Details"] for h in shown]
    with pytest.raises(httpx.HTTPStatusError):
        sandbox.control("GET", "/history/00000000-0000-0000-0000-000000000000")


def test_db_keeps_state_across_restarts(tmp_path) -> None:
    db = tmp_path / "sandbox.sqlite"
    with SandboxServer(db=db, log_file=tmp_path / "log1") as first:
        tokens = first.tokens()
        headers = {
            "Authorization": f"Bearer {tokens['access_token']}",
            "xero-tenant-id": first.demo.tenant_id,
            "Accept": "application/json",
        }
        created = httpx.put(
            first.url + "/api.xro/2.0/Contacts",
            json={"Name": "Survivor"},
            headers=headers,
            timeout=10,
        )
        assert created.status_code == 200
    with SandboxServer(db=db, port=first.port, log_file=tmp_path / "log2") as second:
        names = [
            c["Name"]
            for c in httpx.get(
                second.url + "/api.xro/2.0/Contacts", headers=headers, timeout=10
            ).json()["Contacts"]
        ]
        assert names.count("Survivor") == 1
        refreshed = httpx.post(
            second.url + "/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(second.demo.web_client_id, second.demo.web_client_secret),
            timeout=10,
        )
        assert refreshed.status_code == 200
