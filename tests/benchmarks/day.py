"""``python -m tests.benchmarks.day [--quick] [--hours H] [--scale S]``: one organisation's
day of the four automations and the daily warehouse sync, against Xero's day limit.

What runs: the sandbox with its rate windows time-scaled (a Xero day lasts ``86400 / S``
real seconds; ``include/xero_sandbox/limits.py``), and in one event loop (the triggerer)
the automations' real watermark triggers (``XeroChangesTrigger``, as their deferred
sensors start them) on Contacts, Bills, SalesInvoices and CreditNotes, each re-armed from
its event's position when it fires (the next ``@continuous`` run), each change answered
with one write (a history note, as the automations write). A writer (another app, so
its calls do not count against ours) makes a small business's changes at seeded random
moments: per day 30 contacts, 40 bills, 60 sales invoices, 10 credit notes. The warehouse
sync is counted as the 48 reads a run the issue measured, made once (``GET`` pages).

Two ways, each for a standard (5,000 a day) and a Starter (1,000) app:

* **before**: current main's behaviour, the connection's ``call_plan: off``: every
  trigger polls every ``WATCH['poke_interval']`` (30 s), no webhook reaches it;
* **after**: the daily call plan on, and each change's webhook delivered at once (what
  the api-server does on a verified delivery: ``webhooks.mark_feeds``; Xero does not
  document a delivery delay, so none is modelled).

Figures (to ``bench/day.json`` and printed): calls made by the organisation's connection
(the shared rate budget's day count, which Xero's headers correct, sampled every half
second so a day window that resets during the run is counted too) extrapolated to 24 h
when fewer hours ran (polls scale with time; the sync is once a day), as a share of the
day's limit (goal: at most 80%), the sandbox's day-limit refusals (goal: 0), and the
change-to-run delay per feed (from Xero's ``UpdatedDateUTC`` to the trigger's event, in
simulated seconds). Delays are measured on the real clock and multiplied by the scale;
reads are whole seconds, so each carries up to ``S`` simulated seconds of rounding: read
them as an upper bound, and the README's per-feed expectations (settle + interval / 2 for
a polled feed; settle + about a second for a webhook-driven one) as the real-time figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

RATES = {"Contacts": 30, "Bills": 40, "SalesInvoices": 60, "CreditNotes": 10}  # a day
SYNC_CALLS = 48  # a warehouse sync run with nothing changed (issue 20, measured)
SETTLE = 15.0  # WATCH's settle_seconds (simulated)
POKE = 30.0  # WATCH's poke_interval before the plan (simulated)
GOAL_SHARE = 0.8
OUT = Path("bench/day.json")


def _connection(sandbox: Any, store: str, scale: float, limit: int, plan: bool) -> str:
    from tests.provider.connections import xero_connection

    patch = pytest.MonkeyPatch()
    return xero_connection(
        sandbox,
        patch,
        store,
        call_plan="on" if plan else "off",
        rate_window_seconds=60.0 / scale,
        rate_limit_per_day=limit,
    )


def _writer(
    sandbox: Any, real_seconds: float, hours: float, store: str | None, stop: threading.Event
) -> dict[str, dict[str, float]]:
    """Make the changes; return ``{resource: {record id: UpdatedDateUTC seconds}}``."""
    from xero_demo.changes import Writer
    from xero_provider.connect import webhooks
    from xero_provider.state.feed import parse_ms

    tenant = sandbox.demo.tenant_id
    writer = Writer(sandbox, [tenant])
    writer.token = sandbox.tokens(client_id=sandbox.demo.pkce_client_id, tenant_ids=[tenant])[
        "access_token"
    ]
    rng = random.Random(20)
    plan = sorted(
        (rng.uniform(0.02, 0.98) * real_seconds, resource)
        for resource, per_day in RATES.items()
        for _ in range(max(1, round(per_day * hours / 24)))
    )
    contact = writer.put(tenant, "Contacts", [{"Name": f"Day bench supplier {time.time()}"}])[0]
    made: dict[str, dict[str, float]] = {r: {} for r in RATES}
    started = time.monotonic()
    today = date.today().isoformat()
    line = [{"Description": "bench", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}]
    for n, (at, resource) in enumerate(plan):
        if stop.is_set():
            break
        time.sleep(max(0.0, started + at - time.monotonic()))
        ref = {"Contact": {"ContactID": contact["ContactID"]}, "Date": today, "LineItems": line}
        if resource == "Contacts":
            record = writer.put(tenant, "Contacts", [{"Name": f"Day bench {n} {time.time()}"}])
        elif resource == "CreditNotes":
            record = writer.put(tenant, "CreditNotes", [{**ref, "Type": "ACCPAYCREDIT"}])
        else:
            kind = "ACCPAY" if resource == "Bills" else "ACCREC"
            record = writer.put(tenant, "Invoices", [{**ref, "Type": kind}])
        spec_id = {"Contacts": "ContactID", "CreditNotes": "CreditNoteID"}.get(
            resource, "InvoiceID"
        )
        made[resource][record[0][spec_id]] = parse_ms(record[0]["UpdatedDateUTC"]) / 1000
        if store is not None and resource != "CreditNotes":  # Xero: contacts and invoices
            category = "CONTACT" if resource == "Contacts" else "INVOICE"
            event = {
                "tenantId": tenant,
                "eventCategory": category,
                "resourceId": record[0][spec_id],
            }
            webhooks.mark_feeds(webhooks.group([event]), store)
    return made


async def _automation(
    conn_id: str, resource: str, scale: float, until: float, fired: list[tuple[str, str, float]]
) -> None:
    """One automation: wait for changes, answer each with one write, wait again."""
    from xero_provider.hooks import XeroAsyncHook
    from xero_provider.state.feed import Feed, Position
    from xero_provider.triggers import XeroChangesTrigger

    feed = Feed.build(resource)
    lower = Position.at(datetime.now(UTC))
    hook = XeroAsyncHook(conn_id)
    path = {"Contacts": "Contacts", "CreditNotes": "CreditNotes"}.get(resource, "Invoices")
    try:
        while time.time() < until:
            trigger = XeroChangesTrigger(
                xero_conn_id=conn_id,
                feed=feed.to_json(),
                mode="watermark",
                lower=lower.to_json(),
                settle_seconds=SETTLE / scale,
                poll_interval=POKE / scale,
            )
            runner = trigger.run().__anext__()
            try:
                event = await asyncio.wait_for(runner, max(0.1, until - time.time()))
            except TimeoutError:
                return
            payload = event.payload
            if payload.get("status") != "success":
                print(f"  {resource}: trigger error {payload.get('message')}", file=sys.stderr)
                await asyncio.sleep(1)
                continue
            now = time.time()
            for record_id in payload["ids"]:
                fired.append((resource, record_id, now))
                body = {"HistoryRecords": [{"Details": "day bench: seen"}]}
                await hook.call("PUT", f"{path}/{record_id}/History", json=body)
            lower = Position.from_json(payload["upper"])
    finally:
        await hook.aclose()


def _one_day(sandbox: Any, scale: float, hours: float, limit: int, plan: bool) -> dict:
    from xero_provider.hooks import XeroHook

    sandbox.reset(demo=True)
    sandbox.control(
        "PUT", "/limits", json={"time_scale": scale, "per_day": limit, "per_day_starter": limit}
    )
    tmp = tempfile.mkdtemp(prefix="xero_day_")
    store = f"sqlite:///{tmp}/tokens.db"
    conn_id = _connection(sandbox, store, scale, limit, plan)
    hook = XeroHook(conn_id)
    real_seconds = hours * 3600 / scale
    for page in range(SYNC_CALLS):  # the day's warehouse sync
        hook.call("GET", "Organisation" if page == 0 else "Accounts")
    until = time.time() + real_seconds
    fired: list[tuple[str, str, float]] = []
    stop = threading.Event()
    made: dict[str, dict[str, float]] = {}

    def write() -> None:
        made.update(_writer(sandbox, real_seconds, hours, store if plan else None, stop))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()

    async def automations() -> None:
        await asyncio.gather(*(_automation(conn_id, r, scale, until, fired) for r in RATES))

    counted = {"closed": 0, "open": SYNC_CALLS}

    def count() -> None:
        # the shared budget's day count; a day window that resets mid-run starts again
        while not stop.is_set():
            used_now = limit - XeroHook(conn_id).remaining_calls().day
            if used_now < counted["open"]:
                counted["closed"] += counted["open"]
            counted["open"] = used_now
            stop.wait(0.5)

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    asyncio.run(automations())
    stop.set()
    writer.join(timeout=60)
    counter.join(timeout=10)
    left = hook.remaining_calls()
    used = counted["closed"] + max(counted["open"], limit - left.day)
    refusals = sandbox.control("GET", "/limits").json().get("refused", {})
    delays: dict[str, list[float]] = {r: [] for r in RATES}
    for resource, record_id, at in fired:
        changed = made.get(resource, {}).get(record_id)
        if changed is not None:
            delays[resource].append((at - changed) * scale)
    per_day = SYNC_CALLS + (used - SYNC_CALLS) * 24 / hours
    return {
        "calls_in_run": used,
        "calls_per_day": round(per_day),
        "share_of_limit": round(per_day / limit, 3),
        "day_refusals": refusals.get("day", 0),
        "changes": {r: len(made.get(r, {})) for r in RATES},
        "reacted": {r: len(delays[r]) for r in RATES},
        "delay_seconds": {
            r: {"p50": round(statistics.median(d)), "max": round(max(d))} if d else None
            for r, d in delays.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 simulated hour")
    parser.add_argument("--hours", type=float, default=None, help="simulated hours (24)")
    # at most 30: the old 30 s polls must stay at least a real second apart, since reads
    # are whole seconds (a faster clock would cap both ways at one read a second)
    parser.add_argument("--scale", type=float, default=24.0, help="sandbox time scale (24)")
    parser.add_argument(
        "--runs",
        default="standard_before,standard_after,starter_before,starter_after",
        help="which of the four runs (comma-separated)",
    )
    args = parser.parse_args(argv)
    hours = args.hours or (1.0 if args.quick else 24.0)
    import os

    from cryptography.fernet import Fernet

    scratch = Path(tempfile.mkdtemp(prefix="xero_day_home_"))
    os.environ["AIRFLOW_HOME"] = str(scratch)
    os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    from xero_sandbox.testing import SandboxServer

    results: dict[str, Any] = {"hours_run": hours, "time_scale": args.scale, "runs": {}}
    ok = True
    with SandboxServer() as sandbox:
        for tier, limit in (("standard", 5000), ("starter", 1000)):
            for way, plan in (("before", False), ("after", True)):
                if f"{tier}_{way}" not in args.runs.split(","):
                    continue
                print(f"{tier} app ({limit}/day), {way}: {hours:g} simulated h ...", flush=True)
                figures = _one_day(sandbox, args.scale, hours, limit, plan)
                results["runs"][f"{tier}_{way}"] = figures
                print(f"  {json.dumps(figures)}", flush=True)
                if plan:
                    ok &= figures["share_of_limit"] <= GOAL_SHARE
                    ok &= figures["day_refusals"] == 0
    for tier in ("standard", "starter"):
        before = results["runs"].get(f"{tier}_before", {}).get("calls_per_day")
        after = results["runs"].get(f"{tier}_after", {}).get("calls_per_day")
        if before and after:
            results[f"{tier}_after_over_before"] = round(after / before, 3)
    out = OUT
    if args.runs != parser.get_default("runs"):
        out = OUT.with_name(f"day_{args.runs.replace(',', '_')}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
