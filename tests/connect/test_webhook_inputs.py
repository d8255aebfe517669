"""Hostile webhook deliveries, in-process against the connect app (ASGI, no api-server):
a body over the cap is refused (413) without being read in full or signed over, with or
without a declared length; a signed body that is not a Xero payload is ignored with
200 (any other answer makes Xero retry, then disable the webhook), never 500; events
naming tenants Airflow does not know, ids that are not tenant ids, or categories Xero
does not send are logged and ignored, and mark no organisation's plan.
The plan's store is real (SQLite and PostgreSQL), as is Airflow's metadata database."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.connect.deliveries import delivery, event
from xero_provider.connect import webhooks
from xero_provider.connect.webhooks import MAX_BODY_BYTES, sign
from xero_provider.state.call_plan import CallPlan, PlanSettings, plan_table
from xero_provider.state.token_store import TokenStore

KEY = "inputs-webhook-key-" + uuid.uuid4().hex[:8]
KNOWN = str(uuid.uuid4())


@pytest.fixture
def app(airflow_db, monkeypatch, store_url: str) -> Any:
    """The connect app with a webhook key, a state store and one known organisation
    (an env-var ``xero`` connection, as a deployment may define it)."""
    from xero_provider.connect.web import create_app

    monkeypatch.setenv("AIRFLOW__XERO_CONNECT__WEBHOOK_KEY", KEY)
    monkeypatch.setenv("AIRFLOW__XERO_CONNECT__STATE_STORE", store_url)
    conn = {"conn_type": "xero", "login": "client", "extra": {"tenant_id": KNOWN.upper()}}
    monkeypatch.setenv("AIRFLOW_CONN_XERO_INPUTS_KNOWN", json.dumps(conn))
    return create_app()


def _post(app: Any, body: Any, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/webhooks", content=body, headers=headers)

    return asyncio.run(go())


def _signed(body: bytes) -> dict[str, str]:
    return {"x-xero-signature": sign(body, KEY), "content-type": "application/json"}


def _plan(store_url: str, tenant: str) -> CallPlan:
    return CallPlan(TokenStore(store_url), tenant, PlanSettings(), tenant_id=tenant)


def _marks(store_url: str, org: str) -> dict[str, tuple]:
    """The plan's rows of ``org`` (PostgreSQL's are shared by every test: compare)."""
    import sqlalchemy as sa

    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            query = sa.select(plan_table).where(plan_table.c.org == org)
            return {row.key: (row.webhook_at, row.changed_at) for row in conn.execute(query)}
    finally:
        engine.dispose()


def test_a_body_over_the_cap_is_refused_unread_and_unsigned(app, monkeypatch) -> None:
    signed: list[int] = []
    real = webhooks.signed_with
    monkeypatch.setattr(webhooks, "signed_with", lambda b, *a: signed.append(len(b)) or real(b, *a))
    # a declared length over the cap: not a byte read
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    assert _post(app, big, _signed(big)).status_code == 413
    # no declared length (chunked): read only up to the cap of a gigabyte on offer
    pulled = 0

    async def a_gigabyte() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(1024):
            pulled += 1024 * 1024
            yield b" " * (1024 * 1024)

    answer = _post(app, a_gigabyte(), {"x-xero-signature": "x"})
    assert answer.status_code == 413
    assert pulled <= 2 * MAX_BODY_BYTES, f"{pulled} bytes pulled for a 1 MiB cap"
    assert signed == []  # no signature computed over either
    # just under the cap is read and checked as usual (a bad signature: 401)
    fits = b" " * (MAX_BODY_BYTES - 10)
    assert _post(app, fits, {"x-xero-signature": "x"}).status_code == 401
    assert signed == [len(fits)]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[" * 100_000 + b"]" * 100_000,  # nested past Python's recursion limit
        b"[1, 2, 3]",
        b'{"events": "all of them"}',
        b'{"events": [], "firstEventSequence": 1e400, "lastEventSequence": 1}',
        b'{"events": [], "firstEventSequence": 99999999999999999999, "lastEventSequence": 1}',
        b'{"events": [], "firstEventSequence": -5, "lastEventSequence": 1}',
        b'{"events": [], "firstEventSequence": "7", "lastEventSequence": 7}',
        b'{"events": [], "firstEventSequence": true, "lastEventSequence": 1}',
    ],
    ids=[
        "not-json",
        "not-utf8",
        "deep",
        "a-list",
        "events-not-a-list",
        "infinite-sequence",
        "sequence-past-int64",
        "negative-sequence",
        "sequence-as-text",
        "sequence-as-boolean",
    ],
)
def test_a_signed_body_that_is_not_a_xero_payload_is_ignored_with_200(
    app, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="xero_provider.connect.web"):
        assert _post(app, body, _signed(body)).status_code == 200
    assert "valid signature but" in caplog.text and ": ignored" in caplog.text


def test_events_for_unknown_tenants_or_categories_are_ignored_and_logged(
    app, store_url: str, caplog
) -> None:
    stranger, other = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        event(stranger),  # a tenant id no connection or asset names
        event("*"),  # the app-level row: would make every organisation's webhooks healthy
        event(f"{other}|Contacts"),  # not a tenant id: no key of another organisation
        event({"id": other}),
        event(KNOWN, "SUBSCRIPTION"),  # an app event, no record feed
        event(KNOWN, "BANKTRANSACTION"),
        event(f" {KNOWN.upper()} ", "INVOICE"),  # the one to act on (as Xero may case it)
    ]
    body = delivery(events)
    _plan(store_url, KNOWN)  # the plan's table exists
    app_wide = _marks(store_url, "*")
    before = time.time()
    with caplog.at_level(logging.WARNING, logger="xero_provider.connect.webhooks"):
        assert _post(app, body, _signed(body)).status_code == 200
    (line,) = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert line.startswith("Xero webhook: 6 event(s) ignored")
    assert stranger in line and "'SUBSCRIPTION'" in line and "'*'" in line
    known = _plan(store_url, KNOWN)
    assert known.changed_since("Invoices", before - 1) is not None
    assert known.changed_since("Contacts", 0) is None  # its contact event had no tenant
    assert _marks(store_url, "*") == app_wide  # no app-wide mark from an event
    for org in (stranger, other, f"{other}|contacts", "{'id'"):
        assert _marks(store_url, org) == {}, org


# SQLite only: its app-wide mark would make every organisation's webhooks healthy for 6
# hours in the PostgreSQL database other tests share (test_call_plan.py's among them).
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_intent_to_receive_check_still_marks_webhooks_healthy(app, store_url) -> None:
    body = json.dumps(
        {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "X"}
    ).encode()
    assert _post(app, body, _signed(body)).status_code == 200
    assert _post(app, body, {"x-xero-signature": sign(body, "another")}).status_code == 401
    assert _plan(store_url, str(uuid.uuid4())).webhooks_healthy()  # the app-level row


def test_a_delivery_just_under_the_cap_is_taken_whole(app, store_url: str) -> None:
    """Benchmark: prints how long the largest accepted delivery takes (in-process, no
    api-server); Xero wants the answer within 5 seconds."""
    size = len(json.dumps(event(KNOWN))) + 2  # every event has the same length
    events = [event(KNOWN) for _ in range((MAX_BODY_BYTES - 200) // size)]
    body = delivery(events)
    assert MAX_BODY_BYTES - 2 * size < len(body) <= MAX_BODY_BYTES
    started = time.perf_counter()
    assert _post(app, body, _signed(body)).status_code == 200
    elapsed = time.perf_counter() - started
    print(
        f"\nwebhook at the cap: {len(events)} events ({len(body) / 1024:.0f} KiB) "
        f"answered in {elapsed:.2f} s in-process ({store_url.split(':')[0]} state store)"
    )
    assert _plan(store_url, KNOWN).changed_since("Contacts", 0) is not None
