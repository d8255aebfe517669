"""Tests for the sandbox's identity service: the consent page, the token endpoint,
refresh-token rotation, revocation and connections, over real HTTP where it matters.

Xero's promises being checked are in ``shared/xero/API_NOTES.md`` section 2.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from xero_sandbox.clock import Clock
from xero_sandbox.errors import NotFound, OAuthError, Unauthorized
from xero_sandbox.identity import App, IdentityService, scope_allows
from xero_sandbox.identity.consent import render_consent
from xero_sandbox.identity.scopes import missing_scope_message
from xero_sandbox.organisation import Organisation
from xero_sandbox.seed import DEMO

FULL_SCOPE = "openid profile email offline_access accounting.transactions accounting.contacts"
DAY = 86400
DATE_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$")


# --------------------------------------------------------------------------- helpers


class ConsentPage(HTMLParser):
    """The parts of the consent page a browser would use: the form and its controls."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.method: str | None = None
        self.hidden: dict[str, str] = {}
        self.checkboxes: list[tuple[str, str]] = []
        self.buttons: list[tuple[str | None, str | None]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action, self.method = a.get("action"), a.get("method")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"] or ""] = a.get("value") or ""
        elif tag == "input" and a.get("type") == "checkbox":
            self.checkboxes.append((a["name"] or "", a["value"] or ""))
        elif tag == "button":
            self.buttons.append((a.get("name"), a.get("value")))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(self.text)


def authorize_params(sandbox: Any, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": sandbox.demo.web_client_id,
        "redirect_uri": sandbox.demo.redirect_uri,
        "scope": FULL_SCOPE,
        "state": "state-" + secrets.token_hex(4),
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def redirect_query(response: httpx.Response) -> dict[str, str]:
    """The query of a 302's Location, one value per name."""
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def open_consent(http: httpx.Client, sandbox: Any, **overrides: str | None) -> ConsentPage:
    response = http.get(
        "/identity/connect/authorize", params=authorize_params(sandbox, **overrides)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return ConsentPage(response.text)


def submit(
    http: httpx.Client, page: ConsentPage, decision: str, tenant_ids: list[str]
) -> httpx.Response:
    """Post the consent form the way a browser would, ticking ``tenant_ids``."""
    assert page.method == "post"
    offered = {value for name, value in page.checkboxes if name == "tenant_id"}
    for tenant in tenant_ids:
        assert tenant in offered, f"{tenant} not offered on the consent page"
    data = {**page.hidden, "tenant_id": tenant_ids, "decision": decision}
    return http.post(page.action or "", data=data)


def consent(
    http: httpx.Client, sandbox: Any, tenant_ids: list[str] | None = None, **overrides: str | None
) -> dict[str, str]:
    """Click through the consent page; the redirect's query (code, state, scope)."""
    page = open_consent(http, sandbox, **overrides)
    tenants = [sandbox.demo.tenant_id] if tenant_ids is None else tenant_ids
    return redirect_query(submit(http, page, "approve", tenants))


def web_auth(sandbox: Any) -> httpx.BasicAuth:
    return httpx.BasicAuth(sandbox.demo.web_client_id, sandbox.demo.web_client_secret)


def exchange(
    http: httpx.Client,
    sandbox: Any,
    code: str,
    auth: httpx.BasicAuth | None = None,
    **extra: str,
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code}
    data["redirect_uri"] = sandbox.demo.redirect_uri
    data.update(extra)
    return http.post("/connect/token", data=data, auth=auth or web_auth(sandbox))


def refresh(http: httpx.Client, sandbox: Any, token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return http.post("/connect/token", data=data, auth=web_auth(sandbox))


def login(
    http: httpx.Client, sandbox: Any, tenant_ids: list[str] | None = None, **overrides: str
) -> dict[str, Any]:
    """A token response for the demo web app, obtained through the consent page."""
    query = consent(http, sandbox, tenant_ids, **overrides)
    response = exchange(http, sandbox, query["code"])
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def advance(sandbox: Any, seconds: float) -> None:
    sandbox.control("PUT", "/clock", json={"advance_seconds": seconds})


def stats(sandbox: Any) -> dict[str, int]:
    return sandbox.control("GET", "/identity/stats").json()


def oauth_error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return response.json()["error"]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def http(sandbox: Any) -> Iterator[httpx.Client]:
    """A browser-like client that does not follow redirects, so tests can read them."""
    with httpx.Client(base_url=sandbox.url, follow_redirects=False, timeout=30) as client:
        yield client


# --------------------------------------------------------------------------- scopes

SCOPE_TABLE = [
    # granted, family, granular, write, allowed
    ({"accounting.transactions"}, "transactions", "accounting.invoices", True, True),
    ({"accounting.transactions"}, "transactions", "accounting.invoices", False, True),
    ({"accounting.transactions.read"}, "transactions", "accounting.invoices", False, True),
    ({"accounting.transactions.read"}, "transactions", "accounting.invoices", True, False),
    ({"accounting.invoices"}, "transactions", "accounting.invoices", True, True),
    ({"accounting.invoices.read"}, "transactions", "accounting.invoices", False, True),
    ({"accounting.invoices.read"}, "transactions", "accounting.invoices", True, False),
    ({"accounting.payments"}, "transactions", "accounting.invoices", False, False),
    ({"accounting.payments"}, "transactions", "accounting.payments", True, True),
    (
        {"accounting.banktransactions.read"},
        "transactions",
        "accounting.banktransactions",
        False,
        True,
    ),
    ({"accounting.contacts.read"}, "contacts", "accounting.contacts", False, True),
    ({"accounting.contacts.read"}, "contacts", "accounting.contacts", True, False),
    ({"accounting.contacts"}, "contacts", None, True, True),
    ({"accounting.settings.read"}, "settings", None, False, True),
    ({"accounting.settings.read"}, "contacts", None, False, False),
    ({"accounting.transactions"}, "contacts", "accounting.contacts", False, False),
    ({"openid", "offline_access"}, "settings", "accounting.settings", False, False),
    (set(), "transactions", "accounting.invoices", False, False),
]


@pytest.mark.parametrize(
    ("granted", "family", "granular", "write", "allowed"),
    SCOPE_TABLE,
    ids=[
        f"{'+'.join(sorted(g)) or 'none'}-{'write' if w else 'read'}-{gr or f}"
        for g, f, gr, w, _ in SCOPE_TABLE
    ],
)
def test_scope_allows(
    granted: set[str], family: str, granular: str | None, write: bool, allowed: bool
) -> None:
    assert scope_allows(frozenset(granted), family, granular, write) is allowed


def test_missing_scope_message_names_what_would_do() -> None:
    message = missing_scope_message("transactions", "accounting.invoices", write=True)
    assert message.startswith("AuthorizationUnsuccessful")
    assert "accounting.invoices" in message and "accounting.transactions" in message
    assert ".read" not in message  # a read-only scope cannot satisfy a write


# --------------------------------------------------------------------------- service (no HTTP)


@pytest.fixture
def service() -> IdentityService:
    orgs = {"t-1": Organisation(tenant_id="t-1", name="One")}
    svc = IdentityService(Clock(), orgs)
    svc.register_app(App("WEB", "secret", "Web", redirect_uris=["http://localhost/cb"]))
    svc.register_app(App("CUSTOM", "s2", "Custom", kind="custom", custom_tenant_id="T-1"))
    return svc


def test_service_keeps_only_digests_of_refresh_tokens(service: IdentityService) -> None:
    body = service.grant_for_test("WEB", ["t-1"])
    assert body["refresh_token"]
    assert body["refresh_token"] not in repr(vars(service))


def test_service_default_tenant_only_for_custom_connections(service: IdentityService) -> None:
    web = service.authenticate("Bearer " + service.grant_for_test("WEB", ["t-1"])["access_token"])
    custom_token = service.grant_for_test("CUSTOM", [])["access_token"]
    custom = service.authenticate("bearer " + custom_token)
    assert service.default_tenant(web) is None
    assert service.default_tenant(custom) == "t-1"
    assert custom.tenant_ids == {"t-1"} and custom.auth_event_id is None


def test_service_deleted_connection_leaves_the_grant_at_once(service: IdentityService) -> None:
    header = "Bearer " + service.grant_for_test("WEB", ["T-1"])["access_token"]
    grant = service.authenticate(header)
    assert grant.tenant_ids == {"t-1"}
    [connection] = service.connections(grant)
    service.delete_connection(grant, connection["id"].upper())
    assert service.authenticate(header).tenant_ids == frozenset()
    with pytest.raises(NotFound):
        service.delete_connection(grant, connection["id"])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Basic abc",
        "Bearer not.a.jwt",
        "Bearer " + jwt.encode({"a": 1}, "k" * 32),
    ],
    ids=["missing", "empty", "no-token", "basic", "garbage", "foreign-key"],
)
def test_service_rejects_bad_bearer_headers(service: IdentityService, header: str | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        service.authenticate(header)
    assert caught.value.message == "AuthenticationUnsuccessful"


def test_service_grant_for_test_refuses_unknown_app_and_tenant(service: IdentityService) -> None:
    with pytest.raises(OAuthError) as unknown_app:
        service.grant_for_test("NOPE", ["t-1"])
    with pytest.raises(OAuthError) as unknown_tenant:
        service.grant_for_test("WEB", ["t-404"])
    assert unknown_app.value.error == "invalid_client"
    assert unknown_tenant.value.error == "invalid_request"


def test_consent_page_escapes_everything() -> None:
    evil = '<script>alert("x")</script>'
    html = render_consent(
        request_id='"><b>',
        app_name=evil,
        scopes=["accounting.contacts", evil],
        organisations=[Organisation(tenant_id='t"1', name=evil)],
    )
    assert "<script>" not in html and '"><b>' not in html and 'value="t"1"' not in html
    assert "&lt;script&gt;" in html


# --------------------------------------------------------------------------- code flow


def test_code_flow_through_the_consent_page(http: httpx.Client, sandbox: Any) -> None:
    demo = sandbox.demo
    params = authorize_params(sandbox)
    response = http.get("/identity/connect/authorize", params=params)
    assert response.status_code == 200
    page = ConsentPage(response.text)
    assert "Airflow Xero Provider (sandbox)" in page.words
    assert demo.tenant_name in page.words and demo.second_tenant_name in page.words
    assert "accounting.transactions" in page.words
    assert {v for _, v in page.checkboxes} == {demo.tenant_id, demo.second_tenant_id}
    assert {v for _, v in page.buttons} == {"approve", "deny"}
    assert list(page.hidden) == ["request_id"]  # opaque: the raw parameters stay server-side
    assert demo.redirect_uri not in response.text

    redirect = submit(http, page, "approve", [demo.tenant_id])
    assert redirect.headers["location"].startswith(demo.redirect_uri + "?")
    query = redirect_query(redirect)
    assert query["state"] == params["state"]
    assert query["scope"] == FULL_SCOPE

    token = exchange(http, sandbox, query["code"])
    assert token.status_code == 200, token.text
    assert token.headers["cache-control"] == "no-store"
    body = token.json()
    assert list(body) == [
        "id_token",
        "access_token",
        "expires_in",
        "token_type",
        "refresh_token",
        "scope",
    ]
    assert (body["expires_in"], body["token_type"], body["scope"]) == (1800, "Bearer", FULL_SCOPE)
    access = claims(body["access_token"])
    assert access["iss"] == "https://identity.xero.com"
    assert access["aud"] == "https://identity.xero.com/resources"
    assert access["client_id"] == demo.web_client_id
    assert access["exp"] - access["nbf"] == 1800
    assert access["scope"] == FULL_SCOPE.split()
    assert {"sub", "auth_time", "xero_userid", "global_session_id", "jti"} <= set(access)
    identity = claims(body["id_token"])
    assert identity["exp"] - identity["nbf"] == 300
    assert identity["email"] == "sandbox-user@example.com"
    assert identity["xero_userid"] == access["xero_userid"]

    connections = http.get("/connections", headers=bearer(body["access_token"]))
    assert connections.status_code == 200
    [connection] = connections.json()
    assert connection["tenantId"] == demo.tenant_id
    assert connection["tenantName"] == demo.tenant_name
    assert connection["tenantType"] == "ORGANISATION"
    assert connection["authEventId"] == access["authentication_event_id"]
    assert DATE_UTC.match(connection["createdDateUtc"])
    assert DATE_UTC.match(connection["updatedDateUtc"])
    uuid.UUID(connection["id"])
    assert stats(sandbox)["authorization_code"] == 1


def test_connections_filter_by_auth_event(http: httpx.Client, sandbox: Any) -> None:
    first = claims(login(http, sandbox, [sandbox.demo.tenant_id])["access_token"])
    second = login(http, sandbox, [sandbox.demo.second_tenant_id])
    event = claims(second["access_token"])["authentication_event_id"]
    headers = bearer(second["access_token"])
    every = http.get("/connections", headers=headers).json()
    only = http.get("/connections", params={"authEventId": event}, headers=headers).json()
    earlier = {"authEventId": first["authentication_event_id"]}
    before = http.get("/connections", params=earlier, headers=headers).json()
    assert len(every) == 2
    assert [c["tenantId"] for c in only] == [sandbox.demo.second_tenant_id]
    assert [c["tenantId"] for c in before] == [sandbox.demo.tenant_id]


def test_deny_sends_access_denied_back(http: httpx.Client, sandbox: Any) -> None:
    page = open_consent(http, sandbox, state="keep-me")
    query = redirect_query(submit(http, page, "deny", []))
    assert query == {"error": "access_denied", "state": "keep-me"}
    again = http.post("/identity/connect/authorize", data={**page.hidden, "decision": "approve"})
    assert again.status_code == 400  # the request was used up by the decision


def test_approve_without_an_organisation_shows_the_page_again(
    http: httpx.Client, sandbox: Any
) -> None:
    page = open_consent(http, sandbox)
    again = submit(http, page, "approve", [])
    assert again.status_code == 400
    assert "Choose at least one organisation" in again.text
    retry = ConsentPage(again.text)
    assert retry.hidden == page.hidden
    assert "code" in redirect_query(submit(http, retry, "approve", [sandbox.demo.tenant_id]))


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "NOT-A-CLIENT"},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": None},
        {"client_id": None},
    ],
    ids=["unknown-client", "unregistered-redirect", "missing-redirect", "missing-client"],
)
def test_untrusted_authorize_request_gets_an_error_page(
    http: httpx.Client, sandbox: Any, overrides: dict[str, str | None]
) -> None:
    response = http.get(
        "/identity/connect/authorize", params=authorize_params(sandbox, **overrides)
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "<form" not in response.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "openid accounting.everything"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"scope": "app.connections"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"client_id": DEMO.pkce_client_id}, "invalid_request"),  # PKCE app, no challenge
    ],
    ids=["unknown-scope", "empty-scope", "client-credentials-scope", "token", "plain", "no-pkce"],
)
def test_bad_authorize_request_is_sent_back_to_the_app(
    http: httpx.Client, sandbox: Any, overrides: dict[str, str], error: str
) -> None:
    params = authorize_params(sandbox, **overrides)
    response = http.get("/identity/connect/authorize", params=params)
    assert response.headers["location"].startswith(sandbox.demo.redirect_uri + "?")
    query = redirect_query(response)
    assert query["error"] == error
    assert query["state"] == params["state"]


