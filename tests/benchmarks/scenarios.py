"""The in-process benchmarks: reading changed contacts, creating invoices, hook overhead.

Each runs our hook and the SDK's way on the same sandbox data in the same run, counts
calls from the sandbox's request log and returns a :class:`BenchResult`.
"""

from __future__ import annotations

import math
import statistics
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.benchmarks.harness import (
    LIMITS_OFF,
    SDK_DEFAULT_PAGE_SIZE,
    UNLIMITED_CONNECTION,
    XERO_BATCH_ADVICE,
    Bench,
    CallCount,
    clear_log,
    count_calls,
    sdk_accounting_api,
)
from tests.benchmarks.report import BenchResult, Row, Target

READ_PAGE_SIZE = 1000  # the largest page Xero serves
SPREAD_SECONDS = 3600.0
OVERHEAD_BLOCK = 50  # calls per block when the ways alternate


def _calls_row(metric: str, ours: CallCount, sdk: CallCount, target: Target | None) -> Row:
    return Row(
        metric,
        ours.total,
        sdk.total,
        target,
        shown_ours=ours.label(),
        shown_sdk=sdk.label(),
    )


# --- 1. read changed contacts ------------------------------------------------------------


def read_changed_contacts(bench: Bench, count: int) -> BenchResult:
    """Generate ``count`` contacts, then read those modified since a cutoff (all of them)."""
    from xero_provider.hooks import XeroHook

    sandbox = bench.sandbox
    bench.reset(LIMITS_OFF)
    # Move the clock on so the generated contacts postdate the demo data by an hour:
    # the cutoff then selects exactly the generated ones.
    sandbox.control("PUT", "/clock", json={"advance_seconds": SPREAD_SECONDS * 2})
    now = datetime.fromisoformat(sandbox.control("GET", "/clock").json()["now"])
    body = {"tenant_id": bench.tenant_id, "resource": "Contacts", "count": count}
    sandbox.control("POST", "/generate", json={**body, "spread_seconds": SPREAD_SECONDS})
    cutoff = (now - timedelta(seconds=SPREAD_SECONDS + 60)).replace(microsecond=0)

    conn_id, _ = bench.connection(**UNLIMITED_CONNECTION)
    hook = XeroHook(conn_id)
    clear_log(sandbox)
    started = time.perf_counter()
    ours_ids = [c["ContactID"] for c in hook.iter_records("Contacts", modified_since=cutoff)]
    ours_seconds = time.perf_counter() - started
    ours_calls = count_calls(sandbox)
    hook.close()

    api = sdk_accounting_api(bench.sdk_grant())
    clear_log(sandbox)
    started = time.perf_counter()
    sdk_ids: list[str] = []
    page = 1
    while True:
        contacts = (
            api.get_contacts(
                bench.tenant_id, if_modified_since=cutoff.replace(tzinfo=None), page=page
            ).contacts
            or []
        )
        sdk_ids += [str(c.contact_id) for c in contacts]
        if len(contacts) < SDK_DEFAULT_PAGE_SIZE:
            break
        page += 1
    sdk_seconds = time.perf_counter() - started
    sdk_calls = count_calls(sandbox)

    target_calls = math.ceil(count / READ_PAGE_SIZE) + 1
    complete = len(set(ours_ids)) == len(ours_ids) == count
    return BenchResult(
        key="read_changed_contacts",
        title=f"Read {count:,} changed contacts (limits off)",
        ours_way='XeroHook.iter_records("Contacts", modified_since=cutoff)',
        sdk_way="AccountingApi.get_contacts(tenant, if_modified_since=cutoff, page=n), "
        f"default page size ({SDK_DEFAULT_PAGE_SIZE}), until a short page",
        rows=[
            _calls_row(
                "calls: total (API+token)", ours_calls, sdk_calls, Target("<=", target_calls)
            ),
            Row("seconds", ours_seconds, sdk_seconds),
            Row(
                "contacts read (distinct)",
                len(set(ours_ids)),
                len(set(sdk_ids)),
                Target("==", count),
                passed=complete,
            ),
        ],
        settings={"count": count, "spread_seconds": SPREAD_SECONDS, "limits": LIMITS_OFF},
        figures={
            "ours": {
                "calls": ours_calls.as_dict(),
                "seconds": ours_seconds,
                "records": len(ours_ids),
            },
            "sdk": {"calls": sdk_calls.as_dict(), "seconds": sdk_seconds, "records": len(sdk_ids)},
            "cutoff": cutoff.isoformat(),
        },
        notes=["calls are counted from the sandbox's request log; token calls in brackets"],
    )


# --- 2. create invoices -----------------------------------------------------------------


def _demo_contact(bench: Bench) -> str:
    rows = bench.sandbox.control("GET", f"/state/{bench.tenant_id}/Contacts").json()["Contacts"]
    active = sorted((c for c in rows if c["ContactStatus"] == "ACTIVE"), key=lambda c: c["Name"])
    return active[0]["ContactID"]


