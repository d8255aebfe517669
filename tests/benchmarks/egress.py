"""``python -m tests.benchmarks.egress [--quick]``: what a warehouse sync costs in data
egress (Xero prices apps on it since March 2026), and how much less it can cost.

One sandbox, limits off (egress is bytes, not time), generated records across resources
plus the demo data; every way syncs the same organisation into its own SQLite warehouse,
and its bytes are what the sandbox counted for the app (``GET /__sandbox/egress``: the
body bytes of every Accounting API answer; the hook's own tally must agree).

Ways, each a full sync, then an incremental one after 2% of the contacts and invoices
changed (the warehouse's watermark as ``If-Modified-Since``):

* **extractor**: the same sync step, 100 records a page (how common extractors page);
* **ours**: the warehouse DAG's sync step (``xero_examples.sync.sync_resource``), pages
  of 1,000;
* **ours lean**: the same with ``lean=True`` (Xero's ``summaryOnly`` for contacts and
  invoices: no addresses, phones, line items or payments);
* **ours, ledger from documents**: the DAG with ``journals`` off and contacts read
  ``summaryOnly``: every document with its lines, no Journals (the trial balance is
  checked from the documents and payments, as on tiers without Journals);
* **quality check**: what its comparison reads, before (every resource again in full)
  and now (``quality.drift``: summaryOnly lists, Journals after the newest stored);
* **extractor without bookmarks** (incremental only): everything read again, as an
  extractor that keeps no ``If-Modified-Since`` watermark does every run.

Reported per way: MB, records, bytes per record, calls; and the ratio of the extractor's
bytes per record to ours lean (goal: at least 2). ``--tier core`` syncs as a Core app
(Journals skipped). Figures go to ``bench/egress[_TIER][_quick].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MIX = {
    "Contacts": 10_000,
    "Invoices": 18_000,
    "CreditNotes": 3_000,
    "Payments": 6_000,
    "BankTransactions": 6_000,
    "PurchaseOrders": 1_000,
}
CHANGED_SHARE = 0.02
GOAL = 2.0


def _app_bytes(bench: Any) -> tuple[int, int]:
    """(bytes, calls) the sandbox counted for the demo web app so far this month."""
    report = bench.sandbox.control("GET", "/egress").json()
    months = report.get(bench.sandbox.demo.web_client_id, {}).get("months", {})
    return (
        sum(m["bytes"] for m in months.values()),
        sum(m["calls"] for m in months.values()),
    )


def _sync_all(
    bench: Any,
    conn_id: str,
    url: str,
    *,
    page_size: int | None,
    lean: Any,
    incremental: bool,
    journals: bool = True,
) -> dict[str, Any]:
    """Every resource through the sync step, as the DAG's tasks run it (one at a time)."""
    from xero_examples.sync import since_for, sync_resource
    from xero_examples.warehouse import Warehouse, sync_resources
    from xero_provider.hooks import XeroHook

    warehouse = Warehouse(url)
    warehouse.create_tables()
    hook = XeroHook(conn_id)
    before, calls_before = _app_bytes(bench)
    seen, skipped, by_resource = 0, [], {}
    try:
        for resource in sync_resources():
            if resource.paging == "offset" and not journals:
                skipped.append(resource.name)  # the DAG's journals param off
                continue
            since = since_for(warehouse, resource, bench.tenant_id, None) if incremental else None
            size = page_size if resource.paging == "full" else None
            result = sync_resource(
                hook, warehouse, resource, bench.tenant_id, "bench", since, size, lean=lean
            )
            seen += result["seen"]
            if result["seen"]:
                by_resource[resource.name] = result["seen"]
            if result.get("skipped"):
                skipped.append(resource.name)
        tallied = hook.egress.total.bytes
        mb_by_resource = {
            name: round(c.bytes / 1e6, 3)
            for name, c in sorted(hook.egress.by_resource.items(), key=lambda kv: -kv[1].bytes)
        }
    finally:
        hook.close()
        warehouse.dispose()
    after, calls_after = _app_bytes(bench)
    size = after - before
    assert size == tallied, f"the hook counted {tallied} bytes, the sandbox sent {size}"
    return {
        "mb": round(size / 1e6, 3),
        "records": seen,
        "bytes_per_record": round(size / seen, 1) if seen else None,
        "calls": calls_after - calls_before,
        "skipped": skipped,
        "records_by_resource": by_resource,
        "mb_by_resource": mb_by_resource,
    }


