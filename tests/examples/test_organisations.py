"""Which organisations the example DAGs serve: one per usable ``xero`` connection."""

from __future__ import annotations

import json
import logging

import pytest

from xero_examples.organisations import dag_key, from_connections, organisations

T1, T2 = "6a1f3e52-8c0d-4b7e-9f21-3d5c7a9b1e01", "b7e2d4c6-1a3f-4e5d-8b9c-0f1e2d3c4b02"


@pytest.mark.parametrize(
    ("conn_id", "extra", "key"),
    [
        ("xero_demo_company_nz", {}, "demo_company_nz"),
        ("xero_default", {"dag_key": "demo"}, "demo"),
        ("Acme-Ltd.NZ", {}, "acme_ltd_nz"),
        ("xero", {}, "xero"),
    ],
    ids=["connect-flow-name", "dag-key", "other-characters", "only-the-prefix"],
)
def test_the_dag_key_comes_from_the_connection(conn_id: str, extra: dict, key: str) -> None:
    assert dag_key(conn_id, extra) == key


def test_connections_that_cannot_serve_are_skipped_naming_them(caplog) -> None:
    caplog.set_level(logging.WARNING)
    orgs = from_connections(
        [
            ("xero_b", {"tenant_id": T2, "tenant_name": "B Ltd"}),
            ("xero_a", {"tenant_id": T1}),
            ("xero_no_tenant", {}),
            ("xero_bad", {"tenant_id": T1, "dag_key": "Bad Key!"}),
            ("xero_also_a", {"tenant_id": T2, "dag_key": "a"}),
        ]
    )
    assert [(o.key, o.conn_id, o.tenant_id, o.name) for o in orgs] == [
        ("a", "xero_a", T1, ""),
        ("b", "xero_b", T2, "B Ltd"),
    ]
    text = caplog.text
    assert "'xero_no_tenant' has no tenant_id" in text
    assert "'xero_bad': dag_key 'Bad Key!'" in text
    assert "'xero_a' and 'xero_also_a' have the same dag_key 'a'" in text


def test_environment_connections_of_type_xero_count(monkeypatch) -> None:
    monkeypatch.delenv("XERO_ORGANISATIONS_FILE", raising=False)
    body = {"conn_type": "xero", "extra": {"tenant_id": T1, "tenant_name": "Env Org"}}
    monkeypatch.setenv("AIRFLOW_CONN_XERO_FROM_ENV", json.dumps(body))
    monkeypatch.setenv("AIRFLOW_CONN_OTHER", json.dumps({"conn_type": "http"}))
    found = {o.key: o for o in organisations()}
    assert found["from_env"].tenant_id == T1
    assert found["from_env"].conn_id == "xero_from_env"
    assert "other" not in found


def test_a_file_overrides_the_connections(tmp_path, monkeypatch) -> None:
    path = tmp_path / "orgs.json"
    path.write_text(json.dumps([{"key": "only", "conn_id": "c", "tenant_id": T1}]))
    monkeypatch.setenv("AIRFLOW_CONN_XERO_IGNORED", json.dumps({"conn_type": "xero"}))
    monkeypatch.setenv("XERO_ORGANISATIONS_FILE", str(path))
    assert [o.key for o in organisations()] == ["only"]
