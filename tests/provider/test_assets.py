"""One asset naming for the webhook endpoint, the watchers and the example DAGs."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from xero_provider.assets import asset_uri, xero_asset
from xero_provider.connect import webhooks

REPO = Path(__file__).resolve().parents[2]
TENANT = "6A1F3E52-8C0D-4B7E-9F21-3D5C7A9B1E01"


@pytest.mark.parametrize("spelling", ["Contacts", "contacts", "CONTACTS"])
def test_every_spelling_names_one_asset(spelling) -> None:
    assert asset_uri(TENANT, spelling) == f"xero://{TENANT.lower()}/Contacts"
    assert webhooks.asset_uri is asset_uri  # the endpoint emits for this very name


def test_bad_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown Xero resource"):
        asset_uri(TENANT, "Contact")
    with pytest.raises(ValueError, match="tenant_id"):
        asset_uri("", "Contacts")


def test_the_example_asset_dag_listens_where_webhooks_arrive(tmp_path, monkeypatch) -> None:
    """Each organisation's example DAG is scheduled on the URI the webhook endpoint uses
    for a contact event of that organisation, and its watcher is on the same asset."""
    from xero_demo.demo import demo_organisations

    demo = tmp_path / "organisations.json"  # the demo's connections, with no Airflow database
    demo.write_text(json.dumps([dataclasses.asdict(o) for o in demo_organisations()]))
    monkeypatch.setenv("XERO_ORGANISATIONS_FILE", str(demo))
    path = REPO / "dags" / "xero_contact_changes_asset.py"
    spec = importlib.util.spec_from_file_location("example_contact_asset", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = [v for k, v in vars(module).items() if k.startswith("xero_contact_changes_asset_")]
    assert len(dags) == 2
    for dag in dags:
        (asset,) = dag.timetable.asset_condition.objects
        tenant = asset.uri.split("/")[2]
        event = {"tenantId": tenant.upper(), "eventCategory": "CONTACT", "resourceId": "c1"}
        ((grouped_tenant, resource),) = webhooks.group([event])
        assert asset.uri == asset_uri(grouped_tenant, resource)
        assert asset.name == xero_asset(tenant, "Contacts").name
        assert [w.trigger.feed.resource for w in asset.watchers] == ["Contacts"]
