"""Bills, sales invoices, credit notes and their allocation, invoice email."""

from __future__ import annotations

from typing import Any

from xero_provider.operators.generic import (
    XeroAllocateOperator,
    XeroCreateOperator,
    XeroGetOperator,
    XeroSendEmailOperator,
)
from xero_provider.operators.generic import XeroFindOperator as _Find
from xero_provider.operators.validation import (
    BILL_CREATE,
    CREDIT_NOTE_CREATE,
    SALES_INVOICE_CREATE,
)


class _TypedCreate(XeroCreateOperator):
    """Fills in the document ``Type`` a record leaves out."""

    default_type: str = ""

    def prepare(self, row: Any) -> Any:
        row = super().prepare(row)
        if isinstance(row, dict) and row.get("Type") is None:
            row["Type"] = self.default_type
        return row


class XeroCreateBillOperator(_TypedCreate):
    """Create bills (invoices of Type ACCPAY) from one record or many."""

    resource_name = "Bills"
    schema = BILL_CREATE
    default_type = "ACCPAY"


class XeroCreateSalesInvoiceOperator(_TypedCreate):
    """Create sales invoices (Type ACCREC) from one record or many."""

    resource_name = "SalesInvoices"
    schema = SALES_INVOICE_CREATE
    default_type = "ACCREC"


class XeroCreateCreditNoteOperator(_TypedCreate):
    """Create credit notes: supplier (ACCPAYCREDIT) by default, ACCRECCREDIT when given."""

    resource_name = "CreditNotes"
    schema = CREDIT_NOTE_CREATE
    default_type = "ACCPAYCREDIT"


class _FindOrGet(_Find):
    """Find by ID (``record_ids``), number or reference.

    :param record_ids: IDs to read (templated); an ID of another document type is
        refused clearly (a sales invoice given to the bills' operator).
    """

    template_fields = (*_Find.template_fields, "record_ids")

    def __init__(self, *, record_ids: Any = None, **kwargs: Any) -> None:
        self.record_ids = record_ids
        super().__init__(**kwargs)

    def input_rows(self) -> list[Any]:
        rows: list[Any] = []
        if self.record_ids is not None:
            from xero_provider.operators.inputs import ids_as_rows

            rows += ids_as_rows(self.record_ids, self.spec.id_field, name="record_ids")
        if self.numbers is not None or self.references is not None or self.where:
            rows += super().input_rows()
        if not rows:
            raise ValueError("give record_ids, numbers, references or where")
        return rows

    def validate_rows(self, rows: list[Any]) -> list[Any]:
        by_id = [i for i, r in enumerate(rows) if self.spec.id_field in r]
        problems = XeroGetOperator.validate_rows(self, [rows[i] for i in by_id])  # type: ignore[arg-type]
        for problem in problems:
            object.__setattr__(problem, "index", by_id[problem.index])
        others = [i for i in range(len(rows)) if i not in set(by_id)]
        more = super().validate_rows([rows[i] for i in others])
        for problem in more:
            object.__setattr__(problem, "index", others[problem.index])
        return problems + more

    def send(self, hook: Any, todo: list[tuple[int, Any]], key: str | None) -> list[Any]:
        by_id = [(i, r) for i, r in todo if self.spec.id_field in r]
        others = [(i, r) for i, r in todo if self.spec.id_field not in r]
        results = XeroGetOperator.send(self, hook, by_id, key) if by_id else []  # type: ignore[arg-type]
        return results + (super().send(hook, others, key) if others else [])


class XeroFindBillOperator(_FindOrGet):
    """Find bills by ID, bill number (``InvoiceNumber``) or ``Reference``."""

    resource_name = "Bills"


class XeroFindSalesInvoiceOperator(_FindOrGet):
    """Find sales invoices by ID, invoice number or ``Reference``."""

    resource_name = "SalesInvoices"


class XeroUpdateCreditNoteAllocationOperator(XeroAllocateOperator):
    """Allocate credit notes to invoices or bills (amount and date per allocation).

    Each record: ``CreditNoteID``, ``Invoice`` (``InvoiceID`` or ``InvoiceNumber``),
    ``Amount``, ``Date``. Xero refuses more than the remaining credit or the amount due,
    and a credit note that is not AUTHORISED.
    """


class XeroSendInvoiceEmailOperator(XeroSendEmailOperator):
    """Email sales invoices to their contacts (``record_ids``: the InvoiceIDs)."""
