"""Exactly once across crashes: a process killed between Xero's answer and the ledger
write, Xero's Idempotency-Key window over, then a rerun: no record written twice."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from datetime import date

import pytest

from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook, reconcile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The child writes, and dies right after Xero's first answer, before recording it.
CHILD = textwrap.dedent(
    """
    import json, os, sys
    from xero_provider.state.write_ledger import WriteLedger

    def die(*args, **kwargs):
        os._exit(9)

    WriteLedger.record = die
    from xero_provider.hooks import XeroHook

    conn_id, resource, key, path = sys.argv[1:5]
    records = json.load(open(path))
    XeroHook(conn_id).create(resource, records, idempotency_key=key)
    """
)


def _killed_run(tmp_path, conn_id: str, resource: str, records: list[dict], key: str) -> int:
    import json

    path = tmp_path / f"records-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(records, default=str))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, conn_id, resource, key, str(path)],
        env={**os.environ, "PYTHONPATH": REPO},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return child.returncode


@pytest.fixture
def conn_id(sandbox, monkeypatch, tmp_path) -> str:
    sandbox.control("PUT", "/limits", json={"enabled": False})
    return xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")


def _invoices(hook: XeroHook, count: int, numbered: bool) -> list[dict]:
    contact = next(iter(hook.iter_records("Contacts")))["ContactID"]
    tag = uuid.uuid4().hex[:6]
    return [
        {
            "Type": "ACCREC",
            "Contact": {"ContactID": contact},
            "Date": date(2026, 11, 2).isoformat(),
            **({"InvoiceNumber": f"EO-{tag}-{i}"} if numbered else {"Reference": f"eo-{tag}"}),
            "LineItems": [
                {"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}
            ],
        }
        for i in range(count)
    ]


def _stored(sandbox, resource: str) -> list[dict]:
    return sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/{resource}").json()[resource]


def _puts(sandbox) -> int:
    return sum(c["method"] == "PUT" for c in sandbox.requests())


def test_killed_after_the_answer_then_past_the_window_writes_nothing_twice(
    sandbox, conn_id, tmp_path
) -> None:
    hook = XeroHook(conn_id)
    records = _invoices(hook, 60, numbered=True)
    numbers = {r["InvoiceNumber"] for r in records}
    assert _killed_run(tmp_path, conn_id, "SalesInvoices", records, "run-1") == 9
    written = [i for i in _stored(sandbox, "Invoices") if i.get("InvoiceNumber") in numbers]
    assert len(written) == 50  # the first chunk landed; its outcome was never recorded
    sandbox.control("PUT", "/clock", json={"advance_seconds": 15 * 60})  # Xero forgot the key
    sandbox.control("DELETE", "/requests")

    results = XeroHook(conn_id).create("SalesInvoices", records, idempotency_key="run-1")

    written = [i for i in _stored(sandbox, "Invoices") if i.get("InvoiceNumber") in numbers]
    assert len(written) == 60 and len({i["InvoiceNumber"] for i in written}) == 60
    assert [r.status for r in results[:50]] == ["RECONCILED"] * 50
    assert all(r.ok and r.record_id for r in results)
    assert {r.record_id for r in results[:50]} == {
        i["InvoiceID"]
        for i in written
        if i["InvoiceNumber"] in {x["InvoiceNumber"] for x in records[:50]}
    }
    assert _puts(sandbox) == 1  # only the chunk that never went out
    # A third run reads both chunks from the ledger.
    sandbox.control("DELETE", "/requests")
    XeroHook(conn_id).create("SalesInvoices", records, idempotency_key="run-1")
    assert _puts(sandbox) == 0


def test_contacts_are_reconciled_by_name(sandbox, conn_id, tmp_path) -> None:
    names = [f"Crash {uuid.uuid4().hex[:8]} {i}" for i in range(55)]
    records = [{"Name": n} for n in names]
    assert _killed_run(tmp_path, conn_id, "Contacts", records, "contacts-1") == 9
    sandbox.control("PUT", "/clock", json={"advance_seconds": 15 * 60})
    results = XeroHook(conn_id).create("Contacts", records, idempotency_key="contacts-1")
    stored = [c for c in _stored(sandbox, "Contacts") if c["Name"] in set(names)]
    assert len(stored) == 55
    assert sum(r.status == "RECONCILED" for r in results) == 50


def test_without_a_natural_key_the_result_says_it_cannot_reconcile(
    sandbox, conn_id, tmp_path, monkeypatch
) -> None:
    hook = XeroHook(conn_id)
    records = _invoices(hook, 60, numbered=False)
    reference = records[0]["Reference"]
    assert _killed_run(tmp_path, conn_id, "SalesInvoices", records, "run-2") == 9
    sandbox.control("PUT", "/clock", json={"advance_seconds": 15 * 60})
    monkeypatch.setattr(reconcile, "REPLAY_SAFE_SECONDS", 0.0)  # as if minutes had passed here too
    sandbox.control("DELETE", "/requests")

    results = XeroHook(conn_id).create("SalesInvoices", records, idempotency_key="run-2")

    written = [i for i in _stored(sandbox, "Invoices") if i.get("Reference") == reference]
    assert len(written) == 60  # 50 from the killed run, 10 from the chunk it never sent
    assert [r.status for r in results[:50]] == ["UNRECONCILED"] * 50
    assert not any(r.ok for r in results[:50])
    assert "cannot reconcile" in results[0].errors[0]
    assert all(r.ok for r in results[50:])
    assert _puts(sandbox) == 1


def test_a_young_intent_is_resent_under_the_same_key_and_xero_replays(
    sandbox, conn_id, tmp_path
) -> None:
    hook = XeroHook(conn_id)
    records = _invoices(hook, 50, numbered=False)
    reference = records[0]["Reference"]
    assert _killed_run(tmp_path, conn_id, "SalesInvoices", records, "run-3") == 9
    results = XeroHook(conn_id).create("SalesInvoices", records, idempotency_key="run-3")
    written = [i for i in _stored(sandbox, "Invoices") if i.get("Reference") == reference]
    assert len(written) == 50
    assert {r.record_id for r in results} == {i["InvoiceID"] for i in written}


def test_names_with_quotes_and_accents_are_looked_up_exactly(sandbox, conn_id, tmp_path) -> None:
    names = [f'Café "Ōtautahi" {uuid.uuid4().hex[:6]} \\ {i}' for i in range(51)]
    records = [{"Name": n} for n in names]
    assert _killed_run(tmp_path, conn_id, "Contacts", records, "contacts-2") == 9
    sandbox.control("PUT", "/clock", json={"advance_seconds": 15 * 60})
    results = XeroHook(conn_id).create("Contacts", records, idempotency_key="contacts-2")
    stored = [c for c in _stored(sandbox, "Contacts") if c["Name"] in set(names)]
    assert len(stored) == 51
    assert [r.status for r in results[:50]] == ["RECONCILED"] * 50