def _quality_check_read(
    bench: Any, conn_id: str, url: str, tier: str, before_from: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the DAG's quality check reads when it compares: before, every resource again
    in full (measured as such, or ``before_from``: the full sync's own figures, the same
    reads); now ``quality.drift`` on the synced warehouse."""
    from xero_examples.quality import drift
    from xero_examples.sync import read_options
    from xero_examples.warehouse import Warehouse, sync_resources
    from xero_provider.exceptions import XeroTierError
    from xero_provider.hooks import XeroHook

    skip = set() if tier in ("advanced", "enterprise") else {"Journals"}
    hook = XeroHook(conn_id)
    before, calls_before = _app_bytes(bench)
    try:
        for resource in sync_resources() if before_from is None else ():
            try:
                sum(1 for _ in hook.iter_records(resource, **read_options(resource)))
            except XeroTierError:
                continue
        middle, calls_middle = _app_bytes(bench)
        warehouse = Warehouse(url)
        try:
            problems, _ = drift(hook, warehouse, bench.tenant_id, skip=skip)
        finally:
            warehouse.dispose()
    finally:
        hook.close()
    after, calls_after = _app_bytes(bench)
    now = {
        "mb": round((after - middle) / 1e6, 3),
        "calls": calls_after - calls_middle,
        "problems": len(problems),
    }
    if before_from is not None:
        old = {"mb": before_from["mb"], "calls": before_from["calls"]}
        old["measured"] = "from the full sync (the same reads)"
    else:
        old = {"mb": round((middle - before) / 1e6, 3), "calls": calls_middle - calls_before}
    return {"before_every_resource_in_full": old, "now_drift": now}


def _change_some(bench: Any, conn_id: str) -> int:
    """Edit 2% of the contacts and invoices (a day's changes) through the hook."""
    from xero_provider.hooks import XeroHook

    hook = XeroHook(conn_id)
    changed = 0
    try:
        contacts = list(hook.iter_records("Contacts", summary_only=True))
        step = max(1, int(1 / CHANGED_SHARE))
        edits = [
            {"ContactID": c["ContactID"], "Website": f"https://example.com/{n}"}
            for n, c in enumerate(contacts[::step])
            if c.get("ContactStatus") == "ACTIVE"
        ]
        results = hook.update("Contacts", edits)
        changed += sum(1 for r in results if r.ok)
    finally:
        hook.close()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.egress")
    parser.add_argument("--quick", action="store_true", help="a twentieth of the records")
    parser.add_argument("--tier", default="advanced", help="the app's tier (default advanced)")
    parser.add_argument("--scale", type=int, default=1, help="generate 1/SCALE of the records")
    parser.add_argument(
        "--no-rereads",
        action="store_true",
        help="take the no-bookmark extractor's and the old quality check's figures from the "
        "full syncs (the same reads) instead of reading everything twice more",
    )
    args = parser.parse_args(argv)
    scale = 20 if args.quick else args.scale

    with tempfile.TemporaryDirectory(prefix="xero-bench-egress-") as folder:
        scratch = Path(folder)
        from tests.benchmarks.run import _prepare_environment

        _prepare_environment(scratch)
        from tests.benchmarks.harness import LIMITS_OFF, UNLIMITED_CONNECTION, Bench
        from xero_sandbox.testing import SandboxServer

        with SandboxServer(seed_demo=True, log_file=scratch / "sandbox.log") as sandbox:
            bench = Bench(sandbox, scratch)
            bench.reset(LIMITS_OFF)
            sandbox.control("PUT", f"/apps/{sandbox.demo.web_client_id}", json={"tier": args.tier})
            for resource, count in MIX.items():
                body = {"tenant_id": bench.tenant_id, "resource": resource}
                body.update(count=count // scale, spread_seconds=86_400)
                sandbox.control("POST", "/generate", json=body, timeout=600)
            conn_id, env = bench.connection(**UNLIMITED_CONNECTION, app_tier=args.tier)
            os.environ.update(env)
            ways = {
                "extractor": {"page_size": 100, "lean": False},
                "ours": {"page_size": None, "lean": False},
                "ours_lean": {"page_size": None, "lean": True},
                # The same ledger without reading it twice: documents with their lines,
                # no Journals (the trial balance from documents), contacts summaryOnly.
                "ours_ledger_from_documents": {
                    "page_size": None,
                    "lean": {"Contacts"},
                    "journals": False,
                },
            }
            full = {
                name: _sync_all(
                    bench, conn_id, f"sqlite:///{scratch / name}.db", incremental=False, **way
                )
                for name, way in ways.items()
            }
            quality = _quality_check_read(
                bench,
                conn_id,
                f"sqlite:///{scratch / 'ours'}.db",
                args.tier,
                full["ours"] if args.no_rereads else None,
            )
            changed = _change_some(bench, conn_id)
            incremental = {
                name: _sync_all(
                    bench, conn_id, f"sqlite:///{scratch / name}.db", incremental=True, **way
                )
                for name, way in ways.items()
            }
            # An extractor without bookmarks reads everything again every night.
            if args.no_rereads:
                incremental["extractor_no_bookmark"] = {
                    **full["extractor"],
                    "measured": "the extractor's full sync (the same reads)",
                }
            else:
                incremental["extractor_no_bookmark"] = _sync_all(
                    bench,
                    conn_id,
                    f"sqlite:///{scratch / 'extractor'}.db",
                    incremental=False,
                    page_size=100,
                    lean=False,
                )
    ratio_full = full["extractor"]["bytes_per_record"] / full["ours_lean"]["bytes_per_record"]
    same_use = full["extractor"]["mb"] / full["ours_ledger_from_documents"]["mb"]
    report = {
        "tier": args.tier,
        "generated_records": sum(MIX.values()) // scale,
        "scale": scale,
        "full_sync": full,
        "quality_check_full_read": quality,
        "changed_records": changed,
        "incremental_sync": incremental,
        "extractor_over_ours_lean_bytes_per_record": round(ratio_full, 2),
        "extractor_over_ours_bytes_per_record": round(
            full["extractor"]["bytes_per_record"] / full["ours"]["bytes_per_record"], 2
        ),
        "extractor_over_ours_ledger_from_documents_mb_per_full_sync": round(same_use, 2),
        "extractor_over_ours_ledger_from_documents_bytes_per_record": round(
            full["extractor"]["bytes_per_record"]
            / full["ours_ledger_from_documents"]["bytes_per_record"],
            2,
        ),
        "goal": GOAL,
    }
    print(json.dumps(report, indent=2))
    name = "egress" + ("" if args.tier == "advanced" else f"_{args.tier}")
    if args.quick:
        name += "_quick"
    elif scale != 1:
        name += f"_scale{scale}"
    out = REPO / "bench" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    met = ratio_full >= GOAL
    print(
        f"{'met' if met else 'MISSED'}: extractor / ours lean bytes per record = {ratio_full:.2f}"
    )
    print(
        f"{'met' if same_use >= GOAL else 'MISSED'}: extractor / ours (ledger from documents) "
        f"MB per full sync, every document and the trial balance either way = {same_use:.2f}"
    )
    return 0 if met or same_use >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
