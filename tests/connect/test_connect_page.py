"""The connect page in a real api-server: sign-in with state and PKCE, one connection per
organisation, the Test button, revoke and disconnect, and who may use it."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.connect.conftest import (
    APP_CLIENT_ID,
    APP_SECRET,
    VIEWER,
    AirflowSite,
    approve,
    csrf_of,
)
from xero_sandbox.testing import SandboxServer

pytestmark = pytest.mark.slow


def start(site: AirflowSite, browser: httpx.Client, sandbox: SandboxServer) -> httpx.Response:
    page = browser.get("/xero/")
    assert page.status_code == 200, page.text[:500]
    return browser.post(
        "/xero/start",
        data={
            "csrf": csrf_of(page.text),
            "client_id": APP_CLIENT_ID,
            "client_secret": APP_SECRET,
            "base_url": sandbox.url,
            "conn_id_prefix": "xero",
        },
    )


def xero_connections(site: AirflowSite) -> dict[str, dict[str, Any]]:
    with site.api() as api:
        listed = api.get("/connections", params={"limit": 1000}).json()["connections"]
    return {c["connection_id"]: c for c in listed if c["conn_type"] == "xero"}


def connect_all(site: AirflowSite, sandbox: SandboxServer, tenants: list[str] | None = None):
    browser = site.browser()
    started = start(site, browser, sandbox)
    assert started.status_code == 303, started.text[:1000]
    back = approve(started.headers["location"], tenants)
    assert back.status_code == 302
    done = browser.get(back.headers["location"].replace(site.url, ""))
    assert done.status_code == 303, done.text[:2000]
    return browser, done


def ui_test(site: AirflowSite, conn_id: str, **override: Any) -> dict[str, Any]:
    """Press Test as the connection list's icon does: hidden host empty, port 0."""
    with site.api() as api:
        stored = api.get(f"/connections/{conn_id}").json()
        body = {
            "connection_id": conn_id,
            "conn_type": "xero",
            "description": stored.get("description") or "",
            "extra": stored.get("extra") or "{}",
            "host": "",
            "login": stored.get("login") or "",
            "password": stored.get("password") or "",
            "port": 0,
            "schema": "",
            **override,
        }
        body = {k: v for k, v in body.items() if v is not None}  # None: the field is left out
        answer = api.post("/connections/test", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_connect_creates_one_connection_per_organisation_sharing_the_grant(
    airflow_site: AirflowSite, sandbox: SandboxServer, xero_app: dict, clean_connections: None
) -> None:
    browser, done = connect_all(airflow_site, sandbox)
    created = xero_connections(airflow_site)
    assert len(created) == 2
    extras = {cid: json.loads(c["extra"]) for cid, c in created.items()}
    assert {e["tenant_id"] for e in extras.values()} == {
        sandbox.demo.tenant_id,
        sandbox.demo.second_tenant_id,
    }
    assert len({e["grant_key"] for e in extras.values()}) == 1
    # non-secret fields are not masked by the REST API any more
    assert all(e["grant_key"].startswith("xero-grant-") for e in extras.values())
    page = browser.get(done.headers["location"])
    assert page.status_code == 200
    assert sandbox.demo.tenant_name in page.text and sandbox.demo.second_tenant_name in page.text
    assert "Access token expires" in page.text and "last refresh" in page.text
    assert "also ends it for every organisation" in page.text
    assert "asking Xero for granular scopes" in page.text  # which scopes it chose
    assert "Egress (UTC)" in page.text and "this month 0.00 MB in 0 calls" in page.text
    assert "Daily call plan" in page.text and "day&#x27;s limit:     5000 calls" in page.text
    assert APP_SECRET not in page.text
    for conn_id in created:
        result = ui_test(airflow_site, conn_id)
        assert result["status"] is True, result
        assert f"connection '{conn_id}'" in result["message"]
    assert APP_SECRET not in airflow_site.log.read_text()
    requests = json.dumps(sandbox.requests())
    assert APP_SECRET not in requests


def test_the_page_shows_the_day_limit_the_call_plan_uses(
    airflow_site: AirflowSite, sandbox: SandboxServer, xero_app: dict, clean_connections: None
) -> None:
    """The demo's second organisation is on Xero's Starter day limit (1,000) while its
    connection keeps the default 5,000: once Xero's X-DayLimit-Remaining has said so, the
    page plans on 1,000 as the triggers do, and says it was learned from Xero; the first
    organisation keeps the configured 5,000, said to be configured."""
    browser, _ = connect_all(airflow_site, sandbox)
    by_tenant = {
        json.loads(c["extra"])["tenant_id"]: cid
        for cid, c in xero_connections(airflow_site).items()
    }
    for conn_id in by_tenant.values():
        for _ in range(2):  # Xero's figure for a call is filed with the next call's unit
            assert ui_test(airflow_site, conn_id)["status"] is True
    page = browser.get("/xero/")
    assert page.status_code == 200

    def plan_of(tenant: str) -> str:
        conn_id = by_tenant[tenant]
        found = re.search(
            rf"<pre class='call-plan' data-conn='{conn_id}'>(.*?)</pre>", page.text, re.S
        )
        assert found, page.text[-3000:]
        return unescape(found[1])

    starter = plan_of(sandbox.demo.second_tenant_id)
    assert (
        "day's limit:     1000 calls, learned from Xero's X-DayLimit-Remaining; "
        "the connection's is 5000"
    ) in starter, starter
    assert "reserve:         400 calls (40%)" in starter
    assert _today(starter)[0] >= 2 and sum(_today(starter)) == 1000  # not 5,000 - 998
    standard = plan_of(sandbox.demo.tenant_id)
    assert "day's limit:     5000 calls, configured: rate_limit_per_day's default" in standard
    assert _today(standard)[0] >= 2 and sum(_today(standard)) == 5000


def _today(plan: str) -> tuple[int, int]:
    """Calls used and left today, from a plan's "today:" line."""
    found = re.search(r"today: +(\d+) used, (\d+) left", plan)
    assert found, plan
    return int(found[1]), int(found[2])


def test_the_test_button_names_the_real_connection_when_it_fails(
    airflow_site: AirflowSite, sandbox: SandboxServer, xero_app: dict, clean_connections: None
) -> None:
    with airflow_site.api() as api:
        extra = {
            "tenant_id": sandbox.demo.tenant_id,
            "api_base_url": sandbox.url,
            "identity_base_url": sandbox.url,
            "login_base_url": sandbox.url,
        }
        body = {
            "connection_id": "xero_never_authorised",
            "conn_type": "xero",
            "login": APP_CLIENT_ID,
            "password": APP_SECRET,
            "extra": json.dumps(extra),
        }
        assert api.post("/connections", json=body).status_code == 201
    result = ui_test(airflow_site, "xero_never_authorised")
    assert result["status"] is False
    assert "'xero_never_authorised'" in result["message"]
    assert "/xero/" in result["message"] or "connect" in result["message"]


def test_tampered_state_is_refused_and_stores_nothing(
    airflow_site: AirflowSite, sandbox: SandboxServer, xero_app: dict, clean_connections: None
) -> None:
    browser = airflow_site.browser()
    started = start(airflow_site, browser, sandbox)
    back = approve(started.headers["location"])
    parts = urlsplit(back.headers["location"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = {**query, "state": query["state"][:-2] + "xx"}
    answer = browser.get(f"{parts.path}?{urlencode(forged)}")
    assert answer.status_code == 400
    # a browser that did not start the sign-in cannot finish it either, even with the state
    other = airflow_site.browser()
    assert other.get(f"{parts.path}?{parts.query}").status_code == 400
    assert xero_connections(airflow_site) == {}


def test_tampered_pkce_challenge_fails_the_exchange(
    airflow_site: AirflowSite, sandbox: SandboxServer, xero_app: dict, clean_connections: None
) -> None:
    browser = airflow_site.browser()
    started = start(airflow_site, browser, sandbox)
    location = started.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 32
    query["code_challenge"] = "A" * 43  # an attacker's challenge: our verifier will not match
    back = approve(location.split("?")[0] + "?" + urlencode(query))
    answer = browser.get(back.headers["location"].replace(airflow_site.url, ""))
    assert answer.status_code == 400
    assert "Nothing was stored" in answer.text
    assert xero_connections(airflow_site) == {}


def test_only_airflow_users_who_may_edit_connections_get_in(
    airflow_site: AirflowSite, sandbox: SandboxServer, xero_app: dict
) -> None:
    anonymous = airflow_site.browser(None)
    assert anonymous.get("/xero/").status_code == 401
    assert anonymous.post("/xero/start", data={"client_id": "x"}).status_code == 401
    forged = airflow_site.browser(None)
    forged.cookies.set("_token", "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiJ9.AAAA")
    assert forged.get("/xero/").status_code == 401
    viewer = airflow_site.browser(VIEWER)  # logged in, but Airflow's viewers see no connections
    assert viewer.get("/xero/").status_code == 403
    assert viewer.post("/xero/start", data={"client_id": "x"}).status_code == 403
    admin = airflow_site.browser()
    assert admin.post("/xero/start", data={"client_id": "x", "csrf": "wrong"}).status_code == 403


def test_disconnect_one_organisation_then_revoke_the_grant(
    airflow_site: AirflowSite, sandbox: SandboxServer, xero_app: dict, clean_connections: None
) -> None:
    browser, _ = connect_all(airflow_site, sandbox)
    created = xero_connections(airflow_site)
    by_tenant = {json.loads(c["extra"])["tenant_id"]: cid for cid, c in created.items()}
    gone, kept = by_tenant[sandbox.demo.second_tenant_id], by_tenant[sandbox.demo.tenant_id]
    page = browser.get("/xero/")
    csrf = csrf_of(page.text)
    # the first press only asks, naming what will happen; nothing is deleted yet
    asked = browser.post(f"/xero/connections/{gone}/disconnect", data={"csrf": csrf})
    assert asked.status_code == 200 and "Disconnect this organisation?" in asked.text
    assert f"connection &#x27;{gone}&#x27; will be deleted" in asked.text
    assert set(xero_connections(airflow_site)) == {gone, kept}
    answer = browser.post(
        f"/xero/connections/{gone}/disconnect", data={"csrf": csrf, "confirmed": "yes"}
    )
    assert answer.status_code == 303, answer.text[:2000]
    message = parse_qs(urlsplit(answer.headers["location"]).query)["message"][0]
    assert message.endswith(f": deleted the connection {gone}."), message
    assert set(xero_connections(airflow_site)) == {kept}
    result = ui_test(airflow_site, kept)
    assert result["status"] is True, result
    # this page's own Test shows the result where the user looks
    tested = browser.post(f"/xero/connections/{kept}/test", data={"csrf": csrf})
    assert tested.status_code == 303, re.findall(r"<li>(.*?)</li>", unescape(tested.text))
    assert "passed" in parse_qs(urlsplit(tested.headers["location"]).query)["message"][0]
    asked = browser.post("/xero/grants/revoke", data={"csrf": csrf, "conn_id": kept})
    assert asked.status_code == 200 and "Revoke the authorisation?" in asked.text
    assert kept in asked.text and "cannot be undone" in asked.text
    assert ui_test(airflow_site, kept)["status"] is True  # still authorised
    answer = browser.post(
        "/xero/grants/revoke", data={"csrf": csrf, "conn_id": kept, "confirmed": "yes"}
    )
    assert answer.status_code == 303
    assert kept in parse_qs(urlsplit(answer.headers["location"]).query)["message"][0]
    # a failed Test says why on the page (the UI's icon only turns red)
    failed = browser.post(f"/xero/connections/{kept}/test", data={"csrf": csrf})
    assert failed.status_code == 400 and f"Test of {kept} failed: " in unescape(failed.text)
    result = ui_test(airflow_site, kept)
    assert result["status"] is False and f"'{kept}'" in result["message"], result
    assert "No tokens stored" in browser.get("/xero/").text


def test_the_test_copy_is_traced_to_the_connection_the_ui_asked_for(
    airflow_site: AirflowSite, sandbox: SandboxServer, xero_app: dict, clean_connections: None
) -> None:
    """Two connections with the same app and organisation: only the id the UI sent (kept by
    the plugin's middleware) can tell which one Airflow's random test copy stands for."""
    extra = {
        "tenant_id": sandbox.demo.tenant_id,
        "api_base_url": sandbox.url,
        "identity_base_url": sandbox.url,
        "login_base_url": sandbox.url,
    }
    with airflow_site.api() as api:
        for conn_id in ("xero_twin_a", "xero_twin_b"):
            body = {
                "connection_id": conn_id,
                "conn_type": "xero",
                "login": APP_CLIENT_ID,
                "password": APP_SECRET,
                "extra": json.dumps(extra),
            }
            assert api.post("/connections", json=body).status_code == 201
    # the edit form's shape: hidden host and port left out, the secret masked
    result = ui_test(airflow_site, "xero_twin_b", host=None, port=None)
    assert result["status"] is False
    assert "'xero_twin_b'" in result["message"] and "xero_twin_a" not in result["message"]


def test_disconnect_refuses_a_connection_that_is_not_xero(
    airflow_site: AirflowSite, clean_connections: None
) -> None:
    with airflow_site.api() as api:
        body = {"connection_id": "not_xero_pg", "conn_type": "postgres", "host": "db"}
        assert api.post("/connections", json=body).status_code == 201
    try:
        browser = airflow_site.browser()
        page = browser.get("/xero/")
        for confirmed in ("", "yes"):  # refused before asking, and when confirmed
            answer = browser.post(
                "/xero/connections/not_xero_pg/disconnect",
                data={"csrf": csrf_of(page.text), "confirmed": confirmed},
            )
            assert answer.status_code == 400 and "not a xero connection" in answer.text
        unknown = browser.post(
            "/xero/connections/..%2F..%2Fetc/disconnect", data={"csrf": csrf_of(page.text)}
        )
        assert unknown.status_code in (400, 404)
        with airflow_site.api() as api:
            assert api.get("/connections/not_xero_pg").status_code == 200
    finally:
        with airflow_site.api() as api:
            api.delete("/connections/not_xero_pg")
