"""The hook counts the bytes Xero sends, per call, organisation and resource; the figures
match what the sandbox counted, reach the shared egress log on close, and show in the
task log and the CLI's status."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from tests.provider.connections import xero_connection
from xero_provider.egress import EgressLog
from xero_provider.hooks import XeroHook


def _sandbox_bytes(sandbox: Any) -> dict[str, int]:
    report = sandbox.control("GET", "/egress").json()[sandbox.demo.web_client_id]
    [month] = report["months"].values()
    return month["organisations"]


def test_the_hook_counts_what_xero_sent_and_logs_it_on_close(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, caplog: Any
) -> None:
    store = tmp_path / "t.db"
    conn_id = xero_connection(sandbox, monkeypatch, store)
    hook = XeroHook(conn_id)
    contacts = list(hook.iter_records("Contacts"))
    invoices = list(hook.iter_records("Invoices"))
    assert contacts and invoices
    tally = {name: c for name, c in hook.egress.by_resource.items()}
    assert set(tally) == {"Contacts", "Invoices"}
    assert all(c.bytes > 1000 and c.calls >= 1 for c in tally.values())
    counted = sum(c.bytes for c in tally.values())
    assert _sandbox_bytes(sandbox) == {sandbox.demo.tenant_id: counted}
    with caplog.at_level(logging.INFO, logger="xero_provider.hooks.xero"):
        hook.close()
    line = next(r.getMessage() for r in caplog.records if "Xero egress" in r.getMessage())
    assert f"{counted / 1e6:.2f} MB" in line and "this month" in line
    assert hook.egress.by_resource == {}  # flushed

    second = XeroHook(conn_id)
    list(second.iter_records("Contacts"))
    more = second.egress.total.bytes
    second.close()
    usage = EgressLog(second._ready().store).usage(
        sandbox.demo.web_client_id, sandbox.demo.tenant_id
    )
    assert usage.today.bytes == usage.month.bytes == counted + more
    assert usage.today.calls == sum(c.calls for c in tally.values()) + 1


def test_cli_status_shows_todays_and_this_months_egress(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from xero_provider.auth import cli

    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "t.db", app_tier="core")
    hook = XeroHook(conn_id)
    list(hook.iter_records("Contacts"))
    size = hook.egress.total.bytes
    hook.close()
    out = io.StringIO()
    cli.status(conn_id, out)
    line = next(li for li in out.getvalue().splitlines() if li.startswith("egress:"))
    assert f"today {size / 1e6:.2f} MB in 1 calls" in line
    assert "Core includes 10 GB a month" in line
