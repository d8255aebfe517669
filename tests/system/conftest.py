"""Real Airflow for system tests: a migrated metadata database in a scratch AIRFLOW_HOME,
and the ``airflow`` CLI run as a subprocess against it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="session")
def airflow_env(
    tmp_path_factory: pytest.TempPathFactory, migrated_db: Callable[[Path], Path]
) -> dict[str, str]:
    """Environment for the ``airflow`` CLI: SQLite metadata DB, our dags folder, no examples."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
    migrated_db(home / "airflow.db")
    return env


@pytest.fixture
def run_airflow(airflow_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``airflow <args>`` with extra environment; returns the completed process."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
        return subprocess.run(
            [AIRFLOW, *args],
            env={**airflow_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


# --- a whole Airflow stack (api-server, scheduler, dag-processor, triggerer[, workers]) ---


def require_service(name: str, error: Exception) -> None:
    """Skip when a local service is missing, but fail in CI, where it must be there."""
    if os.environ.get("CI") == "true":
        raise AssertionError(f"{name} is required in CI: {error}") from error
    pytest.skip(f"{name} not reachable: {error}")
