"""Xero webhooks through the real api-server: signatures (Xero's intent-to-receive rules),
asset events for the matching resource, deduplication by sequence number, a 1,000-event
burst. Payloads are signed here the way Xero signs them (HMAC-SHA256, base64)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.connect.conftest import DAG_ID, WEBHOOK_KEY, AirflowSite
from tests.connect.deliveries import delivery, event
from xero_provider.connect.webhooks import MAX_BODY_BYTES, asset_uri, sign
from xero_sandbox.testing import SandboxServer

pytestmark = pytest.mark.slow
INTENT = {"events": [], "lastEventSequence": 0, "firstEventSequence": 0, "entropy": "S0m3r4Nd"}


def post(site: AirflowSite, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["x-xero-signature"] = signature
    return httpx.post(site.url + "/xero/webhooks", content=body, headers=headers, timeout=60)


def asset_events(site: AirflowSite, uri: str) -> list[dict[str, Any]]:
    with site.api() as api:
        assets = api.get("/assets", params={"uri_pattern": uri, "limit": 100}).json()["assets"]
        found = [a for a in assets if a["uri"] == uri]
        if not found:
            return []
        answer = api.get("/assets/events", params={"asset_id": found[0]["id"], "limit": 1000})
        return answer.json()["asset_events"]


@pytest.fixture
def consumer(airflow_site: AirflowSite) -> str:
    """The DAG scheduled on the demo organisation's Contacts asset, unpaused."""
    with airflow_site.api() as api:
        answer = api.patch(f"/dags/{DAG_ID}", json={"is_paused": False})
        assert answer.status_code == 200, answer.text
    return DAG_ID


def test_intent_to_receive_is_answered_as_xero_requires(airflow_site: AirflowSite) -> None:
    body = json.dumps(INTENT).encode()
    good = post(airflow_site, body, sign(body, WEBHOOK_KEY))
    assert good.status_code == 200
    assert good.content == b"" and "set-cookie" not in good.headers
    assert post(airflow_site, body, sign(body, "another-key")).status_code == 401
    assert post(airflow_site, body, None).status_code == 401
    assert post(airflow_site, body, "not base64 at all").status_code == 401


def test_a_bad_signature_triggers_nothing(
    airflow_site: AirflowSite, sandbox: SandboxServer, consumer: str
) -> None:
    uri = asset_uri(sandbox.demo.tenant_id, "Contacts")
    before = len(asset_events(airflow_site, uri))
    body = delivery([event(sandbox.demo.tenant_id)])
    tampered = body.replace(b"UPDATE", b"CREATE")
    assert post(airflow_site, tampered, sign(body, WEBHOOK_KEY)).status_code == 401
    assert len(asset_events(airflow_site, uri)) == before


def test_a_signed_event_creates_an_asset_event_and_queues_the_dag_once(
    airflow_site: AirflowSite, sandbox: SandboxServer, consumer: str
) -> None:
    tenant = sandbox.demo.tenant_id
    uri = asset_uri(tenant, "Contacts")
    before = len(asset_events(airflow_site, uri))
    contact = str(uuid.uuid4())
    body = delivery(
        [
            event(tenant, resourceId=contact),
            event(tenant, "INVOICE"),
            event(tenant, "CREDITNOTE", data={"Type": "ACCPAYCREDIT", "Status": "DRAFT"}),
        ]
    )
    assert post(airflow_site, body, sign(body, WEBHOOK_KEY)).status_code == 200
    events = asset_events(airflow_site, uri)
    assert len(events) == before + 1
    newest = max(events, key=lambda e: e["id"])
    assert newest["extra"]["resource_ids"] == [contact]
    assert newest["extra"]["events"][0]["event_type"] == "UPDATE"
    with airflow_site.api() as api:
        queued = api.get(f"/dags/{consumer}/assets/queuedEvents")
        assert queued.status_code == 200, queued.text
        assert {q["asset_id"] for q in queued.json()["queued_events"]} == {newest["asset_id"]}
    # Xero retries a delivery it did not see answered: the same sequence numbers again
    assert post(airflow_site, body, sign(body, WEBHOOK_KEY)).status_code == 200
    assert len(asset_events(airflow_site, uri)) == before + 1
    # the same numbers for other events (a webhook saved anew, numbering again): new
    first = json.loads(body)["firstEventSequence"]
    other = str(uuid.uuid4())
    again = delivery([event(tenant, resourceId=other)], first=first)
    assert post(airflow_site, again, sign(again, WEBHOOK_KEY)).status_code == 200
    events = asset_events(airflow_site, uri)
    assert len(events) == before + 2
    assert max(events, key=lambda e: e["id"])["extra"]["resource_ids"] == [other]


