"""Webhooks the sandbox sends: intent to receive, signed payloads that match Xero's
webhooks spec, batching, retries and disabling (developer.xero.com/documentation/webhooks/
configuring-your-server; xero-webhooks.yaml)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any

import httpx
import pytest

from xero_sandbox.conformance import webhook_errors
from xero_sandbox.webhooks import event_date, sign

KEY = "whk-" + "s3cr3t" * 8


class Receiver:
    """A webhook endpoint on a free loopback port that checks Xero's signature.

    ``answer(payload, signed_ok)`` decides the status; by default 200 for a correct
    signature and 401 otherwise, as Xero asks of a receiver.
    """

    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.calls: list[dict[str, Any]] = []
        self.answer: Callable[[dict, bool], int] = lambda payload, ok: 200 if ok else 401
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                signature = self.headers.get("x-xero-signature", "")
                expected = base64.b64encode(
                    hmac.new(receiver.key.encode(), raw, hashlib.sha256).digest()
                ).decode()
                ok = hmac.compare_digest(signature, expected)
                payload = json.loads(raw)
                receiver.calls.append({"payload": payload, "raw": raw, "signed_ok": ok})
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.answer(payload, ok))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/xero/webhooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self) -> list[dict[str, Any]]:
        return [e for c in self.deliveries() for e in c["payload"]["events"]]

    def deliveries(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["payload"]["events"]]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(sandbox: Any) -> Iterator[Receiver]:
    with Receiver() as endpoint:
        yield endpoint
    sandbox.control("DELETE", "/webhooks")


def subscribe(sandbox: Any, receiver: Receiver, **settings: Any) -> dict[str, Any]:
    body = {"url": receiver.url, "key": KEY, "batch_seconds": 0.2, **settings}
    return sandbox.control("PUT", "/webhooks", json=body).json()


def flush(sandbox: Any) -> dict[str, Any]:
    return sandbox.control("POST", "/webhooks/flush").json()


def wait_for(predicate: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# ----------------------------------------------------------------------- intent to receive


def test_intent_to_receive_passes_a_receiver_that_checks_signatures(
    sandbox: Any, receiver: Receiver
) -> None:
    state = subscribe(sandbox, receiver)
    assert state["status"] == "OK"
    assert state["config"]["key"] == "***"  # the signing key is never shown
    checks = receiver.calls
    assert len(checks) == 4
    assert {c["signed_ok"] for c in checks} == {True, False}  # both kinds were sent
    for call in checks:
        payload = call["payload"]
        assert payload["events"] == []
        assert payload["firstEventSequence"] == payload["lastEventSequence"] == 0
        assert isinstance(payload["entropy"], str) and payload["entropy"]
    assert all(r["passed"] for r in state["intent_to_receive"])


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (lambda payload, ok: 200, "accepts a wrongly signed request"),
        (lambda payload, ok: 401, "refuses a correctly signed request"),
        (lambda payload, ok: 500, "errors"),
    ],
)
def test_intent_to_receive_fails_a_receiver_that_does_not_check(
    sandbox: Any, receiver: Receiver, answer: Callable, why: str
) -> None:
    receiver.answer = answer
    state = subscribe(sandbox, receiver)
    assert state["status"] == "FAILED", why
    httpx.put(
        sandbox.url + "/api.xro/2.0/Contacts", json={"Name": "Nobody hears"}, timeout=5
    )  # unauthenticated: a 401, and no event either way
    assert flush(sandbox)["pending_events"] == 0


def test_intent_to_receive_fails_a_slow_receiver(sandbox: Any, receiver: Receiver) -> None:
    receiver.delay = 1.5
    state = subscribe(sandbox, receiver, timeout_seconds=1.0)
    assert state["status"] == "FAILED"


def test_unreachable_receiver_fails_intent(sandbox: Any) -> None:
    body = {"url": "http://127.0.0.1:9/nothing-listens", "key": KEY, "timeout_seconds": 1}
    state = sandbox.control("PUT", "/webhooks", json=body).json()
    assert state["status"] == "FAILED"


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x", "key": KEY},
        {"url": "http://127.0.0.1:1/x", "key": ""},
        {"url": "http://127.0.0.1:1/x", "key": KEY, "categories": ["PAYMENT"]},
        {"url": "http://127.0.0.1:1/x", "key": KEY, "retry_delays": [-1]},
        {"url": "http://127.0.0.1:1/x", "key": KEY, "max_events": 0},
    ],
)
def test_bad_webhook_settings_are_refused(sandbox: Any, body: dict) -> None:
    response = httpx.put(sandbox.url + "/__sandbox/webhooks", json=body, timeout=30)
    assert response.status_code in (400, 422), response.text


# ------------------------------------------------------------------------- events


def test_writes_send_signed_events_in_xeros_shape(
    sandbox: Any, receiver: Receiver, xero_client: httpx.Client
) -> None:
    subscribe(sandbox, receiver)
    contact = xero_client.put("/Contacts", json={"Name": "Hook Co"}).json()["Contacts"][0]
    xero_client.post(f"/Contacts/{contact['ContactID']}", json={"EmailAddress": "a@hook.example"})
    line = {"Description": "x", "UnitAmount": 5, "AccountCode": "200"}
    invoice = xero_client.put(
        "/Invoices",
        json={
            "Type": "ACCREC",
            "Contact": {"ContactID": contact["ContactID"]},
            "LineItems": [line],
        },
    ).json()["Invoices"][0]
    note = xero_client.put(
        "/CreditNotes",
        json={
            "Type": "ACCRECCREDIT",
            "Contact": {"ContactID": contact["ContactID"]},
            "LineItems": [line],
        },
    ).json()["CreditNotes"][0]
    xero_client.put("/Items", json={"Code": "HOOK-1", "Name": "Not a webhook category"})
    flush(sandbox)
    wait_for(lambda: len(receiver.events()) >= 5)
    time.sleep(0.3)  # nothing more should follow
    for delivery in receiver.deliveries():
        assert delivery["signed_ok"], "every payload carries a valid x-xero-signature"
        assert webhook_errors(delivery["payload"]) == []
    events = receiver.events()
    summary = [(e["eventCategory"], e["eventType"], e["resourceId"]) for e in events]
    # The first sales invoice makes the contact a customer (IsCustomer): an UPDATE too.
    assert summary == [
        ("CONTACT", "CREATE", contact["ContactID"]),
        ("CONTACT", "UPDATE", contact["ContactID"]),
        ("INVOICE", "CREATE", invoice["InvoiceID"]),
        ("CONTACT", "UPDATE", contact["ContactID"]),
        ("CREDITNOTE", "CREATE", note["CreditNoteID"]),
    ]
    first = events[0]
    assert first["tenantId"] == sandbox.demo.tenant_id and first["tenantType"] == "ORGANISATION"
    assert first["resourceUrl"].endswith(f"/api.xro/2.0/Contacts/{contact['ContactID']}")
    assert (
        httpx.get(first["resourceUrl"], headers=dict(xero_client.headers), timeout=30).json()[
            "Contacts"
        ][0]["Name"]
        == "Hook Co"
    )
    credit = next(e for e in events if e["eventCategory"] == "CREDITNOTE")
    assert credit["data"] == {"Type": "ACCRECCREDIT", "Status": "DRAFT"}
    sequences = [
        (d["payload"]["firstEventSequence"], d["payload"]["lastEventSequence"])
        for d in receiver.deliveries()
    ]
    assert sequences[0][0] == 1
    for (_, last), (first_next, _) in pairwise(sequences):
        assert first_next == last + 1  # no gaps, no repeats


def test_a_rejected_write_sends_no_event(
    sandbox: Any, receiver: Receiver, xero_client: httpx.Client
) -> None:
    subscribe(sandbox, receiver)
    response = xero_client.put("/Contacts", json={"Contacts": [{"Name": ""}]})
    assert response.status_code == 400
    assert flush(sandbox)["pending_events"] == 0
    assert receiver.events() == []


def test_events_are_batched(sandbox: Any, receiver: Receiver, xero_client: httpx.Client) -> None:
    subscribe(sandbox, receiver, batch_seconds=2.0, max_events=3)
    names = [{"Name": f"Batch Hook {i}"} for i in range(5)]
    xero_client.put("/Contacts", json={"Contacts": names})
    wait_for(lambda: len(receiver.deliveries()) >= 1)  # a full batch goes at once
    first = receiver.deliveries()[0]["payload"]
    assert len(first["events"]) == 3
    assert (first["firstEventSequence"], first["lastEventSequence"]) == (1, 3)
    time.sleep(0.5)
    assert len(receiver.deliveries()) == 1  # the other two wait for the batch window
    wait_for(lambda: len(receiver.deliveries()) == 2, seconds=10)
    second = receiver.deliveries()[1]["payload"]
    assert (second["firstEventSequence"], second["lastEventSequence"]) == (4, 5)


def test_failed_deliveries_are_retried_with_the_same_payload(
    sandbox: Any, receiver: Receiver, xero_client: httpx.Client
) -> None:
    subscribe(sandbox, receiver, retry_delays=[0.2, 0.2, 0.2])
    failures = {"left": 2}

    def flaky(payload: dict, ok: bool) -> int:
        if payload["events"] and failures["left"]:
            failures["left"] -= 1
            return 503
        return 200 if ok else 401

    receiver.answer = flaky
    xero_client.put("/Contacts", json={"Name": "Retry Co"})
    flush(sandbox)
    wait_for(lambda: len(receiver.deliveries()) == 3)
    raws = [d["raw"] for d in receiver.deliveries()]
    assert raws[0] == raws[1] == raws[2]  # the same batch, same sequence numbers
    state = sandbox.control("GET", "/webhooks").json()
    assert [d["delivered"] for d in state["deliveries"]] == [False, False, True]
    assert state["status"] == "OK"


def test_a_receiver_that_keeps_failing_gets_the_webhook_disabled(
    sandbox: Any, receiver: Receiver, xero_client: httpx.Client
) -> None:
    """Xero retries "with decreasing frequency for up to 24 hours" and then disables the
    webhook; here the schedule is shortened to two retries."""
    subscribe(sandbox, receiver, retry_delays=[0.1, 0.1])
    receiver.answer = lambda payload, ok: 500 if payload["events"] else (200 if ok else 401)
    xero_client.put("/Contacts", json={"Name": "Doomed Delivery"})
    flush(sandbox)
    wait_for(lambda: sandbox.control("GET", "/webhooks").json()["status"] == "DISABLED")
    assert len(receiver.deliveries()) == 3
    assert sandbox.control("POST", "/webhooks/intent").json()["status"] == "OK"  # re-enabled


def test_a_slow_receiver_is_a_failed_delivery(
    sandbox: Any, receiver: Receiver, xero_client: httpx.Client
) -> None:
    subscribe(sandbox, receiver, timeout_seconds=1.0, retry_delays=[0.1])
    receiver.delay = 1.5
    xero_client.put("/Contacts", json={"Name": "Slow Co"})
    flush(sandbox)
    wait_for(lambda: sandbox.control("GET", "/webhooks").json()["status"] == "DISABLED")
    entries = sandbox.control("GET", "/webhooks").json()["deliveries"]
    assert all(not e["delivered"] and e["error"] == "ReadTimeout" for e in entries)


def test_categories_and_app_limit_what_is_sent(
    sandbox: Any, receiver: Receiver, xero_client: httpx.Client
) -> None:
    subscribe(sandbox, receiver, categories=["INVOICE"], client_id=sandbox.demo.custom_client_id)
    xero_client.put("/Contacts", json={"Name": "Not subscribed"})
    flush(sandbox)
    assert receiver.events() == []  # CONTACT is not a subscribed category
    assert sandbox.control("GET", "/webhooks").json()["pending_events"] == 0


def test_the_spec_check_covers_webhook_payloads() -> None:
    good = {
        "events": [
            {
                "resourceUrl": "https://api.xero.com/api.xro/2.0/Contacts/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",
                "resourceId": "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",
                "eventDateUtc": "2024-06-21T01:15:39.902",
                "eventType": "UPDATE",
                "eventCategory": "CONTACT",
                "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
                "tenantType": "ORGANISATION",
            }
        ],
        "lastEventSequence": 1,
        "firstEventSequence": 1,
        "entropy": "S0m3r4Nd0mt3xt",
    }
    assert webhook_errors(good) == []
    credit = {**good, "events": [{**good["events"][0], "eventCategory": "CREDITNOTE"}]}
    assert any("data" in e for e in webhook_errors(credit))
    assert webhook_errors({**good, "lastEventSequence": 0})


def test_signature_and_dates_match_xeros_forms() -> None:
    from datetime import UTC, datetime

    body = b'{"events":[]}'
    assert (
        sign("key", body)
        == base64.b64encode(hmac.new(b"key", body, hashlib.sha256).digest()).decode()
    )
    assert event_date(datetime(2024, 6, 21, 1, 15, 39, 902000, tzinfo=UTC)) == (
        "2024-06-21T01:15:39.902"
    )
