"""The demo's real Airflow (``xero_demo.stack``: api-server, scheduler, dag-processor and
triggerer as separate process groups, SQLite in the test's directory, 127.0.0.1 on free
ports), tuned for the change-feed system tests: fast heartbeats so a killed triggerer is
noticed within seconds, and SQL helpers that read the metadata database directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from xero_demo import stack

# Heartbeats and the DAG folder listing short enough for a test to wait on (a DAG file the
# test writes is parsed as soon as the listing sees it new or changed).
FAST = {
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "6",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    # a loaded machine answers the Execution API slowly: tasks wait instead of failing
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
    "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
}


class AirflowStack(stack.AirflowStack):
    """Start with :meth:`start`; :meth:`stop` always; ``kill("triggerer")`` to crash one."""

    def __init__(self, home: Path, dags: Path, env: dict[str, str], migrate: bool = True) -> None:
        config = stack.StackConfig(
            home=home,
            dags_folder=dags,
            parallelism=4,
            env={**env, **FAST},
            migrate=migrate,
            **stack.TEST_PACE,
        )
        super().__init__(config)
        self.dags = dags
        self._engine: sa.Engine | None = None

    @property
    def port(self) -> int:
        return self.api_port

    @property
    def db_url(self) -> str:
        return self.database_url

    def stop(self, timeout: float = 30) -> None:
        try:
            super().stop(timeout)
        finally:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # --- the metadata database, read directly ------------------------------------------

    def sql(self, query: str, **params: Any) -> list[Any]:
        if self._engine is None:
            self._engine = sa.create_engine(self.database_url)
        with self._engine.connect() as conn:
            return list(conn.execute(sa.text(query), params))

    def dag_parsed(self, dag_id: str) -> bool:
        return bool(self.sql("SELECT 1 FROM dag WHERE dag_id = :d", d=dag_id))

    def ti_state(self, dag_id: str, task_id: str) -> list[str]:
        rows = self.sql(
            "SELECT state FROM task_instance WHERE dag_id = :d AND task_id = :t",
            d=dag_id,
            t=task_id,
        )
        return [r[0] for r in rows]

    def run_states(self, dag_id: str) -> list[str]:
        return [r[0] for r in self.sql("SELECT state FROM dag_run WHERE dag_id = :d", d=dag_id)]
