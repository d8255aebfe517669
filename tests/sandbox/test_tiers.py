"""App tiers in the sandbox (since 2 March 2026): connection caps, the day limit per
organisation, Journals only on Advanced and above, and egress per app, organisation and
month. Sources are in tiers.py, egress.py and BEHAVIOUR.md."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

import httpx

from tests.conftest import authorised_client

REDIRECT = "http://localhost:9999/callback"


def _set_tier(sandbox: Any, client_id: str, tier: str) -> dict[str, Any]:
    response = sandbox.control("PUT", f"/apps/{client_id}", json={"tier": tier})
    assert response.status_code == 200, response.text
    return response.json()


def _seed_app(sandbox: Any, tier: str, organisations: int) -> tuple[str, list[str]]:
    """A web app on ``tier`` and ``organisations`` fresh organisations to connect."""
    client_id = f"tier-{tier}-{uuid.uuid4().hex[:8]}"
    tenants = [str(uuid.uuid4()) for _ in range(organisations)]
    payload = {
        "organisations": [
            {"tenant_id": t, "name": f"Tier Org {i}", "reference_data": False}
            for i, t in enumerate(tenants)
        ],
        "apps": [
            {
                "client_id": client_id,
                "client_secret": "s3cret-" + client_id,
                "name": f"{tier.title()} Test App",
                "redirect_uris": [REDIRECT],
                "tier": tier,
            }
        ],
    }
    response = sandbox.control("POST", "/seed", json=payload)
    assert response.status_code == 200, response.text
    return client_id, tenants


def test_journals_need_advanced(sandbox: Any, xero_spec: Any) -> None:
    client_id = sandbox.demo.web_client_id
    with authorised_client(sandbox, xero_spec) as client:
        assert client.get("/Journals").status_code == 200
        for tier in ("starter", "core", "plus"):
            _set_tier(sandbox, client_id, tier)
            refused = client.get("/Journals")
            assert refused.status_code == 401
            assert refused.json()["Detail"] == "AuthorizationUnsuccessful"
            assert "invalid_token" not in refused.headers.get("www-authenticate", "")
            assert client.get("/Contacts").status_code == 200  # the token is fine
        _set_tier(sandbox, client_id, "enterprise")
        assert client.get("/Journals").status_code == 200


def test_the_day_limit_follows_the_apps_tier(sandbox: Any, xero_spec: Any) -> None:
    with authorised_client(sandbox, xero_spec) as client:
        assert client.get("/Contacts").headers["X-DayLimit-Remaining"] == "4999"
        _set_tier(sandbox, sandbox.demo.web_client_id, "starter")
        assert client.get("/Contacts").headers["X-DayLimit-Remaining"] == "998"


def test_a_starter_app_connects_five_organisations_and_no_more(sandbox: Any) -> None:
    client_id, tenants = _seed_app(sandbox, "starter", 6)
    for tenant in tenants[:5]:
        response = sandbox.control(
            "POST", "/tokens", json={"client_id": client_id, "tenant_ids": [tenant]}
        )
        assert response.status_code == 200, response.text
    apps = {a["client_id"]: a for a in sandbox.control("GET", "/apps").json()}
    assert apps[client_id]["connections"] == 5 and apps[client_id]["tier"] == "starter"
    # Reconnecting an organisation already connected takes no new slot.
    again = sandbox.control(
        "POST", "/tokens", json={"client_id": client_id, "tenant_ids": [tenants[0]]}
    )
    assert again.status_code == 200
    # The sixth, through the consent page: Xero's connection-limit page, no redirect.
    page = _consent(sandbox, client_id, tenants[5])
    assert page.status_code == 403 and "location" not in page.headers
    assert "Starter Test App has reached their Xero connection limit" in page.text


def _consent(sandbox: Any, client_id: str, tenant: str) -> httpx.Response:
    """The user's browser approving ``tenant`` on the consent page."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid offline_access accounting.contacts",
        "state": "s1",
    }
    with httpx.Client(base_url=sandbox.url, timeout=30) as browser:
        page = browser.get("/identity/connect/authorize", params=query)
        request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
        return browser.post(
            "/identity/connect/authorize",
            data={"request_id": unescape(request_id), "decision": "approve", "tenant_id": tenant},
        )


