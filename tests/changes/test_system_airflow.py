"""The change sensors and triggers in a real Airflow (api-server, scheduler, dag-processor
and triggerer processes), against the sandbox:

* a deferred watermark sensor survives its triggerer being killed and restarted mid-wait;
* ``airflow backfill create`` over three past hourly intervals gives each run its window;
* an ``AssetWatcher`` with ``XeroChangesEventTrigger`` starts an asset-scheduled DAG run
  carrying the changed IDs.

``dags test`` runs triggers inline, so only this proves the triggerer path.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.changes.airflow_stack import AirflowStack
from tests.changes.helpers import create, sandbox_time
from tests.provider.connections import xero_connection
from xero_provider.hooks import XeroHook

pytestmark = pytest.mark.slow

WATERMARK_DAG = """
import json
from datetime import datetime
from airflow.sdk import DAG, task
from xero_provider.sensors import XeroNewOrUpdatedContactSensor

with DAG("sys_watermark", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    changes = XeroNewOrUpdatedContactSensor(
        task_id="changes", xero_conn_id="{conn_id}", polling="watermark", settle_seconds=1,
        poke_interval=2, deferrable=True, timeout=600)

    @task
    def save(ids):
        with open("{out}/watermark.json", "w") as f:
            json.dump(ids, f)

    save(changes.output["ids"])
"""

BACKFILL_DAG = """
import json
from datetime import datetime
from airflow.sdk import DAG, task, CronDataIntervalTimetable
from xero_provider.sensors import XeroNewOrUpdatedContactSensor

with DAG("sys_backfill", schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
         start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=3) as dag:
    changes = XeroNewOrUpdatedContactSensor(
        task_id="changes", xero_conn_id="{conn_id}", settle_seconds=1, deferrable=True,
        on_empty="succeed")

    @task
    def save(ids, data_interval_start=None):
        with open("{out}/window-" + data_interval_start.strftime("%H") + ".json", "w") as f:
            json.dump(ids, f)

    save(changes.output["ids"])
"""

ASSET_DAG = """
import json
from datetime import datetime
from airflow.sdk import DAG, Asset, AssetWatcher, task
from xero_provider.triggers import XeroChangesEventTrigger

bills = Asset("xero_sys_bills", watchers=[AssetWatcher(
    name="xero_sys_bills_watcher",
    trigger=XeroChangesEventTrigger(resource="Contacts", watermark="sys-contacts",
                                    xero_conn_id="{conn_id}", settle_seconds=1,
                                    poll_interval=2),
)])

with DAG("sys_asset", schedule=[bills], start_date=datetime(2026, 1, 1)) as dag:

    @task
    def save(triggering_asset_events=None):
        ids = []
        for events in triggering_asset_events.values():
            for event in events:
                ids += event.extra["payload"]["ids"]  # the trigger event's payload
        with open("{out}/asset-" + str(len(list(__import__("os").listdir("{out}")))) + ".json",
                  "w") as f:
            json.dump(ids, f)

    save()
"""


@pytest.fixture(scope="module")
def stack(sandbox_server, tmp_path_factory):
    """One stack for the module's tests; its DAGs use one sandbox connection."""
    sandbox_server.reset(demo=True)
    patch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("stack")
    conn_id = xero_connection(sandbox_server, patch, root / "tokens.db", conn_id="xero_sys")
    out, dags = root / "out", root / "dags"
    out.mkdir()
    dags.mkdir()
    for name, source in (
        ("watermark", WATERMARK_DAG),
        ("backfill", BACKFILL_DAG),
        ("asset", ASSET_DAG),
    ):
        text = textwrap.dedent(source).format(conn_id=conn_id, out=out)
        (dags / f"sys_{name}.py").write_text(text)
    env = {f"AIRFLOW_CONN_{conn_id.upper()}": os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]}
    airflow = AirflowStack(root / "home", dags, env)
    try:
        airflow.start()
        for dag_id in ("sys_watermark", "sys_backfill", "sys_asset"):
            airflow.wait(lambda d=dag_id: airflow.dag_parsed(d), 180, f"{dag_id} to be parsed")
        yield airflow, XeroHook(conn_id), out, sandbox_server
    finally:
        airflow.stop()
        patch.undo()
        sandbox_server.reset(demo=True)


