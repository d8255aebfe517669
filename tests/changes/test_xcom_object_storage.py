"""Large sensor outputs go to object storage through Airflow's own XCom backend (the
common.io provider): checked on this Airflow (3.3) with ``airflow dags test`` in a
subprocess, so the backend setting applies from the start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.changes.helpers import sandbox_time

AIRFLOW = str(Path(sys.executable).with_name("airflow"))

SOURCE = """
import json
from datetime import datetime
from airflow.sdk import DAG, task, CronDataIntervalTimetable
from xero_provider.sensors import XeroNewOrUpdatedContactSensor

with DAG("xero_xcom_storage", schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
         start_date=datetime(2026, 1, 1), catchup=False) as dag:
    changes = XeroNewOrUpdatedContactSensor(task_id="changes", xero_conn_id="{conn_id}",
                                            settle_seconds=1)

    @task
    def count(records):
        with open("{out}", "w") as f:
            json.dump(len(records), f)

    count(changes.output)
"""


@pytest.mark.slow
def test_large_outputs_go_to_object_storage(sandbox, conn_id, tmp_path, migrated_db) -> None:
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    with sandbox_time(sandbox, start + timedelta(minutes=5), frozen=False):
        body = {"tenant_id": sandbox.demo.tenant_id, "resource": "Contacts", "count": 300}
        sandbox.control("POST", "/generate", json=body)
    home, dags, store = tmp_path / "home", tmp_path / "dags", tmp_path / "xcom"
    dags.mkdir()
    out = tmp_path / "count.json"
    (dags / "xcom_storage.py").write_text(SOURCE.format(conn_id=conn_id, out=out))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__XCOM_BACKEND": (
            "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"
        ),
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": f"file://{store}",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "2048",
    }
    run = lambda *args: subprocess.run(  # noqa: E731
        [AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=300
    )
    migrated_db(home / "airflow.db")
    result = run("dags", "test", "xero_xcom_storage", (start + timedelta(hours=1)).isoformat())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads(out.read_text()) == 300
    stored = [p for p in store.rglob("*") if p.is_file()]
    assert stored, "the records did not go to object storage"
    assert any(len(json.loads(p.read_text())) == 300 for p in stored if p.suffix in ("", ".json"))