@pytest.mark.parametrize(
    "bad_verifier",
    ["other", None, "too-short"],
    ids=["wrong-verifier", "missing-verifier", "malformed-verifier"],
)
def test_pkce_code_needs_the_right_verifier(
    http: httpx.Client, sandbox: Any, bad_verifier: str | None
) -> None:
    demo = sandbox.demo
    verifier, challenge = pkce_pair()
    query = consent(
        http,
        sandbox,
        client_id=demo.pkce_client_id,
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    data = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": demo.redirect_uri,
        "client_id": demo.pkce_client_id,
    }
    if bad_verifier is not None:
        data["code_verifier"] = pkce_pair()[0] if bad_verifier == "other" else bad_verifier
    assert oauth_error(http.post("/connect/token", data=data)) == "invalid_grant"

    good = http.post("/connect/token", data={**data, "code_verifier": verifier})
    assert good.status_code == 200, good.text
    renewed = http.post(
        "/connect/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": good.json()["refresh_token"],
            "client_id": demo.pkce_client_id,
        },
    )
    assert renewed.status_code == 200, renewed.text


def test_code_is_single_use(http: httpx.Client, sandbox: Any) -> None:
    code = consent(http, sandbox)["code"]
    assert exchange(http, sandbox, code).status_code == 200
    assert oauth_error(exchange(http, sandbox, code)) == "invalid_grant"
    assert stats(sandbox)["invalid_grant"] == 1


