"""One XeroUpsertContactOperator task with a retry, (test_exactly_once_ops)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from xero_provider.operators import XeroUpsertContactOperator

with DAG(
    "xero_ops_once_upsert",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    render_template_as_native_obj=True,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
) as dag:
    XeroUpsertContactOperator(
        task_id="write",
        records="{{ dag_run.conf['contacts'] }}",
        on_error="fail",
        xero_conn_id="xero_ops",
    )
