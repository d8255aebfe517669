"""The contact upsert on its own, carrying on past rejected records."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from xero_provider.operators import XeroUpsertContactOperator

with DAG(
    "xero_ops_upsert",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    render_template_as_native_obj=True,
) as dag:
    XeroUpsertContactOperator(
        task_id="upsert",
        records="{{ dag_run.conf['records'] }}",
        on_error="continue",
        xero_conn_id="xero_ops",
    )
