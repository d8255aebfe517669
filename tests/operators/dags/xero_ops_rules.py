"""One task per Xero rule an operator can hit; each is expected to fail, naming the record."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from xero_provider.operators import (
    XeroAddHistoryNoteOperator,
    XeroCreateBankTransactionOperator,
    XeroCreateBankTransferOperator,
    XeroCreateBillOperator,
    XeroCreateContactOperator,
    XeroCreateCreditNoteOperator,
    XeroCreatePaymentOperator,
    XeroCreatePurchaseOrderOperator,
    XeroCreateQuoteOperator,
    XeroCreateSalesInvoiceOperator,
    XeroDeletePaymentOperator,
    XeroFindBillOperator,
    XeroFindSalesInvoiceOperator,
    XeroGetContactOperator,
    XeroSendInvoiceEmailOperator,
    XeroUpdateContactOperator,
    XeroUpdateCreditNoteAllocationOperator,
    XeroUpdateQuoteOperator,
    XeroUpsertContactOperator,
)

X = {"xero_conn_id": "xero_ops"}
UNKNOWN = "{{ dag_run.conf['unknown_id'] }}"
LINES = [{"Description": "Thing", "Quantity": 1, "UnitAmount": 10, "AccountCode": "429"}]
BAD_LINES = [{"Description": "Thing", "Quantity": 1, "UnitAmount": 10, "AccountCode": "999"}]

with DAG(
    "xero_ops_rules",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    render_template_as_native_obj=True,
) as dag:
    XeroCreateBillOperator(
        task_id="bill_missing_contact",
        records={"Contact": {"ContactID": UNKNOWN}, "Status": "AUTHORISED", "LineItems": LINES},
        **X,
    )
    XeroCreateSalesInvoiceOperator(
        task_id="invoice_unknown_account",
        records={
            "Contact": {"Name": "Bayside Club"},
            "Status": "AUTHORISED",
            "Date": "2026-11-01",
            "DueDate": "2026-11-20",
            "LineItems": BAD_LINES,
        },
        **X,
    )
    XeroCreateCreditNoteOperator(
        task_id="credit_note_unknown_account",
        records={
            "Contact": {"Name": "PowerDirect"},
            "Status": "AUTHORISED",
            "LineItems": BAD_LINES,
        },
        **X,
    )
    XeroCreateContactOperator(task_id="contact_name_taken", records={"Name": "Bayside Club"}, **X)
    XeroUpdateContactOperator(
        task_id="update_unknown_contact", records={"ContactID": UNKNOWN, "FirstName": "X"}, **X
    )
    XeroGetContactOperator(task_id="get_unknown_contact", record_ids=UNKNOWN, **X)
    XeroUpsertContactOperator(
        task_id="upsert_same_contact_twice",
        records=[
            {"Name": "Twice A", "ContactNumber": "TWICE-1"},
            {"Name": "Twice B", "ContactNumber": "TWICE-1"},
        ],
        **X,
    )
    XeroFindBillOperator(
        task_id="find_bill_given_sales_invoice",
        record_ids="{{ dag_run.conf['sales_invoice_id'] }}",
        **X,
    )
    XeroFindSalesInvoiceOperator(task_id="find_unknown_number", numbers="NO-SUCH-NUMBER", **X)
    XeroUpdateQuoteOperator(
        task_id="quote_not_draft",
        records={"QuoteID": "{{ dag_run.conf['sent_quote_id'] }}", "Title": "New title"},
        **X,
    )
    XeroCreateQuoteOperator(
        task_id="quote_without_date",
        records={"Contact": {"ContactID": UNKNOWN}, "LineItems": LINES},
        **X,
    )
    XeroCreatePurchaseOrderOperator(
        task_id="purchase_order_unknown_contact",
        records={"Contact": {"ContactID": UNKNOWN}, "LineItems": LINES},
        **X,
    )
    XeroCreatePaymentOperator(
        task_id="payment_above_amount_due",
        records={
            "Invoice": {"InvoiceID": "{{ dag_run.conf['authorised_invoice_id'] }}"},
            "Account": {"Code": "090"},
            "Date": "2026-11-05",
            "Amount": 5000,
        },
        **X,
    )
    first = XeroDeletePaymentOperator(
        task_id="delete_payment", record_ids="{{ dag_run.conf['payment_id'] }}", **X
    )
    again = XeroDeletePaymentOperator(
        task_id="delete_deleted_payment", record_ids="{{ dag_run.conf['payment_id'] }}", **X
    )
    first >> again
    XeroSendInvoiceEmailOperator(
        task_id="email_contact_without_email",
        record_ids="{{ dag_run.conf['no_email_invoice_id'] }}",
        **X,
    )
    XeroSendInvoiceEmailOperator(
        task_id="email_draft_invoice", record_ids="{{ dag_run.conf['draft_invoice_id'] }}", **X
    )
    XeroUpdateCreditNoteAllocationOperator(
        task_id="over_allocation",
        records={
            "CreditNoteID": "{{ dag_run.conf['credit_note_id'] }}",
            "Invoice": {"InvoiceID": "{{ dag_run.conf['bill_id'] }}"},
            "Amount": 60,
            "Date": "2026-11-05",
        },
        **X,
    )
    XeroCreateBankTransactionOperator(
        task_id="bank_transaction_unknown_bank_account",
        records={
            "Type": "SPEND",
            "Contact": {"Name": "PowerDirect"},
            "BankAccount": {"Code": "999"},
            "LineItems": LINES,
        },
        **X,
    )
    XeroCreateBankTransferOperator(
        task_id="bank_transfer_to_itself",
        records={"FromBankAccount": {"Code": "090"}, "ToBankAccount": {"Code": "090"}, "Amount": 5},
        **X,
    )
    XeroCreateBankTransferOperator(
        task_id="bank_transfer_unknown_account",
        records={"FromBankAccount": {"Code": "999"}, "ToBankAccount": {"Code": "090"}, "Amount": 5},
        **X,
    )
    XeroAddHistoryNoteOperator(
        task_id="note_on_unknown_record",
        resource="Invoices",
        record_ids=UNKNOWN,
        note="hello",
        **X,
    )
