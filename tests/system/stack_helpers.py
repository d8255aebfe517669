"""Start an Airflow stack against the sandbox, and compare the warehouse with the sandbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from xero_demo.bring_up import start_connected
from xero_demo.demo import stack_config
from xero_demo.stack import TEST_PACE, AirflowStack
from xero_examples.warehouse import Warehouse, compare, sync_resources, xero_figures
from xero_sandbox.testing import SandboxServer

WAREHOUSE_DAGS = ["xero_warehouse_sync_demo", "xero_warehouse_sync_starter"]


def start_stack(
    home: Path,
    sandbox: SandboxServer,
    migrated_db: Callable[[Path], Path] | None = None,
    xero_extra: dict | None = None,
    **config,
) -> AirflowStack:
    """A running stack with airflow_settings.yaml loaded and the demo connections authorised:
    the demo's configuration (`make airflow`: plugin loaded, Test enabled) plus ``config``.

    ``migrated_db`` (the session fixture) puts the run's migrated SQLite database in
    ``home`` instead of ``airflow db migrate`` (the demo itself migrates, as it must).
    ``xero_extra`` is added to every Xero connection's extra (``{"app_tier": ...}``).
    """
    base = stack_config(home, api_port=config.pop("api_port", None))
    config = {**TEST_PACE, **config}
    env = {**base.env, **config.pop("env", {})}
    if migrated_db is not None and config.get("database_url") is None:
        migrated_db(Path(home) / "airflow.db")
        config["migrate"] = False
    return start_connected(dataclasses.replace(base, env=env, **config), sandbox.url, xero_extra)


def sandbox_records(sandbox: SandboxServer, tenant_id: str, resource) -> list[dict]:
    body = sandbox.control("GET", f"/state/{tenant_id}/{resource.path}").json()
    (records,) = [v for k, v in body.items() if k != "count"]
    return records


def warehouse_differences(
    url: str, sandbox: SandboxServer, tenant_id: str, skip: set[str] = frozenset()
) -> list[str]:
    """Every difference between the warehouse and the sandbox's records (empty: equal).
    Resources in ``skip`` (not in the app's tier) must have no rows at all."""
    warehouse = Warehouse(url)
    problems = []
    try:
        for resource in sync_resources():
            if resource.name in skip:
                rows = warehouse.figures(resource, tenant_id)["count"]
                if rows:
                    problems.append(f"{resource.name}: not in the app's tier, yet {rows} rows")
                continue
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


def failure_reports(stack: AirflowStack, runs: dict[str, list[dict]]) -> str:
    """Why each run in ``runs`` (per DAG, as the REST API lists them) that did not succeed
    failed: its failed tasks' last log lines and the scheduler's word on them."""
    return "\n".join(
        stack.failure_report(dag_id, run["dag_run_id"])
        for dag_id, dag_runs in runs.items()
        for run in dag_runs
        if run["state"] != "success"
    )
