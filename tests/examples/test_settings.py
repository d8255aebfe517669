"""The Astro-format settings file and its loader into a plain Airflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xero_demo.demo import demo_organisations
from xero_demo.settings import SettingsError, airflow_import_files, read_settings
from xero_examples.organisations import organisations

REPO = Path(__file__).resolve().parents[2]


def test_the_project_file_translates_to_airflow_import_files() -> None:
    files = airflow_import_files(read_settings(REPO / "airflow_settings.yaml"), "http://h:1")
    assert set(files["connections"]) == {"xero_default", "xero_starter"}
    extra = json.loads(files["connections"]["xero_default"]["extra"])
    assert extra["api_base_url"] == extra["identity_base_url"] == "http://h:1"
    assert files["connections"]["xero_default"]["conn_type"] == "xero"
    # each connection is an organisation of the DAGs, with the demo's DAG keys; no pools
    orgs = {o.key: o for o in demo_organisations()}
    assert {k: o.conn_id for k, o in orgs.items()} == {
        "demo": "xero_default",
        "starter": "xero_starter",
    }
    for org in orgs.values():
        tenant = json.loads(files["connections"][org.conn_id]["extra"])["tenant_id"]
        assert tenant == org.tenant_id
    assert not files["pools"]


def test_xero_extra_goes_to_every_xero_connection_and_nothing_else(tmp_path: Path) -> None:
    """How the system tests run the example DAGs on a Starter app: the connections say
    ``app_tier`` (as the connect flow records it); a non-Xero connection is left alone."""
    path = tmp_path / "settings.yaml"
    path.write_text(
        "airflow:\n  connections:\n"
        "    - {conn_id: x, conn_type: xero, conn_extra: {tenant_id: t, app_tier: core}}\n"
        "    - {conn_id: w, conn_type: postgres, conn_host: h}\n"
    )
    files = airflow_import_files(read_settings(path), None, {"app_tier": "starter"})
    assert json.loads(files["connections"]["x"]["extra"]) == {
        "tenant_id": "t",
        "app_tier": "starter",
    }
    assert "extra" not in files["connections"]["w"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("connections: []", "top-level 'airflow:'"),
        ("airflow:\n  connections: {}", "airflow.connections must be a list"),
        ("airflow:\n  connections:\n    - conn_type: xero", r"connections\[0\] has no conn_id"),
        ("airflow:\n  pools:\n    - pool_slot: 5", r"pools\[0\] has no pool_name"),
    ],
    ids=["not-astro", "not-a-list", "no-conn-id", "no-pool-name"],
)
def test_malformed_files_name_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        read_settings(path)


@pytest.mark.parametrize("slots", ["five", -1, None], ids=["text", "negative", "missing"])
def test_bad_pool_slots_are_refused(tmp_path: Path, slots) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({"airflow": {"pools": [{"pool_name": "p", "pool_slot": slots}]}}))
    with pytest.raises(SettingsError, match="pool p: pool_slot"):
        airflow_import_files(read_settings(path))


def test_a_connection_needs_a_type(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("airflow:\n  connections:\n    - conn_id: c\n")
    with pytest.raises(SettingsError, match="connection c: conn_type"):
        airflow_import_files(read_settings(path))


def test_organisations_file_errors_name_the_entry(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "orgs.json"
    monkeypatch.setenv("XERO_ORGANISATIONS_FILE", str(path))
    path.write_text(json.dumps([{"key": "a", "conn_id": "c"}]))
    with pytest.raises(ValueError, match=r"\[0\]: missing tenant_id"):
        organisations()
    path.write_text(json.dumps([{"key": "Bad Key!", "conn_id": "c", "tenant_id": "t"}]))
    with pytest.raises(ValueError, match=r"\[0\]\.key must match"):
        organisations()
    entry = {"key": "a", "conn_id": "c", "tenant_id": "t"}
    path.write_text(json.dumps([entry, entry]))
    with pytest.raises(ValueError, match="must be unique"):
        organisations()
