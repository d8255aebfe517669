"""A history note on a record of every resource the table says has history."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from xero_provider.operators import XeroAddHistoryNoteOperator
from xero_provider.resources import RESOURCES

WITH_HISTORY = sorted(r.name for r in RESOURCES.values() if r.history)

with DAG(
    "xero_ops_history",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    render_template_as_native_obj=True,
) as dag:
    for name in WITH_HISTORY:
        XeroAddHistoryNoteOperator(
            task_id=f"note_{name}",
            resource=name,
            record_ids=f"{{{{ dag_run.conf['{name}'] }}}}",
            note=f"Checked by the {name} DAG",
            xero_conn_id="xero_ops",
        )
