"""A sync read in slices (issue 23), against the sandbox over HTTP: each slice stores a
bounded number of pages and the next continues the same read, so a sliced read stores
what a whole read stores, a whole read's deletion check sees the IDs of every slice, a
worker killed at any write resumes with no gap and no record counted twice, and a second
holding more than a slice of records cannot keep the read in place."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from xero_examples.dag_support import next_slice
from xero_examples.slices import Reads
from xero_examples.sync import read_options, since_for, sync_resource
from xero_examples.warehouse import Warehouse, compare, xero_figures
from xero_provider.hooks import XeroHook
from xero_provider.resources import get_resource

CONTACTS = get_resource("Contacts")
PAGE = 3


@pytest.fixture
def fast(sandbox):
    """The sandbox at 600 calls a minute, with contacts changed over the last hour (so
    that they span several seconds and pages)."""
    sandbox.control("PUT", "/limits", json={"per_minute": 600})
    body = {"tenant_id": sandbox.demo.tenant_id, "resource": "Contacts", "count": 14}
    sandbox.control("POST", "/generate", json={**body, "spread_seconds": 3600})
    return sandbox


@pytest.fixture
def conn_id(fast, monkeypatch, tmp_path) -> str:
    from tests.provider.connections import xero_connection

    return xero_connection(
        fast, monkeypatch, tmp_path / "tokens.db", max_retries=1, rate_limit_per_minute=600
    )


@pytest.fixture
def hook(conn_id) -> Iterator[XeroHook]:
    hook = XeroHook(conn_id)
    yield hook
    hook.close()


def sliced(
    hook, store: Warehouse, tenant: str, run_id: str, pages: int = 1, full: bool = False
) -> list[dict]:
    """Every slice of one run's read, as the task's tries run them (each from the
    position as the task computes it; a read under way ignores it)."""
    results = []
    while not results or results[-1].get("more"):
        assert len(results) < 100, "the read never ends"
        since = since_for(store, CONTACTS, tenant, None, full_refresh=full)
        results.append(
            sync_resource(
                hook, store, CONTACTS, tenant, run_id, since, page_size=PAGE, max_pages=pages
            )
        )
    return results


def xero_contacts(hook: XeroHook) -> list[dict]:
    return list(hook.iter_records(CONTACTS, **read_options(CONTACTS)))


def differences(hook: XeroHook, store: Warehouse, tenant: str) -> list[str]:
    theirs = xero_figures(CONTACTS, xero_contacts(hook))
    return compare(CONTACTS, theirs, store.figures(CONTACTS, tenant))


def open_reads(store: Warehouse) -> int:
    reads: Reads = store.reads
    with store.engine.connect() as conn:
        return sum(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in (reads.reads, reads.listed)
        )


def test_a_read_in_slices_stores_what_a_whole_read_stores(fast, hook, store) -> None:
    tenant = fast.demo.tenant_id
    count = len(xero_contacts(hook))
    results = sliced(hook, store, tenant, "full", pages=2)
    pages = -(-count // PAGE)
    assert len(results) >= pages // 2 > 1, results  # slices of about two pages each
    *slices, last = results
    assert all(r["more"] for r in slices)
    assert last["seen"] == count and last["slices"] == len(results), last
    assert last["marked_deleted"] == 0
    assert differences(hook, store, tenant) == []
    assert open_reads(store) == 0  # a finished read leaves nothing behind
    # the position is where an unsliced read leaves it: the next run re-reads only the
    # newest second (the demo's contacts share one), in one slice, and writes nothing
    since = since_for(store, CONTACTS, tenant, None)
    again = sync_resource(hook, store, CONTACTS, tenant, "next", since, page_size=PAGE,
                          max_pages=1)  # fmt: skip
    assert again["slices"] == 1 and again["written"] == 0 and again["seen"] < count, again


def test_a_whole_read_in_slices_marks_only_what_no_slice_listed(fast, hook, store) -> None:
    tenant = fast.demo.tenant_id
    sliced(hook, store, tenant, "first")
    gone = {
        "ContactID": "00000000-0000-4000-8000-0000000000aa",
        "Name": "Deleted in Xero",
        "ContactStatus": "ACTIVE",
        "UpdatedDateUTC": "/Date(1600000000000+0000)/",
    }
    store.upsert(CONTACTS, tenant, [gone], "older")
    *_, last = sliced(hook, store, tenant, "sweep", full=True)  # the ID sweep
    assert last["slices"] > 2 and last["marked_deleted"] == 1, last
    table = store.table(CONTACTS)
    with store.engine.connect() as conn:
        deleted = conn.execute(
            sa.select(table.c.xero_id).where(table.c.deleted_utc.is_not(None))
        ).scalars()
        assert list(deleted) == [gone["ContactID"]]
    assert differences(hook, store, tenant) == []


def test_an_incremental_read_in_slices_takes_every_change(fast, hook, store) -> None:
    tenant = fast.demo.tenant_id
    sliced(hook, store, tenant, "full", pages=100)
    contacts = xero_contacts(hook)[: 4 * PAGE]
    for number, contact in enumerate(reversed(contacts)):  # change order != creation order
        fast.control("PUT", "/clock", json={"advance_seconds": 1})  # a second each
        [done] = hook.update(
            CONTACTS, [{"ContactID": contact["ContactID"], "Name": f"Changed {number}"}]
        )
        assert done.ok, done.errors
    results = sliced(hook, store, tenant, "incremental")
    assert len(results) > 2 and results[-1]["since"] is not None, results
    assert results[-1]["written"] == len(contacts)
    assert differences(hook, store, tenant) == []


def test_a_second_with_more_than_a_slice_cannot_hold_the_read(fast, hook, store) -> None:
    tenant = fast.demo.tenant_id
    sliced(hook, store, tenant, "full", pages=100)
    body = {"tenant_id": tenant, "resource": "Contacts", "count": 4 * PAGE}
    fast.control("POST", "/generate", json={**body, "spread_seconds": 0})  # one second
    results = sliced(hook, store, tenant, "incremental")
    assert results[-1]["written"] == 4 * PAGE, results
    assert differences(hook, store, tenant) == []


def test_a_new_run_starts_its_own_read(fast, hook, store) -> None:
    tenant = fast.demo.tenant_id
    first = sync_resource(hook, store, CONTACTS, tenant, "a", None, page_size=PAGE, max_pages=1)
    assert first["more"]
    results = sliced(hook, store, tenant, "b", full=True)  # run a failed; b: a whole read
    assert results[-1]["since"] is None and results[-1]["slices"] == len(results) > 1
    assert results[-1]["seen"] == len(xero_contacts(hook))
    assert open_reads(store) == 0


def test_journals_continue_above_the_number_the_read_stored(fast, hook, store) -> None:
    """Journals page by number (Xero's offset), 100 a call: a slice of three-record pages
    stops inside a call's page, and the next continues above the newest number stored
    by this read, not by the warehouse (a whole read starts below what is stored)."""
    tenant, journals = fast.demo.tenant_id, get_resource("Journals")
    theirs = list(hook.iter_records(journals))
    assert len(theirs) > 4 * PAGE, "the demo organisation has journals to slice"
    newest = max(theirs, key=lambda j: j["JournalNumber"])
    store.upsert(journals, tenant, [newest], "older")  # stored before: not where to resume
    results = []
    while not results or results[-1].get("more"):
        assert len(results) < 100, "the read never ends"
        results.append(sync_resource(hook, store, journals, tenant, "sweep", None,
                                     page_size=PAGE, max_pages=2))  # fmt: skip
    last = results[-1]
    assert len(results) > 2 and last["seen"] == len(theirs), last
    assert last["marked_deleted"] == 0
    mine = store.figures(journals, tenant)
    assert compare(journals, xero_figures(journals, theirs), mine) == []


def _die_after(conn_id: str, url: str, tenant: str, step: str, calls: int) -> None:
    """In a forked worker: read in slices of many pages, and die by SIGKILL right after
    the ``calls``-th write of kind ``step`` (IDs, rows or cursor) returns."""
    owner, name = {"ids": (Reads, "list_ids"), "rows": (Warehouse, "upsert"),
                   "cursor": (Reads, "advance")}[step]  # fmt: skip
    original, done = getattr(owner, name), []

    def dying(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        done.append(1)
        if len(done) == calls:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, dying)
    hook, store = XeroHook(conn_id), Warehouse(url)
    sync_resource(hook, store, CONTACTS, tenant, "killed", None, page_size=PAGE, max_pages=100)


@pytest.mark.parametrize("step", ["ids", "rows", "cursor"])
def test_a_worker_killed_mid_slice_resumes_with_no_gap_and_no_duplicate(
    fast, conn_id, hook, store, step
) -> None:
    tenant = fast.demo.tenant_id
    url = store.engine.url.render_as_string(hide_password=False)
    worker = multiprocessing.get_context("fork").Process(
        target=_die_after, args=(conn_id, url, tenant, step, 3)
    )
    worker.start()
    worker.join(60)
    assert worker.exitcode == -signal.SIGKILL
    stored = len(store.figures(CONTACTS, tenant)["ids"])
    assert 2 * PAGE <= stored <= 3 * PAGE  # it died part-way through the read
    # the task's next try continues the same run's read from the saved cursor
    results = []
    while not results or results[-1].get("more"):
        results.append(
            sync_resource(
                hook, store, CONTACTS, tenant, "killed", None, page_size=PAGE, max_pages=2
            )
        )
    count = len(xero_contacts(hook))
    assert results[-1]["seen"] == count and results[-1]["marked_deleted"] == 0, results
    assert len(store.figures(CONTACTS, tenant)["ids"]) == count
    assert differences(hook, store, tenant) == []


def test_a_slice_with_more_to_read_gives_its_slot_back() -> None:
    from airflow.sdk.exceptions import AirflowRescheduleException

    done = {"resource": "Contacts", "seen": 3}
    assert next_slice(done) is done
    before = datetime.now(UTC)
    with pytest.raises(AirflowRescheduleException) as raised:
        next_slice({"resource": "Contacts", "more": True}, timedelta(seconds=7))
    when = raised.value.reschedule_date
    assert before + timedelta(seconds=7) <= when <= datetime.now(UTC) + timedelta(seconds=7)
