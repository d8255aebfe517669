"""``python -m tests.benchmarks.quiet_sync [--quick]``: what a warehouse sync costs when
nothing changed in Xero (issue 20: "at most one call per resource, rewrites nothing").

One sandbox, limits off, generated records plus the demo data. A full sync of every
resource, then incremental runs as the DAG's tasks run them (each resource from its
committed position) with no change in between, then one after a single contact changed;
and what the quality check's comparison reads (``drift``). Figures from the sandbox's
request log (Accounting API calls) and egress counter, and from the warehouse's rows
(``run_id`` and ``loaded_at`` of every row: what an upsert rewrote). Written to
``bench/quiet_sync[_quick].json``.

To measure another version of the sync step, put its ``xero_examples`` first on
``PYTHONPATH``: the figures name the module file they used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
API = "/api.xro/2.0/"
MIX = {"Contacts": 2_000, "Invoices": 4_000, "Payments": 1_000, "BankTransactions": 1_000}


def _calls(sandbox: Any, since: int) -> Counter:
    entries = sandbox.control("GET", "/requests", params={"since": since}).json()
    return Counter(e["path"][len(API) :] for e in entries if e["path"].startswith(API))


def _mark(sandbox: Any) -> int:
    entries = sandbox.control("GET", "/requests").json()
    return entries[-1]["seq"] if entries else 0


def _bytes(sandbox: Any) -> int:
    report = sandbox.control("GET", "/egress").json()
    months = report.get(sandbox.demo.web_client_id, {}).get("months", {})
    return sum(m["bytes"] for m in months.values())


def _stamps(warehouse: Any) -> dict[str, tuple]:
    import sqlalchemy as sa

    out = {}
    with warehouse.engine.connect() as conn:
        for name, table in warehouse.tables.items():
            for row in conn.execute(sa.select(table.c.xero_id, table.c.run_id, table.c.loaded_at)):
                out[f"{name}/{row.xero_id}"] = (row.run_id, str(row.loaded_at))
    return out


def _run(sandbox: Any, hook: Any, warehouse: Any, tenant: str, run_id: str) -> dict[str, Any]:
    from xero_examples.sync import since_for, sync_resource
    from xero_examples.warehouse import sync_resources

    before, mark, size = _stamps(warehouse), _mark(sandbox), _bytes(sandbox)
    written = 0
    for resource in sync_resources():
        since = since_for(warehouse, resource, tenant, None)
        written += sync_resource(hook, warehouse, resource, tenant, run_id, since)["written"]
    after = _stamps(warehouse)
    calls = _calls(sandbox, mark)
    return {
        "calls": sum(calls.values()),
        "resources": len(sync_resources()),
        "most_calls_for_one_resource": max(calls.values()),
        "rows_rewritten": sum(1 for k in before if after.get(k) != before[k]),
        "written_reported": written,
        "mb": round((_bytes(sandbox) - size) / 1e6, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.quiet_sync")
    parser.add_argument("--quick", action="store_true", help="a tenth of the records")
    parser.add_argument("--output", help="where to write the figures (default bench/)")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    with tempfile.TemporaryDirectory(prefix="xero-bench-quiet-") as folder:
        scratch = Path(folder)
        from tests.benchmarks.run import _prepare_environment

        _prepare_environment(scratch)
        import xero_examples.sync as sync_module
        from tests.benchmarks.harness import LIMITS_OFF, UNLIMITED_CONNECTION, Bench
        from xero_examples import quality
        from xero_examples.warehouse import Warehouse
        from xero_provider.hooks import XeroHook
        from xero_sandbox.testing import SandboxServer

        with SandboxServer(seed_demo=True, log_file=scratch / "sandbox.log") as sandbox:
            bench = Bench(sandbox, scratch)
            bench.reset(LIMITS_OFF)
            for resource, count in MIX.items():
                body = {"tenant_id": bench.tenant_id, "resource": resource}
                body.update(count=count // scale, spread_seconds=86_400)
                sandbox.control("POST", "/generate", json=body, timeout=600)
            conn_id, env = bench.connection(**UNLIMITED_CONNECTION)
            os.environ.update(env)
            warehouse = Warehouse(f"sqlite:///{scratch / 'warehouse.db'}")
            warehouse.create_tables()
            hook = XeroHook(conn_id)
            tenant = bench.tenant_id
            # A day passes between runs in production; here SETTLED shrinks to 2 s and the
            # runs are 3 s apart (the version under test may not have SETTLED).
            if hasattr(sync_module, "SETTLED"):
                sync_module.SETTLED = timedelta(seconds=2)
            try:
                full = _run(sandbox, hook, warehouse, tenant, "full")
                time.sleep(3)
                quiet = []
                for n in (1, 2):
                    quiet.append(_run(sandbox, hook, warehouse, tenant, f"quiet{n}"))
                    time.sleep(3)
                contact = next(iter(hook.iter_records("Contacts", summary_only=True)))
                edit = {"ContactID": contact["ContactID"], "Website": "https://example.com"}
                assert hook.update("Contacts", [edit])[0].ok
                one_change = _run(sandbox, hook, warehouse, tenant, "one change")
                mark, size = _mark(sandbox), _bytes(sandbox)
                problems, _ = quality.drift(hook, warehouse, tenant)
                check = {
                    "calls": sum(_calls(sandbox, mark).values()),
                    "mb": round((_bytes(sandbox) - size) / 1e6, 4),
                    "problems": len(problems),
                }
            finally:
                hook.close()
                warehouse.dispose()
    report = {
        "sync_module": str(Path(sync_module.__file__).resolve()),
        "records_generated": sum(MIX.values()) // scale,
        "full_sync": full,
        "incremental_nothing_changed": quiet,
        "incremental_one_contact_changed": one_change,
        "quality_check_comparison": check,
    }
    print(json.dumps(report, indent=2))
    name = "quiet_sync_quick.json" if args.quick else "quiet_sync.json"
    out = Path(args.output) if args.output else REPO / "bench" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    worst = quiet[-1]
    return 0 if worst["most_calls_for_one_resource"] <= 1 and not worst["rows_rewritten"] else 1


if __name__ == "__main__":
    sys.exit(main())
