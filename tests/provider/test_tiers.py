"""The provider knows the app's Xero tier: limits default from it, a gated endpoint is
refused with a clear XeroTierError (before any call when the connection says the tier),
and the warehouse sync skips gated resources with a note instead of failing."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from tests.provider.connections import xero_connection
from xero_examples.sync import sync_resource
from xero_examples.warehouse import Warehouse, sync_resources
from xero_provider.config import XeroConnectionConfig
from xero_provider.exceptions import XeroConfigurationError, XeroTierError
from xero_provider.hooks import XeroHook
from xero_provider.resources import get_resource

JOURNALS = get_resource("Journals")


def _config(**extra: Any) -> XeroConnectionConfig:
    conn = SimpleNamespace(conn_id="xero_t", login="abc", password="s", extra_dejson=extra)
    return XeroConnectionConfig.from_connection(conn)


def test_the_day_limit_defaults_from_the_tier() -> None:
    assert _config().rate_limit_per_day == 5000 and _config().app_tier is None
    assert _config(app_tier="Starter").rate_limit_per_day == 1000
    assert _config(app_tier="core").rate_limit_per_day == 5000
    assert _config(app_tier="starter", rate_limit_per_day=800).rate_limit_per_day == 800


def test_an_unknown_tier_names_the_field_and_the_choices() -> None:
    with pytest.raises(XeroConfigurationError) as caught:
        _config(app_tier="gold")
    text = str(caught.value)
    assert "'app_tier'" in text and "starter, core, plus, advanced, enterprise" in text


def _journal_requests(sandbox: Any) -> list[dict]:
    entries = sandbox.control("GET", "/requests").json()
    entries = entries.get("requests", entries) if isinstance(entries, dict) else entries
    return [e for e in entries if e["path"].lower().endswith("/journals")]


def test_a_core_connection_is_refused_journals_before_any_call(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    hook = XeroHook(xero_connection(sandbox, monkeypatch, tmp_path / "t.db", app_tier="core"))
    try:
        with pytest.raises(XeroTierError) as caught:
            list(hook.iter_records(JOURNALS))
        assert hook.get_dataframe("Contacts").shape[0] > 0  # the rest still works
    finally:
        hook.close()
    error = caught.value
    assert error.needed == "advanced" and error.app_tier == "core"
    assert "Journals needs a Xero app on the Advanced tier" in str(error)
    assert "says the app is on Core" in str(error)
    assert _journal_requests(sandbox) == []


def test_xeros_refusal_becomes_a_tier_error_when_the_connection_does_not_say(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    sandbox.control("PUT", f"/apps/{sandbox.demo.web_client_id}", json={"tier": "plus"})
    hook = XeroHook(xero_connection(sandbox, monkeypatch, tmp_path / "t.db"))
    try:
        with pytest.raises(XeroTierError) as caught:
            list(hook.iter_records(JOURNALS))
    finally:
        hook.close()
    assert caught.value.status == 401 and caught.value.app_tier is None
    assert "AuthorizationUnsuccessful" in str(caught.value)


@pytest.mark.parametrize("tier", ["starter", "core", "advanced"])
def test_the_warehouse_sync_runs_on_every_tier_skipping_what_it_lacks(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, tier: str
) -> None:
    sandbox.control("PUT", f"/apps/{sandbox.demo.web_client_id}", json={"tier": tier})
    hook = XeroHook(xero_connection(sandbox, monkeypatch, tmp_path / "t.db", app_tier=tier))
    warehouse = Warehouse(f"sqlite:///{tmp_path}/warehouse.db")
    warehouse.create_tables()
    results = {}
    try:
        for resource in sync_resources():
            results[resource.name] = sync_resource(
                hook, warehouse, resource, sandbox.demo.tenant_id, "run-1"
            )
    finally:
        hook.close()
        warehouse.dispose()
    skipped = {name for name, result in results.items() if result.get("skipped")}
    assert skipped == (set() if tier == "advanced" else {"Journals"})
    if skipped:
        assert "Advanced tier" in results["Journals"]["skipped"]
    assert results["Contacts"]["written"] > 0
    json.dumps(results)  # the task's XCom value