@pytest.mark.parametrize(("wait", "status"), [(290, 200), (301, 400)], ids=["4m50s", "5m01s"])
def test_code_expires_after_five_minutes(
    http: httpx.Client, sandbox: Any, wait: int, status: int
) -> None:
    code = consent(http, sandbox)["code"]
    advance(sandbox, wait)
    response = exchange(http, sandbox, code)
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "wrong",
    [
        {"redirect_uri": "http://127.0.0.1:8080/xero/callback"},
        {"code": "made-up-code"},
    ],
    ids=["other-redirect-uri", "unknown-code"],
)
def test_code_needs_its_redirect_uri(
    http: httpx.Client, sandbox: Any, wrong: dict[str, str]
) -> None:
    code = consent(http, sandbox)["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": sandbox.demo.redirect_uri,
    }
    data.update(wrong)
    response = http.post("/connect/token", data=data, auth=web_auth(sandbox))
    assert oauth_error(response) == "invalid_grant"
    assert exchange(http, sandbox, code).status_code == 200  # a failed try does not burn it


def test_code_is_bound_to_its_client(http: httpx.Client, sandbox: Any) -> None:
    demo = sandbox.demo
    code = consent(http, sandbox)["code"]
    other = httpx.BasicAuth(demo.custom_client_id, demo.custom_client_secret)
    assert oauth_error(exchange(http, sandbox, code, auth=other)) == "invalid_grant"