def _read(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def test_deferred_sensor_survives_a_killed_triggerer(stack) -> None:
    airflow, hook, out, _sandbox = stack
    airflow.run("dags", "unpause", "sys_watermark", check=True)
    airflow.run("dags", "trigger", "sys_watermark", check=True)
    airflow.wait(
        lambda: "deferred" in airflow.ti_state("sys_watermark", "changes"), 300, "the deferral"
    )
    first = airflow.wait(
        lambda: airflow.sql("SELECT triggerer_id FROM trigger WHERE triggerer_id IS NOT NULL"),
        120,
        "a triggerer to take the trigger",
    )[0][0]
    time.sleep(3)  # it polls, finding nothing
    airflow.kill("triggerer")
    (contact,) = create(hook, "Contacts", [{"Name": "while the triggerer was down"}])
    time.sleep(2)
    airflow.launch("triggerer")
    done = {"success", "failed"}
    airflow.wait(lambda: done & set(airflow.run_states("sys_watermark")), 300, "the run")
    assert airflow.run_states("sys_watermark") == ["success"]
    assert _read(out / "watermark.json") == [contact]  # the change made while it was down
    jobs = airflow.sql("SELECT id FROM job WHERE job_type = 'TriggererJob'")
    assert len(jobs) == 2 and first in {j[0] for j in jobs}  # a second triggerer finished it


def test_backfill_of_three_intervals_gives_each_its_window(stack) -> None:
    airflow, hook, out, sandbox = stack
    first = (datetime.now(UTC) - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    expected = {}
    for hour in range(3):
        start = first + timedelta(hours=hour)
        with sandbox_time(sandbox, start + timedelta(minutes=10)):
            expected[start.strftime("%H")] = create(
                hook, "Contacts", [{"Name": f"backfill {hour} {n}"} for n in range(hour + 1)]
            )
    airflow.run("dags", "unpause", "sys_backfill", check=True)
    for _ in range(5):  # SQLite serialises writers: the CLI may meet a busy database
        result = airflow.run(
            "backfill",
            "create",
            "--dag-id",
            "sys_backfill",
            "--from-date",
            first.isoformat(),
            "--to-date",
            (first + timedelta(hours=2)).isoformat(),
        )
        if "database is locked" not in result.stderr:
            break
        time.sleep(2)
    assert result.returncode == 0, result.stderr[-3000:]

    def three_done() -> bool:
        rows = airflow.sql(
            "SELECT state FROM dag_run WHERE dag_id = 'sys_backfill' AND run_type = 'backfill'"
        )
        return sum(1 for (state,) in rows if state == "success") >= 3

    airflow.wait(three_done, 600, "three backfill runs")
    for hour, ids in expected.items():
        assert sorted(_read(out / f"window-{hour}.json")) == sorted(ids), hour


def test_asset_watcher_starts_a_run_per_batch(stack) -> None:
    airflow, hook, out, _sandbox = stack
    airflow.run("dags", "unpause", "sys_asset", check=True)
    airflow.wait(
        lambda: airflow.sql("SELECT 1 FROM trigger WHERE classpath LIKE '%XeroChangesEvent%'"),
        180,
        "the asset watcher's trigger",
    )
    time.sleep(5)  # its first poll fixes the start position (start_from="now")
    ids = create(hook, "Contacts", [{"Name": "asset 1"}, {"Name": "asset 2"}])
    done = {"success", "failed"}
    airflow.wait(lambda: done & set(airflow.run_states("sys_asset")), 300, "the asset run")
    assert airflow.run_states("sys_asset") == ["success"], airflow.log_tail("scheduler")
    files = sorted(out.glob("asset-*.json"))
    assert len(files) == 1 and sorted(_read(files[0])) == sorted(ids)
    assert len(airflow.run_states("sys_asset")) == 1  # re-run after the event: no replay
