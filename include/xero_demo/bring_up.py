"""From an empty ``AIRFLOW_HOME`` to the example DAGs ready against the sandbox, in one place.

``make demo``, the soak and the system tests all need the same steps: start the stack, load
``airflow_settings.yaml`` (connections, pools, variables pointing at the sandbox),
authorise the demo organisations' connections, wait for every example DAG to be parsed.
The Celery variants add the same executor settings and the shared token store.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from xero_demo.sandbox_grant import bootstrap_command, grant
from xero_demo.settings import load_then
from xero_demo.stack import AirflowStack, StackConfig, airflow_executable

REPO = Path(__file__).resolve().parents[2]


_DAG_IDS: dict[str, list[str]] = {}
LIST_DAGS = ["dags", "list", "--local", "--output", "json"]


def expected_dag_ids(stack: AirflowStack) -> list[str]:
    """The DAG ids the files in ``dags/`` define (parsed here, to wait for all of them).

    Listed once per stack (:func:`connect` lists them while it loads the settings):
    ``airflow dags list --local`` parses every DAG file in a new interpreter, seconds of
    CPU each time.
    """
    if stack.stack_id not in _DAG_IDS:
        _DAG_IDS[stack.stack_id] = dag_ids_in(stack.cli(*LIST_DAGS))
    return list(_DAG_IDS[stack.stack_id])


def dag_ids_in(output: str) -> list[str]:
    """The DAG ids in ``airflow dags list --output json``'s output (other lines skipped)."""
    lines = [line for line in output.splitlines() if line.startswith("[")]  # skip log lines
    if not lines:
        raise RuntimeError(f"`airflow dags list` printed no DAG list: {output[-2000:]}")
    return sorted(d["dag_id"] for d in json.loads(lines[-1]))


def warehouse_connection(url: str) -> str:
    """``AIRFLOW_CONN_XERO_WAREHOUSE`` for a PostgreSQL warehouse at ``url``."""
    import sqlalchemy as sa

    target = sa.make_url(url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": target.host,
            "port": target.port,
            "login": target.username,
            "schema": target.database,
        }
    )


def on_celery(
    config: StackConfig,
    *,
    metadata_url: str,
    broker: str,
    prefix: str,
    workers: int,
    concurrency: int,
    warehouse_url: str | None = None,
    store_url: str | None = None,
    env: dict[str, str] | None = None,
) -> StackConfig:
    """``config`` on CeleryExecutor: PostgreSQL for Airflow and for the provider's token
    store (``store_url``, else the metadata database: one store every worker shares),
    Redis under ``prefix``, ``workers`` x ``concurrency`` task slots; the warehouse
    connection when ``warehouse_url`` is given; ``env`` on top."""
    extra = {"XERO_TOKEN_STORE": store_url or metadata_url, **(env or {})}
    if warehouse_url is not None:
        extra["AIRFLOW_CONN_XERO_WAREHOUSE"] = warehouse_connection(warehouse_url)
    return dataclasses.replace(
        config,
        executor="CeleryExecutor",
        database_url=metadata_url,
        broker_url=broker,
        broker_prefix=prefix,
        celery_workers=workers,
        worker_concurrency=concurrency,
        parallelism=workers * concurrency,
        env={**config.env, **extra},
    )


def connect(
    stack: AirflowStack, sandbox_url: str, xero_extra: dict[str, Any] | None = None
) -> tuple[dict[str, int], list[str]]:
    """Load the settings, authorise the demo connections, wait for the example DAGs.

    :param xero_extra: added to every Xero connection's extra (``{"app_tier": ...}``).
    :return: what was loaded (counts per kind) and the example DAG ids.
    """
    # one interpreter loads the settings, stores the demo grant's refresh token (read on
    # stdin) and lists the DAGs: an ``airflow`` process each cost seconds of CPU
    counts, output = load_then(
        REPO / "airflow_settings.yaml",
        sandbox_url=sandbox_url,
        airflow=airflow_executable(),
        env=stack.env,
        xero_extra=xero_extra,
        then=[["xero", *bootstrap_command()], LIST_DAGS],
        stdin=grant(sandbox_url) + "\n",
    )
    dag_ids = _DAG_IDS[stack.stack_id] = dag_ids_in(output)
    stack.wait_for_dags(dag_ids)
    return counts, list(dag_ids)


def start_connected(
    config: StackConfig, sandbox_url: str, xero_extra: dict[str, Any] | None = None
) -> AirflowStack:
    """A started stack with :func:`connect` done; stopped again if any step fails."""
    stack = AirflowStack(config).start()
    try:
        connect(stack, sandbox_url, xero_extra)
    except BaseException:
        stack.stop()
        raise
    return stack
