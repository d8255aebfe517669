"""The connect package's pure parts and its tables: webhook signatures, payload parsing
and grouping, sequence claims (SQLite and PostgreSQL), pending sign-ins, callback checks,
the Test-request fix, redirect URI checks and connection ids."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from xero_provider.connect import flow, preflight, webhooks
from xero_provider.connect.airflow_connections import new_conn_id
from xero_provider.connect.middleware import _fixed
from xero_provider.state.connect_state import PendingSignIns, SeenSequences, pending_table

KEY = "webhook-signing-key"


# --------------------------------------------------------------------- signatures


def test_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    # Xero: base64(HMAC-SHA256(webhook key, raw body)), recomputed here with the stdlib
    import base64
    import hashlib
    import hmac

    body = b'{"events":[]}'
    expected = base64.b64encode(hmac.new(KEY.encode(), body, hashlib.sha256).digest()).decode()
    assert webhooks.sign(body, KEY) == expected
    assert webhooks.signed_with(body, expected, ["other", KEY]) == KEY


@pytest.mark.parametrize(
    "signature",
    [None, "", "x" * 5000, "bm90IGEgc2lnbmF0dXJl", "\u00e9\u00e9", None],
    ids=["missing", "empty", "huge", "wrong", "non-ascii", "missing-again"],
)
def test_anything_but_the_right_signature_is_refused(signature: str | None) -> None:
    body = b'{"events":[]}'
    assert webhooks.signed_with(body, signature, [KEY]) is None
    assert webhooks.signed_with(body, webhooks.sign(body, KEY), []) is None  # no key set
    assert webhooks.signed_with(body + b" ", webhooks.sign(body, KEY), [KEY]) is None


# --------------------------------------------------------------------- payloads


def _body(events: list[dict], first: int = 10, last: int | None = None) -> bytes:
    last = first + len(events) - 1 if last is None else last
    return json.dumps(
        {"events": events, "firstEventSequence": first, "lastEventSequence": last, "entropy": "E"}
    ).encode()


def test_events_are_numbered_by_sequence_when_the_counts_agree() -> None:
    events = [{"resourceId": "a"}, {"resourceId": "b"}, {"resourceId": "c"}]
    delivery = webhooks.Delivery.parse(_body(events, first=7))
    assert [k[:2] for k, _ in delivery.events] == [(7, 7), (8, 8), (9, 9)]
    assert len({k[2] for k, _ in delivery.events}) == 3  # each event's own fingerprint
    odd = webhooks.Delivery.parse(_body(events[:2], first=7, last=20))
    assert [k[:2] for k, _ in odd.events] == [(7, 20), (7, 20)]
    assert len({k[2] for k, _ in odd.events}) == 1  # the delivery's, shared


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"events": "x"}', b'{"events": [], "firstEventSequence": "one"}'],
    ids=["not-json", "a-list", "events-not-a-list", "bad-sequence"],
)
def test_a_malformed_payload_is_a_bad_payload(body: bytes) -> None:
    with pytest.raises(webhooks.BadPayload):
        webhooks.Delivery.parse(body)


def test_events_group_by_organisation_and_resource() -> None:
    tenant = "6A1F3E52-8C0D-4B7E-9F21-3D5C7A9B1E01"

    def event(category: str, rid: str, **data: str) -> dict:
        found = {"tenantId": tenant, "eventCategory": category, "resourceId": rid}
        return {**found, "data": data} if data else found

    events = [
        {**event("CONTACT", "c1"), "eventType": "CREATE"},
        event("INVOICE", "i1"),
        event("INVOICE", "i2", Type="ACCPAY"),
        event("INVOICE", "i3", Type="ACCREC"),
        event("CREDITNOTE", "n1", Type="ACCPAYCREDIT", Status="DRAFT"),
        event("SUBSCRIPTION", "s1"),
        {"eventCategory": "CONTACT", "resourceId": "no-tenant"},
    ]
    groups = webhooks.group(events)
    t = tenant.lower()
    assert {k: [e["resource_id"] for e in v] for k, v in groups.items()} == {
        (t, "Contacts"): ["c1"],
        (t, "Invoices"): ["i1", "i2", "i3"],
        (t, "Bills"): ["i2"],
        (t, "SalesInvoices"): ["i3"],
        (t, "CreditNotes"): ["n1"],
    }
    assert groups[(t, "CreditNotes")][0]["type"] == "ACCPAYCREDIT"
    assert webhooks.asset_uri(tenant, "Contacts") == f"xero://{t}/Contacts"


# --------------------------------------------------------------------- tables


def test_sequences_are_claimed_once_even_by_racing_workers(store_url: str) -> None:
    seen = SeenSequences(store_url)
    key = f"key-{uuid.uuid4().hex}"
    ranges = [(n, n, f"event-{n}") for n in range(1, 201)]
    barrier = threading.Barrier(8)

    def claim() -> set:
        barrier.wait()
        return seen.claim(key, ranges)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: claim(), range(8)))
    won = [r for r in results if r]
    assert sum(len(r) for r in results) == 200  # every sequence went to exactly one worker
    assert set().union(*won) == set(ranges)
    assert seen.claim(key, ranges) == set()
    seen.release(key, {(5, 5, "event-5")})
    assert seen.claim(key, ranges) == {(5, 5, "event-5")}
    assert seen.claim(f"other-{key}", [(5, 5, "event-5")]) == {(5, 5, "event-5")}  # per key
    # the same numbers saying something else (numbering started again): not a repeat
    assert seen.claim(key, [(5, 5, "another event")]) == {(5, 5, "another event")}


def test_a_pending_sign_in_is_taken_once_and_encrypted(store_url: str) -> None:
    pending = PendingSignIns(store_url)
    state = f"state-{uuid.uuid4().hex}"
    pending.put(state, {"verifier": "v" * 50, "secret": "s3cret-value"}, "admin")
    with pending.engine.connect() as conn:
        raw = conn.execute(sa.select(pending_table.c.ciphertext)).scalars().all()
    assert all("s3cret-value" not in row and state not in row for row in raw)
    assert pending.take(state) == ({"verifier": "v" * 50, "secret": "s3cret-value"}, "admin")
    assert pending.take(state) is None
    assert pending.take("x" * 10_000) is None
    old = f"old-{uuid.uuid4().hex}"
    pending.put(old, {"verifier": "v"}, "admin")
    with pending.engine.begin() as conn:
        conn.execute(
            sa.update(pending_table)
            .where(pending_table.c.state_hash == hashlib.sha256(old.encode()).hexdigest())
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert pending.take(old) is None


# --------------------------------------------------------------------- callbacks


def _pending() -> flow.PendingFlow:
    request = flow.ConnectRequest(client_id="C", redirect_uri="http://localhost/cb")
    return flow.PendingFlow("the-state", "v" * 64, request)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"state": "other", "code": "c"}, "different state"),
        ({"code": "c"}, "different state"),
        ({"state": "the-state", "error": "access_denied"}, "did not grant access: access_denied"),
        ({"state": "the-state"}, "without a code"),
    ],
    ids=["wrong-state", "no-state", "denied", "no-code"],
)
def test_a_callback_that_does_not_match_is_refused(params: dict, message: str) -> None:
    with pytest.raises(flow.ConnectError, match=message):
        flow.check_callback(_pending(), params)


def test_a_matching_callback_gives_the_code_and_pkce_is_s256() -> None:
    assert flow.check_callback(_pending(), {"state": "the-state", "code": "abc"}) == "abc"
    import base64
    import hashlib

    verifier, challenge = flow.pkce_pair()
    assert 43 <= len(verifier) <= 128
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --------------------------------------------------------------------- small helpers


def test_the_test_request_fix_touches_only_xero_connections() -> None:
    body = {"connection_id": "xero_a", "conn_type": "xero", "host": "", "port": 0, "login": "C"}
    fixed, conn_id = _fixed(json.dumps(body).encode())
    assert conn_id == "xero_a"
    assert json.loads(fixed) == {"connection_id": "xero_a", "conn_type": "xero", "login": "C"}
    other = json.dumps({**body, "conn_type": "postgres"}).encode()
    assert _fixed(other) == (other, None)
    assert _fixed(b"not json") == (b"not json", None)
    kept = json.dumps({**body, "port": 443, "host": "h"}).encode()
    assert json.loads(_fixed(kept)[0])["port"] == 443


@pytest.mark.parametrize(
    ("uri", "listen", "problem"),
    [
        ("http://localhost:8080/xero/callback", True, None),
        ("https://airflow.example.com/xero/callback", False, None),
        ("https://airflow.example.com/xero/callback", True, "--paste"),
        ("http://airflow.example.com/xero/callback", False, "http only for localhost"),
        ("javascript:alert(1)", False, "not an http(s) URL"),
        ("", False, "not an http(s) URL"),
    ],
)
def test_redirect_uri_checks(uri: str, listen: bool, problem: str | None) -> None:
    found = preflight.check_redirect_uri(uri, listen=listen)
    assert (found is None) if problem is None else (problem in found)


def test_connection_ids_are_safe_and_unique() -> None:
    taken = {"xero_demo_company_nz"}
    assert new_conn_id("xero", "Demo Company (NZ)", taken) == "xero_demo_company_nz_2"
    assert new_conn_id("xero", "../../etc/passwd; DROP", set()) == "xero_etc_passwd_drop"
    assert new_conn_id("xero", "Ünïcode ☃", set()) == "xero_n_code"
    assert new_conn_id("xero", "!!!", set()) == "xero_organisation"
    assert len(new_conn_id("xero", "a" * 500, set())) <= 65


def test_a_connect_request_never_shows_its_secret() -> None:
    request = flow.ConnectRequest(client_id="C", client_secret="very-secret-value")
    assert "very-secret-value" not in repr(request)
    with pytest.raises(flow.XeroConfigurationError, match="Client ID"):
        flow.ConnectRequest(client_id="  ").config()


def test_the_redirect_uri_comes_from_configuration_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from xero_provider.connect import settings

    monkeypatch.delenv("AIRFLOW__XERO_CONNECT__REDIRECT_URI", raising=False)
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    assert settings.redirect_uri() == "http://localhost:8080/xero/callback"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")
    assert settings.redirect_uri() == "https://airflow.example.com/xero/callback"
    monkeypatch.setenv("AIRFLOW__XERO_CONNECT__REDIRECT_URI", "https://x.example.com/cb")
    assert settings.redirect_uri() == "https://x.example.com/cb"
    monkeypatch.setenv("AIRFLOW__XERO_CONNECT__WEBHOOK_KEY", " k1 , ,k2 ")
    assert settings.webhook_keys() == ["k1", "k2"]
