"""One migrated Airflow metadata database (SQLite) per test run, copied where a test needs
one: ``airflow db migrate`` costs 10-30 s of CPU each time, a copy a few milliseconds.

Under pytest-xdist the workers share the run's temporary root, and the first to ask
migrates while the others wait on a file lock; then every one copies the same file.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def _run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory all of this run's workers share (the basetemp's parent under xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's migrated SQLite file, made on first use (once for all workers)."""
    root = _run_root(tmp_path_factory) / "airflow-migrated"
    root.mkdir(exist_ok=True)
    database, done = root / "airflow.db", root / "migrated"
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            env = {
                **os.environ,
                "AIRFLOW_HOME": str(root / "home"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{database}",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            }
            result = subprocess.run(
                [AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
            done.touch()
    return database


def install_migrated(template: Path, database: Path) -> Path:
    """Copy the migrated database to ``database``, replacing one left by an earlier run."""
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, database)
    return database