def _invoices_with_reference(bench: Bench, reference: str) -> int:
    rows = bench.sandbox.control("GET", f"/state/{bench.tenant_id}/Invoices").json()["Invoices"]
    return sum(row.get("Reference") == reference for row in rows)


def _invoice_count(bench: Bench) -> int:
    return bench.sandbox.control("GET", f"/state/{bench.tenant_id}/Invoices").json()["count"]


def _invoice(contact_id: str, reference: str, n: int) -> dict[str, Any]:
    return {
        "Type": "ACCREC",
        "Status": "AUTHORISED",
        "Contact": {"ContactID": contact_id},
        "Reference": reference,
        "LineItems": [
            {
                "Description": f"Benchmark item {n}",
                "Quantity": 1,
                "UnitAmount": 10 + n % 90,
                "AccountCode": "200",
            }
        ],
    }


def _sdk_invoice(record: dict[str, Any]) -> Any:
    from xero_python.accounting import Contact, Invoice, LineItem

    line = record["LineItems"][0]
    return Invoice(
        type=record["Type"],
        status=record["Status"],
        contact=Contact(contact_id=record["Contact"]["ContactID"]),
        reference=record["Reference"],
        line_items=[
            LineItem(
                description=line["Description"],
                quantity=line["Quantity"],
                unit_amount=line["UnitAmount"],
                account_code=line["AccountCode"],
            )
        ],
    )


class _Run:
    """One creation run: calls, seconds, invoices verified in the sandbox afterwards."""

    def __init__(self, bench: Bench, count: int) -> None:
        self.bench = bench
        self.count = count
        self.reference = f"bench-{uuid.uuid4().hex[:10]}"
        self.contact_id = _demo_contact(bench)
        self.records = [_invoice(self.contact_id, self.reference, n) for n in range(count)]
        self.calls = CallCount()
        self.seconds = 0.0
        self.error: str | None = None
        self.new_invoices = 0
        self.with_reference = 0

    def measure(self, work: Any) -> _Run:
        before = _invoice_count(self.bench)
        clear_log(self.bench.sandbox)
        started = time.perf_counter()
        try:
            work(self)
        except Exception as error:  # a baseline failing is a result, not a crash
            self.error = f"{type(error).__name__}: {str(error)[:200]}"
        self.seconds = time.perf_counter() - started
        self.calls = count_calls(self.bench.sandbox)
        self.new_invoices = _invoice_count(self.bench) - before
        self.with_reference = _invoices_with_reference(self.bench, self.reference)
        return self

    @property
    def verified(self) -> bool:
        return self.error is None and self.new_invoices == self.with_reference == self.count

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls.as_dict(),
            "seconds": self.seconds,
            "new_invoices": self.new_invoices,
            "with_reference": self.with_reference,
            "error": self.error,
        }


def create_invoices(bench: Bench, count: int) -> BenchResult:
    """Create ``count`` invoices ours (chunked) and the SDK's two ways; verify each run."""
    from xero_provider.hooks import XeroHook

    bench.reset(LIMITS_OFF)
    conn_id, _ = bench.connection(**UNLIMITED_CONNECTION)
    hook = XeroHook(conn_id)

    def ours(run: _Run) -> None:
        results = hook.create("Invoices", run.records)
        failed = [r for r in results if not r.ok]
        if failed:
            raise RuntimeError(f"{len(failed)} invoices failed, first: {failed[0].errors}")

    def sdk_one_each(run: _Run) -> None:
        from xero_python.accounting import Invoices

        api = sdk_accounting_api(bench.sdk_grant())
        for record in run.records:
            api.create_invoices(bench.tenant_id, Invoices(invoices=[_sdk_invoice(record)]))

    def sdk_one_request(run: _Run) -> None:
        from xero_python.accounting import Invoices

        api = sdk_accounting_api(bench.sdk_grant())
        invoices = [_sdk_invoice(record) for record in run.records]
        api.create_invoices(bench.tenant_id, Invoices(invoices=invoices))

    mine = _Run(bench, count).measure(ours)
    hook.close()
    each = _Run(bench, count).measure(sdk_one_each)
    single = _Run(bench, count).measure(sdk_one_request)

    target_calls = math.ceil(count / XERO_BATCH_ADVICE) + 1
    calls_target = Target("<=", target_calls)
    verified = Target("==", count)
    notes = [
        "(a) one create_invoices call per invoice, the pattern of Xero's sample apps",
        f"(b) the SDK's literal default: all {count:,} in one request, summarizeErrors=true "
        "(one bad invoice fails the whole request; Xero recommends ~50 per request)",
        "invoices verified: new invoices in the sandbox afterwards carrying the run's Reference",
    ]
    for name, run in (("ours", mine), ("SDK (a)", each), ("SDK (b)", single)):
        if run.error:
            notes.append(f"{name} failed: {run.error}")
    return BenchResult(
        key="create_invoices",
        title=f"Create {count:,} invoices (ACCREC, AUTHORISED, one line; limits off)",
        ours_way='XeroHook.create("Invoices", records): chunks of 50, summarizeErrors=false',
        sdk_way="AccountingApi.create_invoices: (a) once per invoice, (b) once with all",
        rows=[
            _calls_row("calls vs (a) one per invoice", mine.calls, each.calls, calls_target),
            Row("seconds vs (a)", mine.seconds, each.seconds),
            _calls_row("calls vs (b) one request", mine.calls, single.calls, calls_target),
            Row("seconds vs (b)", mine.seconds, single.seconds),
            Row(
                "invoices verified (ours | (a))",
                mine.with_reference,
                each.with_reference,
                verified,
                passed=mine.verified and each.verified,
            ),
            Row(
                "invoices verified (ours | (b))",
                mine.with_reference,
                single.with_reference,
                verified,
                passed=mine.verified and single.verified,
            ),
        ],
        settings={"count": count, "limits": LIMITS_OFF, "contact_id": mine.contact_id},
        figures={"ours": mine.as_dict(), "sdk_a": each.as_dict(), "sdk_b": single.as_dict()},
        notes=notes,
    )


