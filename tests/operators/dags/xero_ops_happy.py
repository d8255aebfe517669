"""Every operator's happy path in one run, each feeding the next through XCom."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, chain

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
    XeroDeleteOperator,
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
CONTACT = {"ContactID": "{{ ti.xcom_pull(task_ids='create_contact')[0] }}"}
SUPPLIER = {"ContactID": "{{ ti.xcom_pull(task_ids='create_contact')[1] }}"}


def line(description: str, amount: float, account: str) -> dict:
    return {"Description": description, "Quantity": 1, "UnitAmount": amount, "AccountCode": account}


with DAG(
    "xero_ops_happy",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    render_template_as_native_obj=True,
) as dag:
    create_contact = XeroCreateContactOperator(
        task_id="create_contact", records="{{ dag_run.conf['contacts'] }}", **X
    )
    update_contact = XeroUpdateContactOperator(
        task_id="update_contact", records={**CONTACT, "FirstName": "Updated"}, **X
    )
    get_contact = XeroGetContactOperator(
        task_id="get_contact", record_ids="{{ ti.xcom_pull(task_ids='create_contact') }}", **X
    )
    upsert_contact = XeroUpsertContactOperator(
        task_id="upsert_contact", records="{{ dag_run.conf['upsert'] }}", **X
    )
    create_invoice = XeroCreateSalesInvoiceOperator(
        task_id="create_invoice",
        records={
            "Contact": CONTACT,
            "Status": "AUTHORISED",
            "Date": "2026-11-01",
            "DueDate": "2026-12-01",
            "InvoiceNumber": "{{ dag_run.conf['invoice_number'] }}",
            "Reference": "{{ dag_run.conf['reference'] }}",
            "LineItems": [line("Consulting", 300, "200")],
        },
        **X,
    )
    find_invoice = XeroFindSalesInvoiceOperator(
        task_id="find_invoice",
        numbers="{{ dag_run.conf['invoice_number'] }}",
        references="{{ dag_run.conf['reference'] }}",
        **X,
    )
    email_invoice = XeroSendInvoiceEmailOperator(
        task_id="email_invoice", record_ids="{{ ti.xcom_pull(task_ids='create_invoice') }}", **X
    )
    pay_invoice = XeroCreatePaymentOperator(
        task_id="pay_invoice",
        records={
            "Invoice": {"InvoiceID": "{{ ti.xcom_pull(task_ids='create_invoice')[0] }}"},
            "Account": {"Code": "090"},
            "Date": "2026-11-05",
            "Amount": 100,
            "Reference": "deposit",
        },
        **X,
    )
    delete_payment = XeroDeletePaymentOperator(
        task_id="delete_payment", record_ids="{{ ti.xcom_pull(task_ids='pay_invoice') }}", **X
    )
    create_bill = XeroCreateBillOperator(
        task_id="create_bill",
        records={
            "Contact": SUPPLIER,
            "Status": "AUTHORISED",
            "Date": "2026-11-01",
            "DueDate": "2026-11-30",
            "InvoiceNumber": "{{ dag_run.conf['bill_number'] }}",
            "LineItems": [line("Paper", 300, "429")],
        },
        **X,
    )
    find_bill = XeroFindBillOperator(
        task_id="find_bill",
        record_ids="{{ ti.xcom_pull(task_ids='create_bill') }}",
        numbers="{{ dag_run.conf['bill_number'] }}",
        **X,
    )
    create_credit_note = XeroCreateCreditNoteOperator(
        task_id="create_credit_note",
        records={
            "Contact": SUPPLIER,
            "Status": "AUTHORISED",
            "Date": "2026-11-02",
            "LineItems": [line("Returned paper", 50, "429")],
        },
        **X,
    )
    allocate = XeroUpdateCreditNoteAllocationOperator(
        task_id="allocate_credit_note",
        records={
            "CreditNoteID": "{{ ti.xcom_pull(task_ids='create_credit_note')[0] }}",
            "Invoice": {"InvoiceID": "{{ ti.xcom_pull(task_ids='create_bill')[0] }}"},
            "Amount": 20,
            "Date": "2026-11-03",
        },
        **X,
    )
    pay_bill = XeroCreatePaymentOperator(
        task_id="pay_bill",
        records={
            "Invoice": {"InvoiceID": "{{ ti.xcom_pull(task_ids='create_bill')[0] }}"},
            "Account": {"Code": "090"},
            "Date": "2026-11-06",
            "Amount": 10,
            "Reference": "bill part",
        },
        **X,
    )
    bank_transactions = XeroCreateBankTransactionOperator(
        task_id="create_bank_transactions",
        records=[
            {
                "Type": kind,
                "Contact": CONTACT,
                "BankAccount": {"Code": "090"},
                "Date": "2026-11-04",
                "LineItems": [
                    line(kind, 10, "200" if kind.startswith("RECEIVE") else "429")
                    if not kind.endswith("OVERPAYMENT")
                    else {"Description": kind, "LineAmount": 10}
                ],
            }
            for kind in (
                "RECEIVE",
                "SPEND",
                "RECEIVE-PREPAYMENT",
                "SPEND-PREPAYMENT",
                "RECEIVE-OVERPAYMENT",
                "SPEND-OVERPAYMENT",
            )
        ],
        **X,
    )
    bank_transfer = XeroCreateBankTransferOperator(
        task_id="create_bank_transfer",
        records={
            "FromBankAccount": {"Code": "090"},
            "ToBankAccount": {"Code": "091"},
            "Amount": 25,
            "Date": "2026-11-04",
        },
        **X,
    )
    create_quote = XeroCreateQuoteOperator(
        task_id="create_quote",
        records={
            "Contact": CONTACT,
            "Date": "2026-11-01",
            "ExpiryDate": "2026-12-01",
            "Title": "Proposal",
            "LineItems": [line("Workshop", 500, "200")],
        },
        **X,
    )
    update_quote = XeroUpdateQuoteOperator(
        task_id="update_quote",
        records={
            "QuoteID": "{{ ti.xcom_pull(task_ids='create_quote')[0] }}",
            "Title": "Proposal v2",
        },
        **X,
    )
    purchase_order = XeroCreatePurchaseOrderOperator(
        task_id="create_purchase_order",
        records={
            "Contact": SUPPLIER,
            "Date": "2026-11-01",
            "DeliveryDate": "2026-11-10",
            "LineItems": [line("Toner", 80, "429")],
        },
        **X,
    )
    add_note = XeroAddHistoryNoteOperator(
        task_id="add_note",
        resource="Invoices",
        record_ids="{{ ti.xcom_pull(task_ids='create_invoice') }}",
        note="Chased by phone",
        **X,
    )

    XeroDeleteOperator(
        task_id="delete_draft_invoice",
        resource="SalesInvoices",
        record_ids="{{ dag_run.conf['draft_invoice_id'] }}",
        **X,
    )

    chain(create_contact, update_contact, get_contact, upsert_contact)
    chain(upsert_contact, create_invoice, [find_invoice, email_invoice, add_note])
    chain(email_invoice, pay_invoice, delete_payment)
    chain(upsert_contact, create_bill, find_bill)
    chain(create_bill, create_credit_note, allocate, pay_bill)
    chain(upsert_contact, [bank_transactions, bank_transfer, purchase_order])
    chain(upsert_contact, create_quote, update_quote)
