"""Every accounting call needs a valid token and a tenant that token was granted."""

from __future__ import annotations

import httpx
import pytest


def _client(sandbox, token: str | None, tenant: str | None) -> httpx.Client:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if tenant:
        headers["xero-tenant-id"] = tenant
    return httpx.Client(base_url=sandbox.url + "/api.xro/2.0", headers=headers, timeout=10)


def test_missing_token_is_401(sandbox) -> None:
    response = _client(sandbox, None, sandbox.demo.tenant_id).get("/Contacts")
    assert response.status_code == 401
    assert response.json()["Title"] == "Unauthorized"


def test_garbage_token_is_401(sandbox) -> None:
    assert (
        _client(sandbox, "not-a-token", sandbox.demo.tenant_id).get("/Contacts").status_code == 401
    )


def test_expired_token_is_401(sandbox) -> None:
    token = sandbox.tokens()["access_token"]
    sandbox.control("PUT", "/clock", json={"advance_seconds": 31 * 60})
    response = _client(sandbox, token, sandbox.demo.tenant_id).get("/Contacts")
    assert response.status_code == 401
    assert response.json()["Detail"] == "TokenExpired"


def test_missing_tenant_header_is_403_for_a_code_flow_token(sandbox) -> None:
    token = sandbox.tokens()["access_token"]
    response = _client(sandbox, token, None).get("/Contacts")
    assert response.status_code == 403


def test_tenant_not_granted_is_403(sandbox) -> None:
    token = sandbox.tokens(tenant_ids=[sandbox.demo.tenant_id])["access_token"]
    response = _client(sandbox, token, sandbox.demo.second_tenant_id).get("/Contacts")
    assert response.status_code == 403
    assert response.json()["Title"] == "Forbidden"


def test_data_never_crosses_organisations(sandbox) -> None:
    both = [sandbox.demo.tenant_id, sandbox.demo.second_tenant_id]
    token = sandbox.tokens(tenant_ids=both)["access_token"]
    first = _client(sandbox, token, sandbox.demo.tenant_id)
    second = _client(sandbox, token, sandbox.demo.second_tenant_id)
    contact = first.put("/Contacts", json={"Name": "Only In First"}).json()["Contacts"][0]
    assert second.get(f"/Contacts/{contact['ContactID']}").status_code == 404
    assert "Only In First" not in [c["Name"] for c in second.get("/Contacts").json()["Contacts"]]
    update = second.post("/Contacts", json={"ContactID": contact["ContactID"], "Name": "Hijack"})
    assert update.status_code == 400
    assert (
        first.get(f"/Contacts/{contact['ContactID']}").json()["Contacts"][0]["Name"]
        == "Only In First"
    )


@pytest.mark.parametrize(
    ("scopes", "method", "allowed"),
    [
        (["accounting.contacts.read"], "GET", True),
        (["accounting.contacts.read"], "PUT", False),
        (["accounting.contacts"], "PUT", True),
        (["accounting.transactions"], "GET", False),
        (["accounting.settings.read"], "GET", False),
    ],
    ids=[
        "read-scope-reads",
        "read-scope-cannot-write",
        "write-scope-writes",
        "other-family",
        "settings-only",
    ],
)
def test_scopes_are_enforced_per_endpoint(sandbox, scopes, method, allowed) -> None:
    token = sandbox.tokens(scopes=["offline_access", *scopes])["access_token"]
    client = _client(sandbox, token, sandbox.demo.tenant_id)
    if method == "GET":
        response = client.get("/Contacts")
    else:
        response = client.put("/Contacts", json={"Name": "Scoped Co"})
    assert (response.status_code == 200) is allowed
    if not allowed:  # Xero: 401, insufficient_scope challenge, AuthorizationUnsuccessful body
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
        assert response.json()["Detail"] == "AuthorizationUnsuccessful"