# --- 4. hook overhead -------------------------------------------------------------------


def hook_overhead(bench: Bench, calls: int, rounds: int = 3) -> BenchResult:
    """Sequential GET Organisation through ``XeroHook.call`` against a bare httpx client."""
    from xero_provider.hooks import XeroHook

    bench.reset(LIMITS_OFF)
    conn_id, _ = bench.connection(**UNLIMITED_CONNECTION)
    hook = XeroHook(conn_id)
    hook.call("GET", "Organisation")  # the one token refresh happens here, untimed
    token = hook._ready().tokens.access_token().access_token
    bare = httpx.Client(
        base_url=hook.config.accounting_url,
        headers={
            "Authorization": f"Bearer {token}",
            "xero-tenant-id": bench.tenant_id,
            "Accept": "application/json",
        },
        timeout=hook.config.timeout,
    )

    sdk = sdk_accounting_api(bench.sdk_grant())

    def via_hook() -> None:
        hook.call("GET", "Organisation")

    def via_httpx() -> None:
        response = bare.get("Organisation")
        response.raise_for_status()
        response.json()

    def via_sdk() -> None:
        sdk.get_organisations(bench.tenant_id)

    def timed(call: Any, n: int) -> tuple[float, float]:
        """Wall-clock and this process's CPU microseconds per call over ``n`` calls."""
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            call()
        return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6

    ways = {"ours": via_hook, "httpx": via_httpx, "sdk": via_sdk}
    blocks = max(1, calls // OVERHEAD_BLOCK)
    wall: dict[str, list[float]] = {name: [] for name in ways}
    cpu: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for call in ways.values():  # warm up all: connections, imports, caches, the SDK's token
            timed(call, max(20, calls // 10))
        for _ in range(rounds):
            sums = {name: [0.0, 0.0] for name in ways}
            for _ in range(blocks):  # interleaved block by block, so noise hits all alike
                for name, call in ways.items():
                    block_wall, block_cpu = timed(call, OVERHEAD_BLOCK)
                    sums[name][0] += block_wall / blocks
                    sums[name][1] += block_cpu / blocks
            for name, (round_wall, round_cpu) in sums.items():
                wall[name].append(round_wall)
                cpu[name].append(round_cpu)
    finally:
        hook.close()
        bare.close()
    best = {name: min(values) for name, values in wall.items()}
    cpu_mid = {name: statistics.median(values) for name, values in cpu.items()}
    n = blocks * OVERHEAD_BLOCK
    return BenchResult(
        key="hook_overhead",
        title=f"Hook overhead: {n} sequential GET Organisation per round, {rounds} rounds "
        "(limits off, latency 0)",
        ours_way='XeroHook.call("GET", "Organisation")',
        sdk_way="bare httpx.Client (same token and tenant header, raise_for_status, .json()); "
        "and AccountingApi.get_organisations",
        rows=[
            Row(
                "µs/call vs bare httpx (best round)",
                best["ours"],
                best["httpx"],
                Target("<=", 1.2, "x"),
            ),
            Row("overhead µs/call over bare httpx", best["ours"] - best["httpx"], None),
            Row("client CPU µs/call vs bare httpx", cpu_mid["ours"], cpu_mid["httpx"]),
            Row("µs/call vs SDK (best round)", best["ours"], best["sdk"]),
            Row("client CPU µs/call vs SDK", cpu_mid["ours"], cpu_mid["sdk"]),
        ],
        settings={
            "calls_per_round": n,
            "rounds": rounds,
            "block": OVERHEAD_BLOCK,
            "limits": LIMITS_OFF,
        },
        figures={
            "wall_us_per_call_by_round": wall,
            "client_cpu_us_per_call_by_round": cpu,
        },
        notes=[
            "the first rows' baseline is a bare httpx call; the target is on the ratio",
            f"the ways alternate in blocks of {OVERHEAD_BLOCK} calls; client CPU is the median "
            "round's (the sandbox shares the machine, so wall time includes its work)",
        ],
    )
