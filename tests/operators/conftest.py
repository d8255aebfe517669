"""Operators through real Airflow: ``dag.test()`` on the DAG files in ``tests/operators/dags``
against the sandbox over HTTP, with a migrated SQLite metadata database.

The DAG files use the connection ``xero_ops``; the ``xero_ops`` fixture points it at the
sandbox with its own token store. Each DAG run reads its inputs from ``dag_run.conf``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.provider.connections import xero_connection

DAGS = Path(__file__).parent / "dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
CONN_ID = "xero_ops"


@pytest.fixture
def xero_ops(sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, airflow_db: None):
    """The sandbox with limits off (speed), and the ``xero_ops`` connection to it."""
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS))
    # Airflow reads the DAGs folder into ``settings`` once, when first imported: another
    # test module may have imported it first, so point the bundle's path here as well.
    from airflow import settings

    monkeypatch.setattr(settings, "DAGS_FOLDER", str(DAGS))
    sandbox.control("PUT", "/limits", json={"enabled": False})
    xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db", conn_id=CONN_ID, max_retries=2)
    return sandbox


def load_dag(dag_id: str) -> Any:
    """The DAG object from its file in the test DAGs folder."""
    import importlib.util

    path = DAGS / f"{dag_id}.py"
    spec = importlib.util.spec_from_file_location(f"xero_ops_dag_{dag_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


class Run:
    """One finished DAG run: task states, XComs, and the task exceptions' text."""

    def __init__(self, dag_run: Any) -> None:
        self.dag_run = dag_run
        self.tis = {ti.task_id: ti for ti in dag_run.get_task_instances()}

    def state(self, task_id: str) -> str:
        return str(self.tis[task_id].state)

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = (
                session.query(XComModel)
                .filter_by(
                    dag_id=self.dag_run.dag_id,
                    run_id=self.dag_run.run_id,
                    task_id=task_id,
                    key=key,
                )
                .one_or_none()
            )
            return None if row is None else XComModel.deserialize_value(row)


RunDag = Callable[..., Run]


@pytest.fixture
def run_dag(xero_ops: Any) -> RunDag:
    """``run_dag(dag_id, conf, logical_date=None)``: ``dag.test()`` and the finished run.

    The same ``logical_date`` twice is the same run again (Airflow clears its tasks), the
    way a user clears a finished run in the UI.
    """

    def run(dag_id: str, conf: dict[str, Any] | None = None, logical_date: datetime | None = None):
        dag = load_dag(dag_id)
        when = logical_date or datetime.now(UTC)
        dag_run = dag.test(logical_date=when, run_after=when, run_conf=conf or {})
        return Run(dag_run)

    return run


def count(sandbox: Any, resource: str) -> int:
    return sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/{resource}").json()["count"]


def records(sandbox: Any, resource: str) -> list[dict[str, Any]]:
    return sandbox.control("GET", f"/state/{sandbox.demo.tenant_id}/{resource}").json()[resource]
