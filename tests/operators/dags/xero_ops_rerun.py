"""Writes that a retry, a cleared task or a rerun of the same run must not repeat."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from xero_provider.operators import (
    XeroCreateContactOperator,
    XeroSendInvoiceEmailOperator,
    XeroUpsertContactOperator,
)

with DAG(
    "xero_ops_rerun",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    render_template_as_native_obj=True,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
) as dag:
    create = XeroCreateContactOperator(
        task_id="create_contacts", records="{{ dag_run.conf['contacts'] }}", xero_conn_id="xero_ops"
    )
    upsert = XeroUpsertContactOperator(
        task_id="upsert_contacts", records="{{ dag_run.conf['upsert'] }}", xero_conn_id="xero_ops"
    )
    email = XeroSendInvoiceEmailOperator(
        task_id="email_invoice",
        record_ids="{{ dag_run.conf['invoice_id'] }}",
        xero_conn_id="xero_ops",
    )
    create >> upsert >> email  # the create goes first: the fault test aims at it
