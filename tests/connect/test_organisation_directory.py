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