def test_bulk_connections_need_advanced(sandbox: Any) -> None:
    client_id, tenants = _seed_app(sandbox, "core", 2)
    refused = httpx.post(
        sandbox.url + "/__sandbox/tokens",
        json={"client_id": client_id, "tenant_ids": tenants},
        timeout=30,
    )
    assert refused.status_code in (400, 403) and "bulk connection" in refused.text
    _set_tier(sandbox, client_id, "advanced")
    allowed = sandbox.control(
        "POST", "/tokens", json={"client_id": client_id, "tenant_ids": tenants}
    )
    assert allowed.status_code == 200, allowed.text


def test_an_unknown_tier_is_refused_naming_the_choices(sandbox: Any) -> None:
    response = httpx.put(
        f"{sandbox.url}/__sandbox/apps/{sandbox.demo.web_client_id}",
        json={"tier": "platinum"},
        timeout=30,
    )
    assert response.status_code == 400
    assert "starter, core, plus, advanced, enterprise" in response.text


def test_egress_is_counted_per_app_organisation_and_month(sandbox: Any, xero_spec: Any) -> None:
    demo = sandbox.demo
    sent = {demo.tenant_id: 0, demo.second_tenant_id: 0}
    for tenant in sent:
        with authorised_client(sandbox, xero_spec, tenant_id=tenant) as client:
            for path in ("/Contacts", "/Invoices", "/Organisation"):
                sent[tenant] += len(client.get(path).content)
    month = sandbox.control("GET", "/clock").json()["now"][:7]
    report = sandbox.control("GET", "/egress", params={"client_id": demo.web_client_id})
    app = report.json()[demo.web_client_id]
    assert app["tier"] == "advanced" and app["included_gb_per_month"] == 250
    usage = app["months"][month]
    assert usage["organisations"] == sent
    assert usage["bytes"] == sum(sent.values()) and usage["calls"] == 6
    assert usage["organisation_calls"] == {demo.tenant_id: 3, demo.second_tenant_id: 3}


def test_a_run_on_a_tier_is_judged_by_the_app_record_calls_and_skip_notes(
    sandbox: Any, xero_spec: Any
) -> None:
    """What the Starter and Core runs of the example DAGs check (xero_demo.app_tiers): the
    sandbox's app record, each organisation's calls against its day limit, the notes."""
    from xero_demo.app_tiers import gated_resources, set_app_tier, tier_problems, tier_usage

    demo = sandbox.demo
    assert set_app_tier(sandbox, "core")["tier"] == "core"
    with authorised_client(sandbox, xero_spec) as client:
        assert client.get("/Contacts").status_code == 200
        assert client.get("/Journals").status_code == 401  # Core has no Journals
    usage = tier_usage(sandbox, "core")
    # the second demo organisation is on Xero's Starter plan: its own 1,000 a day
    assert usage["organisations"] == {demo.tenant_id: {"calls": 2, "day_limit": 5000}}
    assert gated_resources("core") == {"Journals"} and gated_resources("advanced") == set()
    note = "skipped: Journals needs a Xero app on the Advanced tier or above; ..."
    assert tier_problems(usage, {"run": {"Journals": note}}, "core") == []
    problems = tier_problems(usage, {"run": {"Journals": ""}}, "starter")
    assert len(problems) == 2 and "holds the app on core" in problems[0], problems
    assert "Journals not skipped" in problems[1]
    over = {**usage, "organisations": {"t": {"calls": 1001, "day_limit": 1000}}}
    assert "over the day limit" in tier_problems(over, {}, "core")[0]


def test_the_demo_grant_connects_one_organisation_at_a_time_below_advanced(
    sandbox: Any, xero_spec: Any
) -> None:
    """A Starter app may not connect two organisations in one consent (no bulk
    connections); the demo's grant connects them one at a time, and the last consent's
    token still reaches both (access follows the app's connections)."""
    from xero_demo.sandbox_grant import consents

    demo = sandbox.demo
    both = [demo.tenant_id, demo.second_tenant_id]
    assert consents(sandbox.url) == [both]
    _set_tier(sandbox, demo.web_client_id, "starter")
    assert consents(sandbox.url) == [[demo.tenant_id], [demo.second_tenant_id]]
    for tenant_ids in consents(sandbox.url):
        tokens = sandbox.tokens(tenant_ids=tenant_ids)
    for tenant in both:
        headers = {
            "Authorization": f"Bearer {tokens['access_token']}",
            "xero-tenant-id": tenant,
            "Accept": "application/json",
        }
        answer = httpx.get(f"{sandbox.url}/api.xro/2.0/Organisation", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