def test_reconnecting_keeps_created_date_and_connection(http: httpx.Client, sandbox: Any) -> None:
    first = login(http, sandbox)
    [before] = http.get("/connections", headers=bearer(first["access_token"])).json()
    advance(sandbox, 120)
    second = login(http, sandbox)
    [after] = http.get("/connections", headers=bearer(second["access_token"])).json()
    assert after["id"] == before["id"]
    assert after["createdDateUtc"] == before["createdDateUtc"]
    assert after["updatedDateUtc"] > before["updatedDateUtc"]
    assert after["authEventId"] == claims(second["access_token"])["authentication_event_id"]
    assert after["authEventId"] != before["authEventId"]

    gone = http.delete(f"/connections/{after['id']}", headers=bearer(second["access_token"]))
    assert gone.status_code == 204
    third = login(http, sandbox)
    [again] = http.get("/connections", headers=bearer(third["access_token"])).json()
    assert again["id"] != before["id"]
    assert again["createdDateUtc"] == before["createdDateUtc"]  # Xero keeps the first date


# --------------------------------------------------------------------------- refresh tokens


def test_refresh_rotates_both_tokens(http: httpx.Client, sandbox: Any) -> None:
    first = login(http, sandbox, [sandbox.demo.tenant_id, sandbox.demo.second_tenant_id])
    renewed = refresh(http, sandbox, first["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert renewed.headers["cache-control"] == "no-store"
    body = renewed.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert body["scope"] == first["scope"]
    assert claims(body["access_token"])["scope"] == FULL_SCOPE.split()
    tenants = {
        c["tenantId"] for c in http.get("/connections", headers=bearer(body["access_token"])).json()
    }
    assert tenants == {sandbox.demo.tenant_id, sandbox.demo.second_tenant_id}
    assert refresh(http, sandbox, body["refresh_token"]).status_code == 200
    assert stats(sandbox)["refresh_token"] == 2


def test_used_refresh_token_has_a_30_minute_grace(http: httpx.Client, sandbox: Any) -> None:
    old = login(http, sandbox)["refresh_token"]
    newer = refresh(http, sandbox, old).json()["refresh_token"]
    advance(sandbox, 29 * 60)
    retry = refresh(http, sandbox, old)  # the first response was "lost"
    assert retry.status_code == 200, retry.text
    fresh = retry.json()["refresh_token"]
    assert fresh not in (old, newer)
    assert stats(sandbox)["grace_reuse"] == 1
    advance(sandbox, 2 * 60)
    assert oauth_error(refresh(http, sandbox, old)) == "invalid_grant"
    assert refresh(http, sandbox, fresh).status_code == 200


@pytest.mark.parametrize(
    ("wait", "status"),
    [(60 * DAY - 60, 200), (60 * DAY + 1, 400)],
    ids=["day-59-and-a-bit", "day-60"],
)
def test_unused_refresh_token_expires_after_60_days(
    http: httpx.Client, sandbox: Any, wait: int, status: int
) -> None:
    token = login(http, sandbox)["refresh_token"]
    advance(sandbox, wait)
    assert refresh(http, sandbox, token).status_code == status


def test_no_refresh_token_without_offline_access(http: httpx.Client, sandbox: Any) -> None:
    body = login(http, sandbox, scope="openid accounting.contacts.read")
    assert "refresh_token" not in body
    assert body["scope"] == "openid accounting.contacts.read"
    body = login(http, sandbox, scope="offline_access accounting.contacts.read")
    assert "id_token" not in body and body["refresh_token"]


# --------------------------------------------------------------------------- revocation


def test_revocation_kills_the_grant_and_every_connection(http: httpx.Client, sandbox: Any) -> None:
    demo = sandbox.demo
    other = login(http, sandbox, [demo.second_tenant_id])  # a separate consent, same user+app
    grant = login(http, sandbox, [demo.tenant_id])
    rotated = refresh(http, sandbox, grant["refresh_token"]).json()
    assert len(http.get("/connections", headers=bearer(other["access_token"])).json()) == 2

    response = http.post(
        "/connect/revocation", data={"token": grant["refresh_token"]}, auth=web_auth(sandbox)
    )
    assert (response.status_code, response.content) == (200, b"")

    assert oauth_error(refresh(http, sandbox, rotated["refresh_token"])) == "invalid_grant"
    assert oauth_error(refresh(http, sandbox, grant["refresh_token"])) == "invalid_grant"
    for access in (grant["access_token"], rotated["access_token"]):
        denied = http.get("/connections", headers=bearer(access))
        assert denied.status_code == 401
        assert denied.json()["Detail"] == "AuthenticationUnsuccessful"
    assert http.get("/connections", headers=bearer(other["access_token"])).json() == []
    assert stats(sandbox)["revocations"] == 1


def test_revoking_an_unknown_token_is_fine_but_a_bad_client_is_not(
    http: httpx.Client, sandbox: Any
) -> None:
    ok = http.post("/connect/revocation", data={"token": "nope"}, auth=web_auth(sandbox))
    assert (ok.status_code, ok.content) == (200, b"")
    bad_auth = httpx.BasicAuth(sandbox.demo.web_client_id, "wrong")
    bad = http.post("/connect/revocation", data={"token": "nope"}, auth=bad_auth)
    assert oauth_error(bad) == "invalid_client"


# --------------------------------------------------------------------------- connections


def test_delete_connection_removes_that_tenant(http: httpx.Client, sandbox: Any) -> None:
    demo = sandbox.demo
    body = login(http, sandbox, [demo.tenant_id, demo.second_tenant_id])
    headers = bearer(body["access_token"])
    connections = http.get("/connections", headers=headers).json()
    assert len({c["authEventId"] for c in connections}) == 1
    first = next(c for c in connections if c["tenantId"] == demo.tenant_id)

    response = http.delete(f"/Connections/{first['id']}", headers=headers)
    assert (response.status_code, response.content) == (204, b"")
    left = http.get("/connections", headers=headers).json()
    assert [c["tenantId"] for c in left] == [demo.second_tenant_id]

    contacts = "/api.xro/2.0/Contacts"
    gone = http.get(contacts, headers={**headers, "xero-tenant-id": demo.tenant_id})
    kept = http.get(contacts, headers={**headers, "xero-tenant-id": demo.second_tenant_id})
    assert (gone.status_code, kept.status_code) == (403, 200)
    assert http.delete(f"/connections/{first['id']}", headers=headers).status_code == 404
    assert http.delete(f"/connections/{uuid.uuid4()}", headers=headers).status_code == 404


def test_cannot_delete_another_apps_connection(http: httpx.Client, sandbox: Any) -> None:
    demo = sandbox.demo
    custom = sandbox.tokens(client_id=demo.custom_client_id, tenant_ids=[])
    [theirs] = http.get("/connections", headers=bearer(custom["access_token"])).json()
    mine = login(http, sandbox)
    response = http.delete(f"/connections/{theirs['id']}", headers=bearer(mine["access_token"]))
    assert response.status_code == 404
    assert len(http.get("/connections", headers=bearer(custom["access_token"])).json()) == 1


@pytest.mark.parametrize(
    ("wait", "status", "detail"),
    [(1790, 200, None), (1801, 401, "TokenExpired")],
    ids=["29m50s", "30m01s"],
)
def test_access_token_lasts_30_minutes(
    http: httpx.Client, sandbox: Any, wait: int, status: int, detail: str | None
) -> None:
    token = login(http, sandbox)["access_token"]
    advance(sandbox, wait)
    response = http.get("/connections", headers=bearer(token))
    assert response.status_code == status
    if detail:
        assert response.json()["Detail"].startswith(detail + ": token expired at ")
        assert response.json()["Title"] == "Unauthorized"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer abc.def.ghi"}, {"Authorization": "Basic Zm9vOmJhcg=="}],
    ids=["missing", "garbage", "basic"],
)
def test_connections_need_a_valid_bearer(
    http: httpx.Client, sandbox: Any, headers: dict[str, str]
) -> None:
    response = http.get("/connections", headers=headers)
    assert response.status_code == 401
    assert response.json()["Detail"] == "AuthenticationUnsuccessful"


# --------------------------------------------------------------------------- client auth


@dataclass
class ClientCase:
    auth: tuple[str, str] | None = None
    body: dict[str, str] = field(default_factory=dict)


INVALID_CLIENTS = {
    "basic-wrong-secret": lambda d: ClientCase(auth=(d.web_client_id, "wrong")),
    "body-wrong-secret": lambda d: ClientCase(
        body={"client_id": d.web_client_id, "client_secret": "wrong"}
    ),
    "basic-unknown-client": lambda d: ClientCase(auth=("NOT-A-CLIENT", "x")),
    "body-missing-secret": lambda d: ClientCase(body={"client_id": d.web_client_id}),
    "no-credentials": lambda d: ClientCase(),
    "basic-and-body-disagree": lambda d: ClientCase(
        auth=(d.web_client_id, d.web_client_secret), body={"client_id": d.pkce_client_id}
    ),
    "pkce-with-a-secret": lambda d: ClientCase(
        body={"client_id": d.pkce_client_id, "client_secret": "anything"}
    ),
}


@pytest.mark.parametrize("case", list(INVALID_CLIENTS.values()), ids=list(INVALID_CLIENTS))
def test_invalid_client_is_400(http: httpx.Client, sandbox: Any, case: Any) -> None:
    token = sandbox.tokens()["refresh_token"]
    built = case(sandbox.demo)
    auth = httpx.BasicAuth(*built.auth) if built.auth else None
    data = {"grant_type": "refresh_token", "refresh_token": token, **built.body}
    response = http.post("/connect/token", data=data, auth=auth)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}


