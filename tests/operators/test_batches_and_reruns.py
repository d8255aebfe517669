"""Batches of 500 with invalid records, reruns of the same run, and a response lost after
Xero committed the write: counted in the sandbox, through ``dag.test()``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.operators.conftest import count, records

pytestmark = pytest.mark.slow


def _batch(tag: str, *, bad_locally: bool = True, taken_at: int | None = 499) -> list[dict]:
    rows = [
        {"Name": f"Batch {tag} {i:03d}", "EmailAddress": f"b{tag}{i}@example.com"}
        for i in range(500)
    ]
    if bad_locally:
        rows[7] = {"EmailAddress": "nobody@example.com"}  # no Name
        rows[250]["EmailAddress"] = "not-an-email"
    if taken_at is not None:
        rows[taken_at]["Name"] = "Bayside Club"  # only Xero knows the name is taken
    return rows


def test_500_records_with_3_invalid_under_both_modes(run_dag, xero_ops) -> None:
    before = count(xero_ops, "Contacts")
    conf = {
        "fail": _batch("F"),
        "continue": _batch("C"),
        "xero_fail": _batch("X", bad_locally=False, taken_at=120),
    }
    run = run_dag("xero_ops_batch", conf)
    names = [c["Name"] for c in records(xero_ops, "Contacts")]

    # fail: the two records the checks catch fail the task before anything is sent
    assert run.state("contacts_fail") == "failed"
    rejected = run.xcom("contacts_fail", "rejected")
    assert [(e["index"], e["field"]) for e in rejected] == [(7, "Name"), (250, "EmailAddress")]
    assert not any(n.startswith("Batch F ") for n in names)

    # continue: 497 written, the 3 reported with index, field and message
    assert run.state("contacts_continue") == "success"
    ids = run.xcom("contacts_continue")
    assert len(ids) == 497 and len(set(ids)) == 497
    assert sum(n.startswith("Batch C ") for n in names) == 497
    rejected = run.xcom("contacts_continue", "rejected")
    assert [(e["index"], e["field"], e["source"]) for e in rejected] == [
        (7, "Name", "validation"),
        (250, "EmailAddress", "validation"),
        (499, "Name", "xero"),
    ]
    assert "unique" in rejected[2]["message"]
    assert len(run.xcom("contacts_continue", "records")) == 497

    # fail with a record only Xero refuses: the writes stop after its chunk (50 a chunk)
    assert run.state("contacts_xero_fail") == "failed"
    assert [e["index"] for e in run.xcom("contacts_xero_fail", "rejected")] == [120]
    assert sum(n.startswith("Batch X ") for n in names) == 149
    assert run.xcom("contacts_xero_fail", "records") is None  # push_records=False
    assert len(run.xcom("contacts_xero_fail", "xero_links")) == 149
    assert count(xero_ops, "Contacts") == before + 497 + 149


def _puts(sandbox) -> int:
    return len(sandbox.requests(path="/api.xro/2.0/Contacts", method="PUT"))


def _conf(sandbox, tag: str, size: int = 120) -> dict:
    invoice = next(
        i
        for i in records(sandbox, "Invoices")
        if i["Status"] == "AUTHORISED" and i["Contact"]["Name"] == "Ridgeway University"
    )
    return {
        "contacts": [{"Name": f"Rerun {tag} {i:03d}"} for i in range(size)],
        "upsert": [
            {"Name": f"Upsert {tag} {i}", "ContactNumber": f"UP-{tag}-{i}"} for i in range(3)
        ],
        "invoice_id": invoice["InvoiceID"],
    }


def test_a_rerun_of_the_same_run_creates_nothing_new(run_dag, xero_ops) -> None:
    tag = uuid.uuid4().hex[:6]
    conf = _conf(xero_ops, tag)
    when = datetime.now(UTC)
    before = count(xero_ops, "Contacts")

    first = run_dag("xero_ops_rerun", conf, logical_date=when)
    assert all(first.state(t) == "success" for t in first.tis)
    assert count(xero_ops, "Contacts") == before + 120 + 3
    puts, emails = _puts(xero_ops), len(xero_ops.requests(path="/Email"))
    puts_posts = len(xero_ops.requests(path="/api.xro/2.0/Contacts", method="POST"))

    again = run_dag("xero_ops_rerun", conf, logical_date=when)  # the same run, cleared
    assert again.dag_run.run_id == first.dag_run.run_id
    assert all(again.state(t) == "success" for t in again.tis)
    assert count(xero_ops, "Contacts") == before + 120 + 3
    assert _puts(xero_ops) == puts  # the ledger answered: no create was even sent
    assert len(xero_ops.requests(path="/Email")) == emails  # nor a second email
    assert again.xcom("create_contacts") == first.xcom("create_contacts")
    assert [r["Name"] for r in again.xcom("create_contacts", "records")] == [
        f"Rerun {tag} {i:03d}" for i in range(120)
    ]
    # the upsert's rerun returns what its first run created, and writes nothing
    created = {"created": [0, 1, 2], "updated": [], "unchanged": []}
    assert first.xcom("upsert_contacts", "upsert") == created
    assert again.xcom("upsert_contacts", "upsert") == created
    assert again.xcom("upsert_contacts") == first.xcom("upsert_contacts")
    assert not xero_ops.requests(path="/api.xro/2.0/Contacts", method="POST")[puts_posts:]


def test_lost_response_after_commit_then_retry_and_rerun(run_dag, xero_ops) -> None:
    tag = uuid.uuid4().hex[:6]
    conf = _conf(xero_ops, tag, size=60)  # two chunks
    before = count(xero_ops, "Contacts")
    # Xero commits the first chunk, then the connection drops: twice, which uses up the
    # hook's two attempts (max_retries=2), so the first try of the task fails.
    xero_ops.control(
        "POST",
        "/faults",
        json={
            "drop": True,
            "after_commit": True,
            "methods": ["PUT"],
            "path": "/Contacts$",
            "count": 2,
        },
    )
    # the same for a per-record call: the invoice email is sent, and its answer lost twice
    xero_ops.control(
        "POST",
        "/faults",
        json={
            "drop": True,
            "after_commit": True,
            "methods": ["POST"],
            "path": "/Email$",
            "count": 2,
        },
    )
    when = datetime.now(UTC)
    run = run_dag("xero_ops_rerun", conf, logical_date=when)

    assert run.state("email_invoice") == "success" and run.tis["email_invoice"].try_number == 2
    from xero_provider.hooks import XeroHook

    history = XeroHook("xero_ops").call("GET", f"Invoices/{conf['invoice_id']}/History")
    assert sum(h["Changes"] == "Email sent" for h in history["HistoryRecords"]) == 1
    ti = run.tis["create_contacts"]
    assert run.state("create_contacts") == "success" and ti.try_number == 2
    assert count(xero_ops, "Contacts") == before + 60 + 3
    created = [c for c in records(xero_ops, "Contacts") if c["Name"].startswith(f"Rerun {tag} ")]
    assert len(created) == 60 and len({c["Name"] for c in created}) == 60
    replays = [
        r
        for r in xero_ops.requests(path="/api.xro/2.0/Contacts", method="PUT")
        if r.get("idempotent_replay")
    ]
    assert replays, "the retry should have been answered from Xero's idempotency cache"

    puts = _puts(xero_ops)
    again = run_dag("xero_ops_rerun", conf, logical_date=when)
    assert again.state("create_contacts") == "success"
    assert count(xero_ops, "Contacts") == before + 60 + 3
    assert _puts(xero_ops) == puts
    assert sorted(again.xcom("create_contacts")) == sorted(c["ContactID"] for c in created)


def test_upsert_matching_rules(run_dag, xero_ops) -> None:
    from xero_provider.hooks import XeroHook

    hook = XeroHook("xero_ops")
    shared = hook.create(
        "Contacts",
        [
            {"Name": "Twin One", "EmailAddress": "twins@example.com"},
            {"Name": "Twin Two", "EmailAddress": "TWINS@example.com"},
            {"Name": "Pair Active", "EmailAddress": "pair@example.com"},
            {
                "Name": "Pair Archived",
                "EmailAddress": "pair@example.com",
                "ContactStatus": "ARCHIVED",
            },
        ],
    )
    assert all(r.ok for r in shared)
    by_name = {c["Name"]: c for c in records(xero_ops, "Contacts")}
    before = len(by_name)
    conf = {
        "records": [
            {"Name": "ARCHIVED old customer", "Website": "https://old.example.com"},
            {"Name": "Someone New", "EmailAddress": "twins@example.com"},
            {"Name": "Bayside Club", "ContactNumber": "CUST-002", "Website": "https://bay.example"},
            {"Name": "Pair Renamed", "EmailAddress": "Pair@Example.com"},
            {"Name": "Brand New Upsert"},
            {"Name": 'Quote "Q" Ltd'},
        ]
    }
    run = run_dag("xero_ops_upsert", conf)

    assert run.state("upsert") == "success"
    assert run.xcom("upsert", "upsert") == {"created": [4], "updated": [0, 2, 3], "unchanged": []}
    ids = run.xcom("upsert")
    assert ids[0] == by_name["Archived Old Customer"]["ContactID"]
    assert ids[1] == by_name["Bayside Club"]["ContactID"]
    assert ids[2] == by_name["Pair Active"]["ContactID"]  # the ACTIVE one of the two
    rejected = run.xcom("upsert", "rejected")
    assert [(e["index"], e["field"]) for e in rejected] == [(1, "EmailAddress"), (5, "Name")]
    assert "2 contacts have this EmailAddress" in rejected[0]["message"]
    after = {c["ContactID"]: c for c in records(xero_ops, "Contacts")}
    assert len(after) == before + 1
    archived = after[ids[0]]
    assert (
        archived["ContactStatus"] == "ARCHIVED" and archived["Website"] == "https://old.example.com"
    )
