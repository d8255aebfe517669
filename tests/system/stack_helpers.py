"""Start an Airflow stack against the sandbox, and compare the warehouse with the sandbox."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from xero_demo.demo import expected_dag_ids, stack_config
from xero_demo.sandbox_grant import authorise
from xero_demo.settings import load
from xero_demo.stack import AirflowStack, airflow_executable
from xero_examples.warehouse import Warehouse, compare, sync_resources, xero_figures
from xero_sandbox.testing import SandboxServer

REPO = Path(__file__).resolve().parents[2]
WAREHOUSE_DAGS = ["xero_warehouse_sync_demo", "xero_warehouse_sync_starter"]


def start_stack(home: Path, sandbox: SandboxServer, **config) -> AirflowStack:
    """A running stack with airflow_settings.yaml loaded and the demo connections authorised:
    the demo's configuration (`make airflow`: plugin loaded, Test enabled) plus ``config``."""
    base = stack_config(home, api_port=config.pop("api_port", None))
    env = {**base.env, **config.pop("env", {})}
    stack = AirflowStack(dataclasses.replace(base, env=env, **config))
    stack.start()
    try:
        load(
            REPO / "airflow_settings.yaml",
            sandbox_url=sandbox.url,
            airflow=airflow_executable(),
            env=stack.env,
        )
        authorise(sandbox.url, env=stack.env)
        stack.wait_for_dags(expected_dag_ids(stack))
    except BaseException:
        stack.stop()
        raise
    return stack


def sandbox_records(sandbox: SandboxServer, tenant_id: str, resource) -> list[dict]:
    body = sandbox.control("GET", f"/state/{tenant_id}/{resource.path}").json()
    (records,) = [v for k, v in body.items() if k != "count"]
    return records


def warehouse_differences(url: str, sandbox: SandboxServer, tenant_id: str) -> list[str]:
    """Every difference between the warehouse and the sandbox's records (empty: equal)."""
    warehouse = Warehouse(url)
    problems = []
    try:
        for resource in sync_resources():
            theirs = xero_figures(resource, sandbox_records(sandbox, tenant_id, resource))
            ours = warehouse.figures(resource, tenant_id)
            problems += compare(resource, theirs, ours)
            if theirs["count"] != ours["count"]:
                problems.append(f"{resource.name}: {theirs['count']} vs {ours['count']} rows")
    finally:
        warehouse.dispose()
    return problems


def warehouse_rows(url: str) -> int:
    """All rows of the resource tables (a duplicate would show here)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = [t for t in sa.inspect(conn).get_table_names() if t.startswith("xero_")]
            return sum(
                conn.execute(sa.text(f'SELECT COUNT(*) FROM "{name}"')).scalar()
                for name in names
                if name != "xero_children"
            )
    finally:
        engine.dispose()