def test_client_credentials_in_the_body_are_accepted(http: httpx.Client, sandbox: Any) -> None:
    demo = sandbox.demo
    token = sandbox.tokens()["refresh_token"]
    data = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": demo.web_client_id,
        "client_secret": demo.web_client_secret,
    }
    assert http.post("/connect/token", data=data).status_code == 200


def test_unsupported_grant_type(http: httpx.Client, sandbox: Any) -> None:
    response = http.post("/connect/token", data={"grant_type": "password"}, auth=web_auth(sandbox))
    assert oauth_error(response) == "unsupported_grant_type"


# --------------------------------------------------------------------------- custom connections


def test_client_credentials_for_the_custom_app(http: httpx.Client, sandbox: Any) -> None:
    demo = sandbox.demo
    auth = httpx.BasicAuth(demo.custom_client_id, demo.custom_client_secret)
    response = http.post("/connect/token", data={"grant_type": "client_credentials"}, auth=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body and "id_token" not in body
    assert "accounting.contacts" in body["scope"].split()
    headers = bearer(body["access_token"])
    [connection] = http.get("/connections", headers=headers).json()
    assert (connection["tenantId"], connection["tenantName"]) == (demo.tenant_id, demo.tenant_name)
    no_tenant_header = http.get("/api.xro/2.0/Contacts", headers=headers)
    assert no_tenant_header.status_code == 200, no_tenant_header.text

    narrow = http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": "accounting.contacts.read"},
        auth=auth,
    )
    assert narrow.json()["scope"] == "accounting.contacts.read"
    assert stats(sandbox)["client_credentials"] == 2


