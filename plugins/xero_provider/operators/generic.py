"""The generic operators, driven by the resource table: create, update, get, find, delete
or void, send email, history note, allocate. The named operators are these with a
resource and a schema filled in."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from xero_provider.exceptions import RecordProblem, RecordResult, XeroNotFoundError
from xero_provider.formats import is_guid
from xero_provider.hooks.xero import XeroHook
from xero_provider.operators.base import (
    XeroActionOperator,
    XeroBaseOperator,
    XeroBatchWriteOperator,
)
from xero_provider.operators.inputs import as_rows, ids_as_rows
from xero_provider.operators.validation import (
    ALLOCATION,
    INVOICE_EMAIL,
    Field,
    Schema,
    allocation_problems,
    editable_status_problems,
    guid,
    history_note,
    id_update,
)

FIND_CHUNK = 25  # values ORed into one where filter


class XeroCreateOperator(XeroBatchWriteOperator):
    """Create records of any resource in the table (``resource="Items"``...).

    :param resource: the resource table's name for what to create.
    """


class XeroUpdateOperator(XeroBatchWriteOperator):
    """Update records named by ID (or number) of any resource in the table.

    When the resource has editable statuses (quotes: DRAFT only), each record's current
    status is read first and a record Xero would not let change is refused before any write.
    """

    update = True

    def row_schema(self) -> Schema | None:
        return self.schema or id_update(self.spec.id_field, self.spec.number_field)

    def check_with_xero(self, hook: XeroHook, rows: list[Any]) -> list[RecordProblem]:
        spec = self.spec
        if not spec.editable_statuses or not spec.status_field:
            return []
        current: dict[str, Any] = {}
        self._current = current
        for row in rows:
            record_id = row.get(spec.id_field) if isinstance(row, Mapping) else None
            if record_id and str(record_id).lower() not in current:
                try:
                    current[str(record_id).lower()] = hook.get(spec, record_id)
                except XeroNotFoundError:
                    continue  # Xero will say so, naming the record
        return editable_status_problems(
            rows,
            current,
            id_field=spec.id_field,
            status_field=spec.status_field,
            editable=spec.editable_statuses,
            kind=spec.name.rstrip("s").lower(),
        )


class _IdsInputMixin:
    """Operators that take ``record_ids`` as well as (or instead of) ``records``."""

    record_ids: Any
    records: Any
    id_field_name: ClassVar[str | None] = None

    def _id_field(self) -> str:
        return self.id_field_name or self.spec.id_field  # type: ignore[attr-defined]

    def input_rows(self) -> list[Any]:
        rows: list[Any] = []
        if self.records is not None:
            rows.extend(as_rows(self.records))
        if self.record_ids is not None:
            rows.extend(ids_as_rows(self.record_ids, self._id_field(), name="record_ids"))
        if not rows:
            raise ValueError("give records or record_ids")
        return rows


class XeroGetOperator(_IdsInputMixin, XeroBaseOperator):
    """Read records by ID (a GUID) or, where the resource has one, by number.

    A typed resource refuses a record of another type clearly (a sales invoice's ID given
    to the bills' operator). An ID Xero does not know is a rejected record.

    :param record_ids: one ID or a list (templated); numbers are searched, not put in a URL.
    """

    template_fields: Sequence[str] = (*XeroBaseOperator.template_fields, "record_ids")
    refetch_results = False
    writes = False

    def __init__(self, *, record_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record_ids = record_ids

    def validate_rows(self, rows: list[Any]) -> list[RecordProblem]:
        spec = self.spec
        problems = []
        for index, row in enumerate(rows):
            value = row.get(spec.id_field) if isinstance(row, Mapping) else None
            if value is None and spec.number_field and isinstance(row, Mapping):
                value = row.get(spec.number_field)
            if not isinstance(value, str) or not value.strip():
                problems.append(
                    RecordProblem(f"needs an ID, got {value!r}", index, None, spec.id_field)
                )
            elif not is_guid(value) and not spec.number_field:
                problems.append(
                    RecordProblem(f"must be a GUID, got {value!r}", index, None, spec.id_field)
                )
            elif '"' in value or "\\" in value:
                problems.append(
                    RecordProblem(
                        "must not contain quotes or backslashes", index, None, spec.id_field
                    )
                )
        return problems

    def send(
        self, hook: XeroHook, todo: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        spec = self.spec
        results = []
        by_number = []
        for index, row in todo:
            value = row.get(spec.id_field) or row.get(spec.number_field or "")
            if not is_guid(value):
                by_number.append((index, {spec.number_field: value}))
                continue
            try:
                record = hook.get(spec, value)
            except XeroNotFoundError as error:
                results.append(RecordResult(index, False, value, None, [error.message], "ERROR"))
                continue
            results.append(RecordResult(index, True, record.get(spec.id_field), record))
        if by_number:
            results.extend(find_by_field(hook, spec, spec.number_field, by_number))
        return results


class XeroFindOperator(XeroBaseOperator):
    """Search records by number, by reference or with a ``where`` filter.

    Each number or reference is one entry of the input; one that matches nothing is a
    rejected entry (``on_error="continue"`` to carry on). A reference can match several
    records: all are returned.

    :param numbers: invoice numbers (or the resource's number field) to find (templated).
    :param references: ``Reference`` values to find (templated).
    :param where: a Xero ``where`` filter, ANDed with the resource's type (templated).
    """

    template_fields: Sequence[str] = (
        "numbers",
        "references",
        "where",
        "tenant_id",
        "idempotency_key",
    )
    refetch_results = False
    writes = False

    def __init__(
        self,
        *,
        numbers: Any = None,
        references: Any = None,
        where: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.numbers = numbers
        self.references = references
        self.where = where
        if not self.spec.supports_where:
            raise ValueError(f"{self.spec.name}: Xero cannot search them with where")

    def input_rows(self) -> list[Any]:
        rows: list[Any] = []
        if self.numbers is not None:
            if not self.spec.number_field:
                raise ValueError(f"numbers: {self.spec.name} have no number field")
            rows += ids_as_rows(self.numbers, self.spec.number_field, name="numbers")
        if self.references is not None:
            rows += ids_as_rows(self.references, "Reference", name="references")
        if self.where:
            rows.append({"where": str(self.where)})
        if not rows:
            raise ValueError("give numbers, references or where")
        return rows

    def validate_rows(self, rows: list[Any]) -> list[RecordProblem]:
        problems = []
        for index, row in enumerate(rows):
            ((field, value),) = row.items()
            if field == "where":
                continue
            if not isinstance(value, str) or not value.strip():
                problems.append(
                    RecordProblem(f"must be non-empty text, got {value!r}", index, None, field)
                )
            elif '"' in value or "\\" in value:
                problems.append(
                    RecordProblem("must not contain quotes or backslashes", index, None, field)
                )
        return problems

    def send(
        self, hook: XeroHook, todo: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        results: list[RecordResult] = []
        groups: dict[str, list[tuple[int, dict]]] = {}
        for index, row in todo:
            ((field, value),) = row.items()
            if field == "where":
                found = list(hook.iter_records(self.spec, where=value))
                results += [RecordResult(index, True, r.get(self.spec.id_field), r) for r in found]
                if not found:
                    results.append(
                        RecordResult(
                            index,
                            False,
                            None,
                            None,
                            [f"no {self.spec.name} match {value}"],
                            "ERROR",
                        )
                    )
                continue
            groups.setdefault(field, []).append((index, row))
        for field, items in groups.items():
            results += find_by_field(hook, self.spec, field, items)
        return results


def find_by_field(
    hook: XeroHook, spec: Any, field: str, items: list[tuple[int, dict]]
) -> list[RecordResult]:
    """Records whose ``field`` equals each item's value, a few values per where filter."""
    results = []
    for start in range(0, len(items), FIND_CHUNK):
        part = items[start : start + FIND_CHUNK]
        values = [row[field] for _, row in part]
        where = " OR ".join(f"{field}=={json.dumps(v)}" for v in dict.fromkeys(values))
        matches: dict[str, list[dict]] = {}
        for record in hook.iter_records(spec, where=where):
            matches.setdefault(str(record.get(field)).lower(), []).append(record)
        for index, row in part:
            found = matches.get(str(row[field]).lower(), [])
            if not found:
                results.append(
                    RecordResult(
                        index,
                        False,
                        None,
                        None,
                        [f"no {spec.name} with {field} {row[field]!r}"],
                        "ERROR",
                    )
                )
            results += [RecordResult(index, True, r.get(spec.id_field), r) for r in found]
    return results


class XeroDeleteOperator(_IdsInputMixin, XeroActionOperator):
    """Delete or void records: ``POST {Resource}/{ID}`` with the new ``Status``.

    Payments take the bare ``{"Status": "DELETED"}`` (spec schema ``PaymentDelete``); other
    resources take their envelope. Deleting what is already deleted is Xero's refusal.

    :param record_ids: IDs to delete (templated), or ``records`` holding the ID field.
    :param status: ``DELETED`` (default) or ``VOIDED``.
    """

    template_fields: Sequence[str] = (*XeroBaseOperator.template_fields, "record_ids")

    def __init__(self, *, record_ids: Any = None, status: str = "DELETED", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if status not in ("DELETED", "VOIDED"):
            raise ValueError(f"status must be DELETED or VOIDED, got {status!r}")
        self.record_ids = record_ids
        self.status = status
        self.list_key = self.spec.list_key

    def row_schema(self) -> Schema | None:
        return Schema("delete", (Field(self.spec.id_field, guid, required=True),))

    def validate_rows(self, rows: list[Any]) -> list[RecordProblem]:
        """The schema, then one deletion per record: a second one of the same ID is refused
        (Xero would refuse it once the first went through)."""
        problems = super().validate_rows(rows)
        bad = {p.index for p in problems}
        first: dict[str, int] = {}
        field = self.spec.id_field
        for index, row in enumerate(rows):
            if index in bad or not isinstance(row, Mapping):
                continue
            record_id = str(row.get(field)).lower()
            if record_id in first:
                problems.append(
                    RecordProblem(
                        f"records[{first[record_id]}] already deletes {row.get(field)}; "
                        "each record is deleted once",
                        index,
                        str(row.get(field)),
                        field,
                    )
                )
            else:
                first[record_id] = index
        return problems

    def item(self, row: Mapping[str, Any]) -> tuple[str, Any]:
        body: dict[str, Any] = {"Status": self.status}
        if self.spec.name != "Payments":
            body = {self.spec.list_key: [body]}
        return row[self.spec.id_field], body


class XeroSendEmailOperator(_IdsInputMixin, XeroActionOperator):
    """Email sales invoices to their contacts: ``POST /Invoices/{InvoiceID}/Email`` (204).

    Xero sends only ACCREC invoices in SUBMITTED, AUTHORISED or PAID whose contact has an
    email address; its refusal names the invoice.

    :param record_ids: the InvoiceIDs (templated), or ``records`` with ``InvoiceID``.
    """

    template_fields: Sequence[str] = (*XeroBaseOperator.template_fields, "record_ids")
    resource_name = "SalesInvoices"
    schema = INVOICE_EMAIL
    action = "Email"
    refetch_results = False

    def __init__(self, *, record_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record_ids = record_ids

    def item(self, row: Mapping[str, Any]) -> tuple[str, Any]:
        return row["InvoiceID"], {}


class XeroAddHistoryNoteOperator(_IdsInputMixin, XeroActionOperator):
    """Add a note to the history of records of any resource that has history.

    ``PUT /{Resource}/{ID}/History`` with ``{"HistoryRecords": [{"Details": note}]}``.

    :param resource: a resource whose table row says it has history.
    :param record_ids: the records (templated); each gets ``note``.
    :param note: the note text, at most 2,500 characters (templated).
    :param records: or dicts with the ID field and ``Details``, one note each.
    """

    template_fields: Sequence[str] = (*XeroBaseOperator.template_fields, "record_ids", "note")
    method = "PUT"
    action = "History"
    list_key = "HistoryRecords"
    # A note goes to the record's history, not the record: resources Xero offers no write
    # endpoint for (Overpayments, Prepayments) still take history notes.
    writes = False
    refetch_results = False

    def __init__(self, *, record_ids: Any = None, note: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.spec.history:
            with_history = "see resources.py rows with history=True"
            raise ValueError(f"resource {self.spec.name} has no history in Xero ({with_history})")
        self.record_ids = record_ids
        self.note = note

    def row_schema(self) -> Schema | None:
        return history_note(self.spec.id_field)

    def prepare(self, row: Any) -> Any:
        row = super().prepare(row)
        if isinstance(row, dict) and "Details" not in row and self.note is not None:
            row["Details"] = self.note
        return row

    def item(self, row: Mapping[str, Any]) -> tuple[str, Any]:
        return row[self.spec.id_field], {"HistoryRecords": [{"Details": row["Details"]}]}


class XeroAllocateOperator(XeroActionOperator):
    """Allocate credit notes to invoices or bills: ``PUT /CreditNotes/{id}/Allocations``.

    Each record: ``CreditNoteID``, ``Invoice`` (``InvoiceID`` or ``InvoiceNumber``),
    ``Amount``, ``Date``. Xero refuses more than the remaining credit or the amount due.
    """

    resource_name = "CreditNotes"
    schema = ALLOCATION
    method = "PUT"
    action = "Allocations"
    list_key = "Allocations"
    refetch_results = False

    def check_with_xero(self, hook: XeroHook, rows: list[Any]) -> list[RecordProblem]:
        """Read the credit notes and the invoices named by ID, then sum the batch's
        allocations per credit note and per invoice (:func:`allocation_problems`)."""
        valid = [r for r in rows if isinstance(r, Mapping)]
        note_ids = sorted({str(r["CreditNoteID"]) for r in valid if r.get("CreditNoteID")})
        notes: dict[str, Any] = {}
        for note_id in note_ids:
            try:
                notes[note_id.lower()] = hook.get(self.spec, note_id)
            except XeroNotFoundError:
                continue  # Xero will say so, naming the record
        invoice_ids = sorted(
            {
                str(r["Invoice"]["InvoiceID"])
                for r in valid
                if isinstance(r.get("Invoice"), Mapping) and r["Invoice"].get("InvoiceID")
            }
        )
        invoices: dict[str, Any] = {}
        if invoice_ids:
            for invoice in hook.iter_records("Invoices", ids=invoice_ids):
                invoices[str(invoice.get("InvoiceID")).lower()] = invoice
        return allocation_problems([r if r is not None else {} for r in rows], notes, invoices)

    def item(self, row: Mapping[str, Any]) -> tuple[str, Any]:
        allocation = {k: v for k, v in row.items() if k != "CreditNoteID"}
        return row["CreditNoteID"], {"Allocations": [allocation]}