def test_a_signed_delivery_marks_its_feeds_in_the_daily_call_plan(
    airflow_site: AirflowSite, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Xero call: the api-server writes the mark where waiting triggers look for it."""
    from xero_provider.state.call_plan import CallPlan, PlanSettings
    from xero_provider.state.token_store import TokenStore

    tenant = sandbox.demo.tenant_id
    monkeypatch.setenv("AIRFLOW_HOME", str(airflow_site.home))  # the api-server's store
    plan = CallPlan(TokenStore(None), tenant, PlanSettings(), tenant_id=tenant)
    # the group's other tests deliver contact events too: only this delivery's effect counts
    contacts_before = plan.changed_since("Contacts", 0)
    sent = time.time()
    calls = len(sandbox.requests())
    body = delivery([event(tenant, "INVOICE", data={"Type": "ACCPAY"})])
    assert post(airflow_site, body, sign(body, WEBHOOK_KEY)).status_code == 200
    assert plan.changed_since("Bills", sent - 1) is not None
    assert plan.changed_since("SalesInvoices", sent - 1) is not None  # one Invoices source
    assert plan.changed_since("Contacts", 0) == contacts_before  # an invoice marks no contacts
    assert plan.webhooks_healthy()
    # a repeat of the delivery (Xero's retry) makes no asset event but marks again: a
    # mark only wakes waiting triggers to read once
    marked = plan.changed_since("Bills", 0)
    time.sleep(0.01)
    assert post(airflow_site, body, sign(body, WEBHOOK_KEY)).status_code == 200
    assert plan.changed_since("Bills", marked) is not None
    assert len(sandbox.requests()) == calls


def test_a_signed_body_that_is_not_a_payload_is_accepted_and_ignored(
    airflow_site: AirflowSite,
) -> None:
    """Correctly signed: any answer but 200 makes Xero retry, then disable the webhook
    (more cases: test_webhook_inputs.py)."""
    for body in (b"[1, 2, 3]", b"{not json"):
        assert post(airflow_site, body, sign(body, WEBHOOK_KEY)).status_code == 200


def test_a_burst_of_1000_events_is_accepted_within_xeros_window(
    airflow_site: AirflowSite, sandbox: SandboxServer, consumer: str
) -> None:
    """Benchmark: prints the time; Xero wants the answer within 5 seconds."""
    tenant = sandbox.demo.tenant_id
    uri = asset_uri(tenant, "Contacts")
    before = len(asset_events(airflow_site, uri))
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    body = delivery([event(tenant, resourceId=i) for i in ids])
    intent = json.dumps(INTENT).encode()
    post(airflow_site, intent, sign(intent, WEBHOOK_KEY))  # warm connection and imports
    started = time.perf_counter()
    answer = post(airflow_site, body, sign(body, WEBHOOK_KEY))
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    post(airflow_site, intent, sign(intent, WEBHOOK_KEY))
    baseline = time.perf_counter() - started
    print(
        f"\nwebhook burst: 1000 events ({len(body) / 1024:.0f} KiB) answered in {elapsed:.3f} s "
        f"(an empty intent-to-receive delivery: {baseline:.3f} s; Xero's limit: 5 s)"
    )
    assert answer.status_code == 200
    events = asset_events(airflow_site, uri)
    assert len(events) == before + 1
    assert sorted(max(events, key=lambda e: e["id"])["extra"]["resource_ids"]) == sorted(ids)


def test_an_oversized_delivery_is_not_read(airflow_site: AirflowSite) -> None:
    body = b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}"
    answer = post(airflow_site, body, sign(body, WEBHOOK_KEY))
    assert answer.status_code == 413


def test_a_webhook_starts_a_run_of_the_asset_scheduled_dag(
    airflow_site: AirflowSite, sandbox: SandboxServer, consumer: str
) -> None:
    """With a scheduler running, the queued asset event becomes an asset-triggered DAG run."""
    import subprocess

    from tests.connect.conftest import AIRFLOW, _stop

    body = delivery([event(sandbox.demo.tenant_id)])
    assert post(airflow_site, body, sign(body, WEBHOOK_KEY)).status_code == 200
    log = airflow_site.home / "scheduler.log"
    with open(log, "wb") as out:
        scheduler = subprocess.Popen(
            [AIRFLOW, "scheduler"],
            env={**airflow_site.env, "AIRFLOW__CORE__PARALLELISM": "2"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not runs:
            with airflow_site.api() as api:
                listed = api.get(f"/dags/{consumer}/dagRuns").json()["dag_runs"]
            runs = [r for r in listed if r["run_type"] == "asset_triggered"]
            time.sleep(1)
        assert runs, log.read_text()[-3000:]
    finally:
        _stop(scheduler)
    assert scheduler.poll() is not None