@pytest.mark.parametrize(
    ("scope", "error"),
    [("openid", "invalid_scope"), ("accounting.nothing", "invalid_scope")],
    ids=["identity-scope", "unknown-scope"],
)
def test_client_credentials_scope_is_checked(
    http: httpx.Client, sandbox: Any, scope: str, error: str
) -> None:
    demo = sandbox.demo
    auth = httpx.BasicAuth(demo.custom_client_id, demo.custom_client_secret)
    data = {"grant_type": "client_credentials", "scope": scope}
    assert oauth_error(http.post("/connect/token", data=data, auth=auth)) == error


def test_client_credentials_refused_for_the_web_app(http: httpx.Client, sandbox: Any) -> None:
    data = {"grant_type": "client_credentials"}
    response = http.post("/connect/token", data=data, auth=web_auth(sandbox))
    assert oauth_error(response) == "unauthorized_client"


# --------------------------------------------------------------------------- granular-only apps


def test_granular_only_apps_cannot_use_broad_scopes(http: httpx.Client, sandbox: Any) -> None:
    demo = sandbox.demo
    name = "<b>New & granular</b>"
    apps = [
        {
            "client_id": "GRANULAR-WEB",
            "client_secret": "g-secret",
            "name": name,
            "redirect_uris": [demo.redirect_uri],
            "granular_only": True,
        },
        {
            "client_id": "GRANULAR-CUSTOM",
            "client_secret": "gc-secret",
            "name": "Granular custom",
            "kind": "custom",
            "custom_tenant_id": demo.tenant_id,
            "granular_only": True,
        },
    ]
    sandbox.control("POST", "/seed", json={"apps": apps})

    broad = http.get(
        "/identity/connect/authorize", params=authorize_params(sandbox, client_id="GRANULAR-WEB")
    )
    assert redirect_query(broad)["error"] == "unauthorized_client"
    page = http.get(
        "/identity/connect/authorize",
        params=authorize_params(
            sandbox, client_id="GRANULAR-WEB", scope="offline_access accounting.invoices"
        ),
    )
    assert page.status_code == 200
    assert "&lt;b&gt;New &amp; granular&lt;/b&gt;" in page.text and name not in page.text

    auth = httpx.BasicAuth("GRANULAR-CUSTOM", "gc-secret")
    refused = http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": "accounting.transactions"},
        auth=auth,
    )
    assert oauth_error(refused) == "unauthorized_client"
    default = http.post("/connect/token", data={"grant_type": "client_credentials"}, auth=auth)
    assert "accounting.transactions" not in default.json()["scope"].split()
    assert "accounting.invoices" in default.json()["scope"].split()


