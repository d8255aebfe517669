"""What every Xero operator shares: inputs, checks before any call, run-scoped idempotency
keys, reporting of rejected records, XCom and the deep link.

A run of an operator goes: rows from the input -> validation (the schema, then rules that
need Xero's current data) -> the writes or reads -> XCom. Subclasses say only what is
particular: the resource, the schema, and how a row is sent (``send``).

XCom of every operator:

* the return value: the IDs of the records written or read, in input order;
* ``records``: the records Xero returned (re-read by ID when a rerun reused a write);
* ``rejected``: one entry per problem, ``{index, record_id, field, message, source}``
  where ``source`` is ``validation`` (caught before any call), ``xero`` (Xero's message)
  or ``unreconciled`` (sent by an earlier try whose answer was lost, too long ago to
  resend safely: see the hook's write ledger);
* ``xero_links``: the deep link to each record in Xero's web app.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from xero_provider.exceptions import (
    RecordProblem,
    RecordResult,
    XeroError,
    XeroInputError,
    XeroValidationError,
)
from xero_provider.hooks.responses import guess_field
from xero_provider.hooks.serialise import json_value
from xero_provider.hooks.text_limits import MAX_REQUEST_BYTES, oversized, resource_text_problems
from xero_provider.hooks.xero import XeroHook
from xero_provider.operators.inputs import as_rows
from xero_provider.operators.links import LINKS_XCOM_KEY, XeroRecordLink, deep_link, short_code
from xero_provider.operators.run_records import Recorded, RunRecords, chunk_key, identities
from xero_provider.operators.validation import Schema, codes_as_text, validate
from xero_provider.resources import Resource, get_resource

log = logging.getLogger(__name__)


def unwritable(row: Any, index: int) -> list[RecordProblem]:
    """A value the hook's serialiser cannot write (a time of day, an object...), found per
    record so that ``on_error="continue"`` can skip just that record."""
    if not isinstance(row, Mapping):
        return []
    try:
        json_value(row, "record")
    except XeroInputError as error:
        path, _, message = error.message.partition(": ")
        field = path.removeprefix("record").lstrip(".") or None
        return [RecordProblem(message or error.message, index, None, field)]
    return []


OnError = Literal["fail", "continue"]
ON_ERROR = ("fail", "continue")
REFETCH_CHUNK = 50  # IDs per list call when re-reading records a rerun did not write again


class XeroRecordsRejected(XeroValidationError, AirflowFailException):
    """Records were refused (by the checks or by Xero): fail without retrying the task,
    since the same data would be refused again. ``problems`` names each record and field."""


class XeroBaseOperator(BaseOperator):
    """Base of the Xero operators: one record or many, checked, sent, reported.

    :param records: one dict, a list of dicts, a sensor's XCom list or a DataFrame
        (templated).
    :param xero_conn_id: the ``xero`` connection (one per organisation).
    :param tenant_id: override the connection's organisation (templated).
    :param on_error: ``fail`` (default): any invalid record fails the task before any
        write, and a record Xero refuses fails it after the chunk it was in; ``continue``:
        skip and report refused records, write the rest, succeed.
    :param idempotency_key: base of the Idempotency-Keys (templated). Default: DAG, task,
        run and map index, so a retry, a cleared task or a rerun of the same run never
        writes twice. ``""`` turns the durable ledger off (random keys per call).
    :param push_records: push the records Xero returned to XCom ``records`` (default).
        ``False`` for very large batches: only IDs, rejections and links are pushed, and
        a rerun does not re-read the records it reuses.
    """

    template_fields: Sequence[str] = ("records", "tenant_id", "idempotency_key")
    template_fields_renderers = {"records": "json"}
    operator_extra_links = (XeroRecordLink(),)
    ui_color = "#13B5EA"

    resource_name: ClassVar[str | None] = None
    schema: ClassVar[Schema | None] = None
    refetch_results: ClassVar[bool] = True  # re-read records a rerun did not write again
    # False for the operators that only read (or only add history notes): the rest refuse a
    # resource Xero offers no write endpoint for.
    writes: ClassVar[bool] = True
    # True for the operators that write: they keep a per-record index of the run's writes.
    indexed: ClassVar[bool] = False

    def __init__(
        self,
        *,
        records: Any = None,
        resource: str | None = None,
        xero_conn_id: str = "xero_default",
        tenant_id: str | None = None,
        on_error: OnError = "fail",
        idempotency_key: str | None = None,
        push_records: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be 'fail' or 'continue', got {on_error!r}")
        name = resource or self.resource_name
        if name is None:
            raise ValueError(f"{type(self).__name__}: resource is required")
        spec = get_resource(name)
        if self.writes and spec.read_only:
            raise ValueError(f"resource {spec.name}: Xero offers no write endpoint for it")
        self.resource = spec.name
        self.records = records
        self.xero_conn_id = xero_conn_id
        self.tenant_id = tenant_id
        self.on_error = on_error
        self.idempotency_key = idempotency_key
        self.push_records = push_records

    # --- what subclasses fill in ----------------------------------------------------------

    @property
    def spec(self) -> Resource:
        return get_resource(self.resource)

    def input_rows(self) -> list[Any]:
        """The rows to work on (by default from ``records``)."""
        return as_rows(self.records)

    def prepare(self, row: Any) -> Any:
        """A copy of the row with defaults filled in (``Type`` of a bill...) and codes as text."""
        return codes_as_text(row) if isinstance(row, Mapping) else row

    def check_with_xero(self, hook: XeroHook, rows: list[Any]) -> list[RecordProblem]:
        """Rules that need Xero's current data (read, never written). Default: none."""
        return []

    def send(
        self, hook: XeroHook, todo: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        """Write or read the rows; one result per row, ``index`` being the input index."""
        raise NotImplementedError

    # --- the run ----------------------------------------------------------------------------

    def get_hook(self) -> XeroHook:
        return XeroHook(self.xero_conn_id, tenant_id=self.tenant_id)

    def run_key(self, context: Mapping[str, Any]) -> str | None:
        """DAG, task, run and map index (never the try number): stable across retries."""
        if self.idempotency_key is not None:
            return str(self.idempotency_key) or None
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return f"{ti.dag_id}:{ti.task_id}:{ti.run_id}:{map_index if map_index is not None else -1}"

    def execute(self, context: Any) -> list[str]:
        # The extra link reads this key when the task ends, whether it succeeds or not.
        context["ti"].xcom_push(key=LINKS_XCOM_KEY, value=[])
        hook = self.get_hook()
        try:
            rows = [self.prepare(row) for row in self.input_rows()]
            if not rows:
                raise ValueError("records: the input holds no records")
            problems = self.validate_rows(rows)
            bad = {p.index for p in problems}
            if problems and self.on_error == "fail":
                self._fail(context, problems, "validation", "nothing was sent to Xero")
            key = self.run_key(context)
            earlier = self._earlier_writes(hook, rows, bad, key)
            skip = bad | set(earlier)  # this run's own writes are never checked again
            problems.extend(
                p
                for p in self.check_with_xero(
                    hook, [r if i not in skip else None for i, r in enumerate(rows)]
                )
                if p.index not in skip
            )
            bad = {p.index for p in problems}
            if problems and self.on_error == "fail":
                self._fail(context, problems, "validation", "nothing was written")
            rejected = [self._entry(p, "validation") for p in problems]
            results = self._reuse(hook, earlier)
            todo = [(i, row) for i, row in enumerate(rows) if i not in bad and i not in earlier]
            if todo and (self.on_error == "continue" or all(r.ok for r in results)):
                results += self.send(hook, todo, key)
            rejected.extend(self._xero_rejections(results, rows))
            rejected.sort(key=lambda entry: entry["index"])  # stable: per record, in order
            return self._publish(context, hook, results, rejected)
        finally:
            hook.close()

    # --- what this run wrote before (retry, clear, rerun) ------------------------------------

    def _earlier_writes(
        self, hook: XeroHook, rows: list[Any], bad: set[int], key: str | None
    ) -> dict[int, Recorded]:
        """The valid rows an earlier try of this run sent, by input index (see
        :mod:`~xero_provider.operators.run_records`); empty for readers and unkeyed runs."""
        self._index = RunRecords.open(hook, self.resource, key) if self.indexed else None
        self._ids = identities([r if i not in bad else None for i, r in enumerate(rows)])
        if self._index is None:
            return {}
        found = {i: self._index.get(ident) for i, ident in self._ids.items()}
        earlier = {i: rec for i, rec in found.items() if rec is not None}
        if earlier:
            done = sum(rec.result is not None for rec in earlier.values())
            self.log.info(
                "%s: %d record(s) were written by an earlier try of this run, %d sent without "
                "a recorded answer; neither is checked or written again",
                self.resource,
                done,
                len(earlier) - done,
            )
        return earlier

    def _reuse(self, hook: XeroHook, earlier: dict[int, Recorded]) -> list[RecordResult]:
        """Recorded outcomes as they are; chunks sent without one sent again whole, under
        their own key, so the hook's ledger reconciles them instead of writing twice."""
        results = [rec.as_result(i) for i, rec in earlier.items() if rec.result is not None]
        pending: dict[str, list[tuple[int, Recorded]]] = {}
        for i, rec in earlier.items():
            if rec.result is None:
                pending.setdefault(rec.chunk, []).append((i, rec))
        for chunk, members in pending.items():
            members.sort(key=lambda item: item[1].position)
            op = members[0][1].op
            results += self._write_chunk(hook, op, chunk, [(i, r.payload) for i, r in members])
        return sorted(results, key=lambda r: r.index)

    def _write_chunk(
        self, hook: XeroHook, op: str, chunk: str | None, items: list[tuple[int, Any]]
    ) -> list[RecordResult]:
        """Send one chunk (keyed writes are entered in the run's index before and after)."""
        index = self._index if chunk else None
        if index is not None:
            index.intend(chunk, op, [(self._ids[i], payload) for i, payload in items])
        answers = self.write_chunk(hook, op, items, chunk)
        for answer in answers:
            answer.index = items[answer.index][0]
        if index is not None:
            # UNRECONCILED is no outcome: a later try looks again (the hook's ledger keeps trying)
            index.record([(self._ids[a.index], a) for a in answers if a.status != "UNRECONCILED"])
        return answers

    def write_chunk(
        self, hook: XeroHook, op: str, items: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        """Send one chunk; results indexed by position in ``items``. Writers fill it in."""
        raise NotImplementedError

    def _chunk_key(self, key: str | None, op: str, items: list[tuple[int, Any]]) -> str | None:
        if not key or self._index is None:
            return None
        return chunk_key(key, op, [self._ids[i] for i, _ in items])

    def row_schema(self) -> Schema | None:
        """The schema each row is checked with (None: only that it is a dict)."""
        return self.schema

    def validate_rows(self, rows: list[Any]) -> list[RecordProblem]:
        schema = self.row_schema()
        if schema is None:
            problems = [
                RecordProblem(
                    f"must be an object (dict), got {type(r).__name__}", i, None, "(record)"
                )
                for i, r in enumerate(rows)
                if not isinstance(r, Mapping)
            ]
        else:
            problems = validate(schema, rows, self.resource)
        bad = {p.index for p in problems}
        problems += [p for i, r in enumerate(rows) if i not in bad for p in unwritable(r, i)]
        bad = {p.index for p in problems}
        if self.writes:
            problems += [p for i, r in enumerate(rows) if i not in bad for p in self._limits(r, i)]
        return problems

    def _limits(self, row: Any, index: int) -> list[RecordProblem]:
        """Text lengths from Xero's spec and its request size, per record (the hook checks
        them too, but for the whole input at once)."""
        problems = [
            RecordProblem(message, index, None, field)
            for field, message in resource_text_problems(self.spec, row)
        ]
        too_big = oversized(json_value(row, "record")) if not problems else None
        if too_big is not None:
            size, largest = too_big
            problems.append(
                RecordProblem(
                    f"the record is {size} bytes; Xero takes at most {MAX_REQUEST_BYTES} "
                    "bytes per request",
                    index,
                    None,
                    largest,
                )
            )
        return problems

    # --- reporting --------------------------------------------------------------------------

    @staticmethod
    def _entry(problem: RecordProblem, source: str) -> dict[str, Any]:
        return {
            "index": problem.index,
            "record_id": problem.record_id,
            "field": problem.field,
            "message": problem.message,
            "source": source,
        }

    def _xero_rejections(self, results: list[RecordResult], rows: list[Any]) -> list[dict]:
        out = []
        for result in results:
            if result.ok:
                continue
            row = rows[result.index] if 0 <= result.index < len(rows) else {}
            for message in result.errors or ["Xero refused the record"]:
                field = guess_field(row, message) if isinstance(row, Mapping) else None
                out.append(
                    {
                        "index": result.index,
                        "record_id": result.record_id,
                        "field": field,
                        "message": message,
                        "source": "unreconciled" if result.status == "UNRECONCILED" else "xero",
                    }
                )
        return out

    def _fail(self, context: Any, problems: list[RecordProblem], source: str, note: str) -> None:
        rejected = [self._entry(p, source) for p in problems]
        self._log_rejected(rejected)
        context["ti"].xcom_push(key="rejected", value=rejected)
        count = len({p.index for p in problems})
        raise XeroRecordsRejected(
            f"{count} record(s) are invalid; {note}",
            problems=problems,
            resource=self.resource,
        )

    def _log_rejected(self, rejected: list[dict[str, Any]]) -> None:
        for entry in rejected:
            where = f"{self.resource}[{entry['index']}]"
            if entry.get("record_id"):
                where += f" {entry['record_id']}"
            field = f" field {entry['field']}:" if entry.get("field") else ""
            self.log.error("%s (%s):%s %s", where, entry["source"], field, entry["message"])

    def _publish(
        self,
        context: Any,
        hook: XeroHook,
        results: list[RecordResult],
        rejected: list[dict[str, Any]],
    ) -> list[str]:
        done = sorted((r for r in results if r.ok), key=lambda r: r.index)
        records = self._records_of(hook, done) if self.push_records else [None] * len(done)
        ids = [r.record_id for r in done]
        links = self._links(hook, ids, records)
        ti = context["ti"]
        if self.push_records:
            ti.xcom_push(key="records", value=records)
        ti.xcom_push(key="rejected", value=rejected)
        ti.xcom_push(key=LINKS_XCOM_KEY, value=links)
        self._log_rejected(rejected)
        self.log.info(
            "%s: %d record(s) done, %d rejected",
            self.resource,
            len(ids),
            len({e["index"] for e in rejected}),
        )
        if rejected and self.on_error == "fail":
            problems = [
                RecordProblem(e["message"], e["index"], e["record_id"], e["field"])
                for e in rejected
            ]
            raise XeroRecordsRejected(
                f"Xero refused {len({e['index'] for e in rejected})} record(s)",
                problems=problems,
                resource=self.resource,
            )
        return ids

    def _records_of(self, hook: XeroHook, done: list[RecordResult]) -> list[Any]:
        """The returned records; those reused from the ledger (no record kept) re-read by ID."""
        missing = [r.record_id for r in done if r.record is None and r.record_id]
        found: dict[str, Any] = {}
        if missing and self.refetch_results:
            found = self._read_by_ids(hook, missing)
        return [
            r.record if r.record is not None else found.get(str(r.record_id).lower()) for r in done
        ]

    def _read_by_ids(self, hook: XeroHook, ids: list[str]) -> dict[str, Any]:
        spec = self.spec
        out: dict[str, Any] = {}
        if spec.path in ("Invoices", "Contacts") or spec.supports_where:
            for start in range(0, len(ids), REFETCH_CHUNK):
                part = ids[start : start + REFETCH_CHUNK]
                for record in hook.iter_records(spec, ids=part):
                    out[str(record.get(spec.id_field)).lower()] = record
        else:
            for record_id in ids:
                out[str(record_id).lower()] = hook.get(spec, record_id)
        return out

    def _links(self, hook: XeroHook, ids: list[str | None], records: list[Any]) -> list[str | None]:
        if not ids:
            return []
        try:
            code = short_code(hook)  # kept per organisation: asked of Xero once
        except XeroError as error:
            self.log.warning(
                "No Xero deep links: the organisation's ShortCode is unknown (%s)", error
            )
            return [None] * len(ids)
        return [
            deep_link(self.link_resource(record), code, record_id, record)
            for record_id, record in zip(ids, records, strict=True)
        ]

    def link_resource(self, record: Any) -> str:
        """The resource whose deep link fits a record (an allocation links its credit note)."""
        return self.resource


class XeroBatchWriteOperator(XeroBaseOperator):
    """Create or update through ``XeroHook.create``/``update``, a chunk at a time.

    Each chunk's key is ``<run key>/<create|update>/<digest of its records' identities>``:
    the hook derives the Idempotency-Key from it and records the chunk's results in its
    durable ledger, and the run's record index remembers which record went out in which
    chunk, so a retry never writes a record twice even when its chunks come out different
    (see :mod:`~xero_provider.operators.run_records`). With ``on_error="fail"`` the writes
    stop after the first chunk Xero refused a record of.
    """

    update: ClassVar[bool] = False
    indexed = True

    def send(
        self, hook: XeroHook, todo: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        spec = self.spec
        op = "update" if self.update else "create"
        results: list[RecordResult] = []
        for number, start in enumerate(range(0, len(todo), spec.batch_size)):
            part = todo[start : start + spec.batch_size]
            answers = self._write_chunk(hook, op, self._chunk_key(key, op, part), part)
            results += answers
            if self.on_error == "fail" and any(not a.ok for a in answers):
                self.log.error("Xero refused records in chunk %d; not sending the rest", number)
                break
        return results

    def write_chunk(
        self, hook: XeroHook, op: str, items: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        write = hook.update if op == "update" else hook.create
        return write(self.spec, [row for _, row in items], idempotency_key=key)


class XeroActionOperator(XeroBaseOperator):
    """One call per record to ``{Resource}/{ID}[/{action}]`` through ``XeroHook.act``.

    Each record's key is ``<run key>/act/<digest of its identity>``: the outcome is kept in
    the hook's durable ledger and the run's record index, so a rerun of the same run does
    not email, note, allocate or delete again.
    """

    method: ClassVar[str] = "POST"
    action: ClassVar[str | None] = None
    list_key: ClassVar[str | None] = None

    def item(self, row: Mapping[str, Any]) -> tuple[str, Any]:
        """The record ID and the body of the call for one row."""
        raise NotImplementedError

    indexed = True

    def send(
        self, hook: XeroHook, todo: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        results = []
        for index, row in todo:
            answers = self._write_chunk(
                hook, "act", self._chunk_key(key, "act", [(index, row)]), [(index, row)]
            )
            results += answers
            if self.on_error == "fail" and any(not a.ok for a in answers):
                self.log.error("Xero refused record %d; not sending the rest", index)
                break
        return results

    def write_chunk(
        self, hook: XeroHook, op: str, items: list[tuple[int, Any]], key: str | None
    ) -> list[RecordResult]:
        return hook.act(
            self.spec,
            [self.item(row) for _, row in items],
            method=self.method,
            action=self.action,
            list_key=self.list_key,
            idempotency_key=key,
        )
