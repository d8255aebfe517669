"""History notes, one mapped task per (resource, record) given in dag_run.conf."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, get_current_context, task

from xero_provider.operators import XeroAddHistoryNoteOperator

with DAG("xero_ops_history", schedule=None, start_date=datetime(2026, 1, 1)) as dag:

    @task
    def targets() -> list[dict]:
        conf = get_current_context()["dag_run"].conf
        return [
            {"resource": name, "record_ids": [record_id], "note": f"Checked by the {name} DAG"}
            for name, record_id in sorted(conf.items())
        ]

    XeroAddHistoryNoteOperator.partial(task_id="note", xero_conn_id="xero_ops").expand_kwargs(
        targets()
    )
