"""The example DAGs' organisation directory (the Variable ``xero_organisations``) follows
``xero`` connections written through Airflow's own REST API (what its connection form
calls), as it follows the connect page and CLI."""

from __future__ import annotations

import json

from tests.connect.conftest import AirflowSite
from xero_sandbox.testing import SandboxServer


def directory(site: AirflowSite) -> dict:
    with site.api() as api:
        answer = api.get("/variables/xero_organisations")
    return json.loads(answer.json()["value"]) if answer.status_code == 200 else {}


def test_connections_written_through_airflows_api_update_the_directory(
    airflow_site: AirflowSite, sandbox: SandboxServer, clean_connections: None
) -> None:
    """Each read right after a write's answer sees the write (the api-server answers once
    the directory is in step)."""
    tenant = sandbox.demo.tenant_id
    body = {
        "connection_id": "by_form",
        "conn_type": "xero",
        "login": "client",
        "extra": json.dumps({"tenant_id": tenant, "tenant_name": "Form Org", "timeout": 5}),
    }
    with airflow_site.api() as api:
        made = api.post("/connections", json=body)
        assert made.status_code == 201, made.text
        api.post("/connections", json={"connection_id": "not_xero", "conn_type": "http"})
    listed = directory(airflow_site)
    assert listed["by_form"] == {"tenant_id": tenant, "tenant_name": "Form Org"}
    assert "not_xero" not in listed
    with airflow_site.api() as api:
        patched = api.patch(
            "/connections/by_form",
            json={**body, "extra": json.dumps({"tenant_id": tenant, "dag_key": "form"})},
        )
        assert patched.status_code == 200, patched.text
    assert directory(airflow_site)["by_form"] == {"tenant_id": tenant, "dag_key": "form"}
    with airflow_site.api() as api:
        assert api.delete("/connections/by_form").status_code == 204
        api.delete("/connections/not_xero")
    assert "by_form" not in directory(airflow_site)


def parse_requests(site: AirflowSite) -> set[tuple[str, str]]:
    import sqlalchemy as sa

    engine = sa.create_engine(site.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT bundle_name, relative_fileloc FROM dag_priority_parsing_request")
            )
            return {(bundle, path) for bundle, path in rows}
    finally:
        engine.dispose()


def test_a_new_organisation_has_the_dag_files_parsed_at_once(
    airflow_site: AirflowSite, sandbox: SandboxServer, clean_connections: None
) -> None:
    """Connecting changes the directory, not the DAG files' text: without a priority parse
    request its DAGs would wait for the dag-processor's next periodic parse."""
    folder = airflow_site.home / "dags" / "nested"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "org_dags.py").write_text("# builds DAGs from the organisation directory\n")
    (folder / "__init__.py").write_text("")
    body = {
        "connection_id": "parsed_now",
        "conn_type": "xero",
        "login": "client",
        "extra": json.dumps({"tenant_id": sandbox.demo.tenant_id}),
    }
    try:
        with airflow_site.api() as api:
            assert api.post("/connections", json=body).status_code == 201
        # the api-server rebuilt the directory (and asked for the parse) before it answered
        queued = parse_requests(airflow_site)
        assert ("dags-folder", "nested/org_dags.py") in queued
        assert ("dags-folder", "nested/__init__.py") not in queued
        # a connection that does not change the directory asks for nothing more
        with airflow_site.api() as api:
            plain = {"connection_id": "not_xero_either", "conn_type": "http"}
            assert api.post("/connections", json=plain).status_code == 201
            api.delete("/connections/not_xero_either")
        assert parse_requests(airflow_site) == queued
    finally:
        (folder / "org_dags.py").unlink()
        (folder / "__init__.py").unlink()
        folder.rmdir()
