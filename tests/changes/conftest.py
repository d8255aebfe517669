"""Fixtures for the change sensors and triggers: a migrated Airflow metadata database in
the test AIRFLOW_HOME, DAG files written into its dags folder (``dag.test()`` runs DAGs
from files there), and a sandbox connection per test."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.provider.connections import xero_connection

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture
def conn_id(sandbox, monkeypatch, tmp_path) -> str:
    return xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")


DagFactory = Callable[[str], Any]


@pytest.fixture
def make_dag(airflow_db: Path) -> DagFactory:
    """Write ``source`` (a module defining ``dag``) into the dags folder and import it."""
    written: list[Path] = []

    def make(source: str) -> Any:
        name = f"xero_changes_{uuid.uuid4().hex[:10]}"
        path = airflow_db / f"{name}.py"
        path.write_text(textwrap.dedent(source).replace("DAG_ID", name))
        written.append(path)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.dag

    yield make
    for path in written:
        path.unlink(missing_ok=True)


from tests.provider.conftest import postgres_url  # noqa: E402, F401 - shared fixture


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Watermark store tests run on a SQLite file and on PostgreSQL (fails under CI)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tokens.db'}"
    return request.getfixturevalue("postgres_url")
