"""Inputs as users pass them: an upstream task's XCom list, mapped tasks, DataFrames with
missing values and numpy/Decimal numbers, and a frame read from Xero, edited, written back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
from airflow.sdk import DAG, task

from xero_provider.operators import (
    XeroCreateBillOperator,
    XeroCreateContactOperator,
    XeroUpdateOperator,
)
from xero_provider.operators.inputs import as_rows

X = {"xero_conn_id": "xero_ops"}

# Bills as a DataFrame: an empty date column (all NaT), a half-empty one, None and NaN
# in optional text, numpy and Decimal amounts inside the line items.
BILLS = pd.DataFrame(
    {
        "Contact": [
            {"Name": "PowerDirect"},
            {"Name": "Office Supplies Co"},
            {"Name": "PowerDirect"},
        ],
        "Date": pd.to_datetime(["2026-11-01", None, "2026-11-03"]),
        "DueDate": pd.to_datetime([None, None, None]),
        "Reference": ["frame-1", None, np.nan],
        "InvoiceNumber": ["FRAME-1", "FRAME-2", "FRAME-3"],
        "Status": ["DRAFT", "DRAFT", "AUTHORISED"],
        "LineItems": [
            [
                {
                    "Description": "Power",
                    "Quantity": np.int64(2),
                    "UnitAmount": np.float64(10.5),
                    "AccountCode": "445",
                }
            ],
            [
                {
                    "Description": "Paper",
                    "Quantity": 1,
                    "UnitAmount": Decimal("19.99"),
                    "AccountCode": "429",
                }
            ],
            [
                {
                    "Description": "Power",
                    "Quantity": 1,
                    "UnitAmount": 40,
                    "AccountCode": "445",
                    "TaxType": None,
                }
            ],
        ],
    }
)


class EditedDraftBills(XeroUpdateOperator):
    """Reads the DRAFT bills with ``get_dataframe``, edits a column, writes the frame back."""

    def input_rows(self):
        frame = self.get_hook().get_dataframe("Bills", statuses=["DRAFT"])
        frame["Reference"] = "edited in pandas"
        return as_rows(frame)


with DAG(
    "xero_ops_inputs",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    render_template_as_native_obj=True,
) as dag:

    @task
    def new_contacts(tag: str) -> list[dict]:
        return [{"Name": f"From XCom {tag} {i}"} for i in range(3)]

    XeroCreateContactOperator(
        task_id="contacts_from_xcom", records=new_contacts("{{ dag_run.conf['tag'] }}"), **X
    )
    XeroCreateContactOperator.partial(task_id="contacts_mapped", **X).expand(
        records=[[{"Name": "Mapped A"}, {"Name": "Mapped B"}], [{"Name": "Mapped C"}]]
    )
    bills = XeroCreateBillOperator(task_id="bills_from_frame", records=BILLS, **X)
    bills >> EditedDraftBills(task_id="edited_frame_written_back", resource="Bills", **X)
