"""500-record batches under both on_error modes (inputs from dag_run.conf)."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from xero_provider.operators import XeroCreateContactOperator

with DAG(
    "xero_ops_batch",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    render_template_as_native_obj=True,
) as dag:
    for mode, key in (("fail", "fail"), ("continue", "continue"), ("fail", "xero_fail")):
        XeroCreateContactOperator(
            task_id=f"contacts_{key}",
            records=f"{{{{ dag_run.conf['{key}'] }}}}",
            on_error=mode,
            push_records=key != "xero_fail",  # IDs, rejections and links only
            xero_conn_id="xero_ops",
        )