# --------------------------------------------------------------------------- request log


def test_request_log_names_tokens_by_id_and_hides_secrets(http: httpx.Client, sandbox: Any) -> None:
    demo = sandbox.demo
    query = consent(http, sandbox)
    body = exchange(http, sandbox, query["code"]).json()
    renewed = refresh(http, sandbox, body["refresh_token"]).json()
    entries = sandbox.requests(path="/connect/token")
    assert [e["grant_type"] for e in entries] == ["authorization_code", "refresh_token"]
    assert {e["client_id"] for e in entries} == {demo.web_client_id}
    assert [e["token_id"] for e in entries] == [
        claims(body["access_token"])["jti"],
        claims(renewed["access_token"])["jti"],
    ]
    dumped = json.dumps(sandbox.requests())
    for secret in (
        query["code"],
        body["access_token"],
        body["refresh_token"],
        renewed["refresh_token"],
        demo.web_client_secret,
    ):
        assert secret not in dumped


def test_a_registered_redirect_uri_is_accepted_from_then_on(
    http: httpx.Client, sandbox: Any
) -> None:
    """The control API registers a redirect URI as the app's page at developer.xero.com
    does (`make airflow` on a port other than 8080); unregistered ones stay refused."""
    moved = "http://127.0.0.1:45359/xero/callback"
    before = http.get(
        "/identity/connect/authorize", params=authorize_params(sandbox, redirect_uri=moved)
    )
    assert before.status_code == 400
    client = sandbox.demo.web_client_id
    app = sandbox.control("POST", f"/apps/{client}/redirect_uris", json={"redirect_uri": moved})
    assert moved in app.json()["redirect_uris"]
    again = sandbox.control("POST", f"/apps/{client}/redirect_uris", json={"redirect_uri": moved})
    assert again.json()["redirect_uris"].count(moved) == 1
    page = open_consent(http, sandbox, redirect_uri=moved)  # the consent page, not an error
    assert page.checkboxes
    other = "http://127.0.0.1:45360/xero/callback"
    assert (
        http.get(
            "/identity/connect/authorize", params=authorize_params(sandbox, redirect_uri=other)
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("client_id", "uri", "status"),
    [
        ("NO-SUCH-APP", "http://127.0.0.1:1/cb", 404),
        (DEMO.web_client_id, "http://example.com/cb", 400),  # http only on localhost
        (DEMO.web_client_id, "/xero/callback", 400),
        (DEMO.web_client_id, "javascript:alert(1)", 400),
        (DEMO.web_client_id, "https://example.com/cb#frag", 400),
    ],
)
def test_a_bad_redirect_uri_is_refused(sandbox: Any, client_id: str, uri: str, status: int) -> None:
    response = httpx.post(
        f"{sandbox.url}/__sandbox/apps/{client_id}/redirect_uris", json={"redirect_uri": uri}
    )
    assert response.status_code == status, response.text
    registered = [u for app in sandbox.control("GET", "/apps").json() for u in app["redirect_uris"]]
    assert uri not in registered
