"""The demo's settings file gives the example DAGs their organisations: importing its
connections writes the directory, and the DAG files build one set of DAGs per connection
(with the demo's ``dag_key``s), none for an organisation whose connection is gone."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.system.conftest import AIRFLOW, REPO
from xero_demo.settings import load


def dag_ids(env: dict[str, str]) -> set[str]:
    listed = subprocess.run(
        [AIRFLOW, "dags", "list", "--local", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr[-3000:]
    lines = [line for line in listed.stdout.splitlines() if line.startswith("[")]
    return {d["dag_id"] for d in json.loads(lines[-1])}


def test_the_settings_connections_are_the_dags_organisations(airflow_env) -> None:
    env = {k: v for k, v in airflow_env.items() if not k.startswith("AIRFLOW_CONN_XERO")}
    env.pop("XERO_ORGANISATIONS_FILE", None)
    counts = load(REPO / "airflow_settings.yaml", airflow=AIRFLOW, env=env)
    assert counts["connections"] == 2 and counts["pools"] == 0
    found = dag_ids(env)
    for key in ("demo", "starter"):
        assert f"xero_warehouse_sync_{key}" in found
        assert f"xero_bill_approval_{key}" in found
    listed = subprocess.run(
        [sys.executable, "-m", "xero_provider.connect", "organisations"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "xero_default" in listed.stdout and "added none, removed none" in listed.stdout

    gone = subprocess.run([AIRFLOW, "connections", "delete", "xero_starter"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert gone.returncode == 0, gone.stderr
    found = dag_ids(env)
    assert "xero_warehouse_sync_demo" in found
    assert not any(d.endswith("_starter") for d in found)


def batch(env: dict[str, str], commands: object, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "xero_demo.airflow_batch", json.dumps(commands)],
        env=env, input=stdin, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_batch_runs_its_commands_in_order_and_stops_at_the_first_failure(airflow_env) -> None:
    """xero_demo.airflow_batch: what bringing a stack up runs in one interpreter instead of
    one ``airflow`` process each (``settings.load_then``)."""
    env = airflow_env
    done = batch(env, [["variables", "set", "xero_batch_a", "one"],
                       ["variables", "get", "xero_batch_a"]])  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "one"
    # a failing command (a variable that is not there) ends the batch with its status:
    # the command after it never runs
    failed = batch(env, [["variables", "get", "xero_batch_missing"],
                         ["variables", "set", "xero_batch_b", "two"]])  # fmt: skip
    assert failed.returncode == 1 and "variables get ... exited with 1" in failed.stderr
    after = batch(env, [["variables", "get", "xero_batch_b"]])
    assert after.returncode == 1
    # the provider's CLI runs in the same interpreter and reads the batch's stdin
    empty = batch(env, [["xero", "bootstrap", "--conn-id", "xero_default"]], stdin="\n")
    assert empty.returncode == 1 and "no refresh token given" in empty.stderr
    # anything but a list of argument lists is refused before Airflow is imported
    for wrong in ({"variables": "list"}, [[]], [["variables", 1]], "variables list"):
        refused = batch(env, wrong)
        assert refused.returncode == 2 and "expected a JSON list" in refused.stderr, wrong
    for text in ("", "[[", "not json"):
        refused = subprocess.run(
            [sys.executable, "-m", "xero_demo.airflow_batch", text],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert refused.returncode == 2 and "expected a JSON list" in refused.stderr, text
