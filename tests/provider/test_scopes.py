"""Granular scopes derived from the resource table: the connect flow asks for exactly what
the operators, sensors and warehouse reads need; broad scopes for apps created before
2 March 2026; a resource the tier does not serve is left out. The derived set is then
used for real: a granular-only sandbox app accepts it and the whole sync runs with it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.provider.connections import xero_connection
from xero_examples.sync import sync_resource
from xero_examples.warehouse import Warehouse, sync_resources
from xero_provider.connect.flow import pick_scopes
from xero_provider.connect.scopes import deployment_scopes, operator_resources
from xero_provider.resources import RESOURCES
from xero_provider.tiers import TIERS

BROAD = {"accounting.transactions", "accounting.transactions.read", "accounting.reports.read"}


def test_granular_scopes_cover_every_need_and_nothing_more() -> None:
    choice = deployment_scopes()
    scopes = set(choice.scopes)
    assert not scopes & BROAD
    writes, _reads = operator_resources()
    assert {r.name for r in writes} >= {"Contacts", "Bills", "Payments", "BankTransfers"}
    for resource in writes:
        assert resource.scope(write=True) in scopes, resource.name
    for resource in RESOURCES.values():
        read = resource.scope(write=False)
        assert read in scopes or read.removesuffix(".read") in scopes, resource.name
    needed = {r.scope(write=True) for r in writes} | {
        r.scope(write=False) for r in RESOURCES.values()
    }
    extra = scopes - needed - {"openid", "profile", "email", "offline_access"}
    assert extra == {"accounting.reports.trialbalance.read"}  # the quality check's report
    assert "accounting.settings.read" in scopes and "accounting.settings" not in scopes


def test_broad_scopes_for_an_old_app_and_tier_gated_resources_left_out() -> None:
    broad = deployment_scopes(granular=False)
    assert "accounting.transactions" in broad.scopes
    assert "accounting.invoices" not in broad.scopes
    assert "broad scopes" in broad.describe() and "13 September 2027" in broad.describe()
    core = deployment_scopes(tier=TIERS["core"])
    assert "accounting.journals.read" not in core.scopes and core.left_out == ("Journals",)
    assert "left out for the app's tier: Journals" in core.describe()


def test_the_connect_flow_says_which_it_chose() -> None:
    scopes, note = pick_scopes("", "core", broad=False)
    assert note.startswith("asking Xero for granular scopes") and "accounting.invoices" in scopes
    scopes, note = pick_scopes("openid accounting.contacts", None, broad=True)
    assert scopes == "openid accounting.contacts" and "the scopes you gave" in note
    with pytest.raises(ValueError, match="app tier must be one of"):
        pick_scopes("", "gold", broad=False)


def test_a_granular_only_app_accepts_them_and_the_whole_sync_runs(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    demo = sandbox.demo
    app = {
        "client_id": demo.web_client_id,
        "client_secret": demo.web_client_secret,
        "name": "New granular app",
        "redirect_uris": ["http://localhost:9/cb"],
        "granular_only": True,
        "tier": "advanced",
    }
    sandbox.control("POST", "/seed", json={"apps": [app]})
    apps = sandbox.control("GET", "/apps").json()
    assert next(a for a in apps if a["client_id"] == demo.web_client_id)["granular_only"]
    scopes = list(deployment_scopes().scopes)
    hook_conn = xero_connection(sandbox, monkeypatch, tmp_path / "t.db", grant_scopes=scopes)
    from xero_provider.hooks import XeroHook

    hook = XeroHook(hook_conn)
    warehouse = Warehouse(f"sqlite:///{tmp_path}/w.db")
    warehouse.create_tables()
    try:
        results = [
            sync_resource(hook, warehouse, r, demo.tenant_id, "run-1") for r in sync_resources()
        ]
    finally:
        hook.close()
        warehouse.dispose()
    assert all(not r.get("skipped") for r in results)
    assert sum(r["written"] for r in results) > 100
