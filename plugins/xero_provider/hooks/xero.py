"""XeroHook and XeroAsyncHook: every Xero operation is written once, as steps.

The pipeline (``pipeline.py``): OAuth bearer and tenant headers (``XeroAuth``, which
also refreshes tokens under the token store's lock), per-organisation concurrency and
header-driven pacing (``RateGovernor``, the shared rate budget and call slots), retries
with backoff (``retrying.retried``), and Xero's error bodies turned into typed
exceptions (``raise_for_xero``). Reads page at the largest page Xero allows
(``paging.walk``); writes are chunked, keyed and recorded in the durable ledger.

Each public operation below is a generator of steps that does no I/O (``driver.py``),
defined once on :class:`_XeroHookBase` and turned into a method by :func:`operation`:
:class:`XeroHook` drives the steps blocking and returns the result,
:class:`XeroAsyncHook` drives the same steps on an event loop and returns an awaitable
(blocking work in a worker thread). The two hooks differ only in their drivers, their
HTTP clients and how they close, so they cannot drift apart.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, ClassVar

import httpx

from xero_provider.config import ConfigResolver, XeroConnectionConfig
from xero_provider.exceptions import (
    RecordProblem,
    RecordResult,
    XeroError,
    XeroInputError,
    XeroNotFoundError,
    XeroPartialWriteError,
    XeroValidationError,
)
from xero_provider.hooks import validation
from xero_provider.hooks.actions import (
    action_result,
    plan_actions,
    refused_result,
    replay_is_safe,
    unreconciled_result,
)
from xero_provider.hooks.driver import (
    Blocking,
    Connect,
    Exchange,
    Sleep,
    Steps,
    arun,
    astream,
    collect,
    run,
    stream,
)
from xero_provider.hooks.paging import Page
from xero_provider.hooks.pipeline import XeroPipeline
from xero_provider.hooks.planning import (
    WriteChunk,
    check_records,
    chunk_results,
    normalise_records,
    plan_writes,
    results_from_ledger,
    results_to_ledger,
)
from xero_provider.hooks.reconcile import Reconciliation
from xero_provider.hooks.responses import element_results, element_wise
from xero_provider.hooks.retrying import MAX_TOTAL_SECONDS
from xero_provider.hooks.runtime import Runtime
from xero_provider.hooks.serialise import json_value
from xero_provider.resources import Resource, get_resource
from xero_provider.state.egress import EgressTally
from xero_provider.state.write_ledger import WriteLedger

log = logging.getLogger(__name__)


def operation(steps: Callable[..., Steps]) -> Callable[..., Any]:
    """A public hook method from its steps: the hook's driver runs them (the sync hook
    returns the result, the async hook an awaitable of it)."""

    @functools.wraps(steps)
    def method(self: _XeroHookBase, *args: Any, **kwargs: Any) -> Any:
        return self.drive(steps(self, *args, **kwargs))

    # what callers get is the steps' result (or an awaitable of it), not the steps
    signature = inspect.signature(steps)
    method.__signature__ = signature.replace(return_annotation=inspect.Signature.empty)  # type: ignore[attr-defined]
    return method


class _XeroHookBase(XeroPipeline):
    """Every operation of the two hooks, once: reads, writes with their ledger steps,
    per-record actions, per-element writes."""

    @staticmethod
    def _record_url(spec: Resource, record_id: Any) -> str:
        segment = validation.record_path(
            record_id, allow_number=bool(spec.number_field) or not spec.id_field.endswith("ID")
        )
        return f"{spec.path}/{segment}"

    def _typed_record(self, resource: Resource, body: Any, record_id: str) -> dict[str, Any]:
        records = (body or {}).get(resource.list_key) or []
        if not records:
            raise XeroNotFoundError(f"no {resource.name} {record_id}", status=404)
        record = records[0]
        if resource.type_filter and record.get("Type") != resource.type_filter:
            raise XeroNotFoundError(
                f"{record_id} is a {record.get('Type')} document, not one of the "
                f"{resource.name} ({resource.type_filter})",
                status=404,
                resource=resource.name,
            )
        return record

    @staticmethod
    def _write_plan(
        resource: Resource, records: Any, *, update: bool, tenant: str | None, key: str | None
    ) -> list[WriteChunk]:
        """Serialise and check the whole input (nothing is sent when any record is bad)."""
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise XeroInputError(f"idempotency_key: expected non-empty text, got {key!r}")
        try:
            rows = normalise_records(records)
            check_records(resource, rows, update=update)
        except XeroInputError as error:
            error.resource = resource.name
            raise
        method = resource.update_method if update else resource.create_method
        return plan_writes(resource, rows, method=method, tenant_id=tenant, idempotency_key=key)

    # --- the write ledger's steps (keyed writes and per-record actions alike) -----------

    @staticmethod
    def _entry_steps(
        runtime: Runtime, spec: Resource, chunk: WriteChunk, key: str | None, used_for: str
    ) -> Steps:
        """The ledger's entry for a keyed chunk (None: never sent); a key already used for
        other data is refused, naming what it was ``used_for``."""
        entry = yield Blocking(runtime.ledger.get, (chunk.ledger_key,))
        if entry is not None and entry.payload_hash != chunk.payload_hash:
            raise XeroValidationError(
                f"idempotency key {key!r} was already used for {used_for}; "
                "use a new key for new data",
                status=None,
                resource=spec.name,
            )
        return entry

    @staticmethod
    def _outcome_steps(runtime: Runtime, chunk: WriteChunk, results: list[RecordResult]) -> Steps:
        """Record a keyed chunk's outcome, so a rerun reuses it instead of sending again."""
        yield Blocking(
            runtime.ledger.record,
            (chunk.ledger_key, chunk.payload_hash, results_to_ledger(results)),
        )

    # --- operations -------------------------------------------------------------------

    @operation
    def call(self, method: str, path: str, **kwargs: Any) -> Steps:
        """Any other Xero call, through the same pipeline; returns the parsed body.

        ``path`` is relative to the Accounting API (``Organisation``) or an absolute URL
        under the connection's API base (anything else is refused: the token stays with
        Xero). Keyword arguments: ``params``, ``json``, ``headers``, ``idempotency_key``.
        A write of several elements is asked per element (``summarizeErrors=false``) and
        raises :class:`XeroPartialWriteError` naming the applied ones when any was refused.
        """
        method = method.upper()
        params = kwargs.get("params") or {}
        if not element_wise(method, kwargs.get("json")) or "summarizeErrors" in params:
            return (yield from self._body_steps(method, path, **kwargs))
        # Xero applies each element on its own: in its default mode a refused element turns
        # the answer into one 400 that hides the elements it applied. Ask per element, and
        # say which were applied when any was refused.
        kwargs = {**kwargs, "params": {**params, "summarizeErrors": "false"}}
        body = yield from self._body_steps(method, path, **kwargs)
        ((list_key, elements),) = kwargs["json"].items()
        results = element_results(body, list_key, len(elements))
        refused = [r for r in results if not r.ok]
        if refused:
            applied = [r.index for r in results if r.ok]
            raise XeroPartialWriteError(
                f"applied elements {applied}, refused {[r.index for r in refused]}",
                results=results,
                status=None,
                method=method,
                problems=[
                    RecordProblem(
                        f"{'; '.join(r.errors)} (applied: elements {applied or 'none'})",
                        r.index,
                    )
                    for r in refused
                ],
            )
        return body

    @operation
    def write_each(
        self,
        method: str,
        path: str,
        elements: Sequence[Any],
        *,
        list_key: str,
        id_field: str | None = None,
        idempotency_key: str | None = None,
    ) -> Steps:
        """One write of several elements (``PUT CreditNotes/{id}/Allocations`` with two
        allocations...), one result per element: applied (``ok``) or refused with Xero's
        message. Sent with ``summarizeErrors=false`` (the spec lists it on these
        endpoints), so a refused element never hides one Xero applied."""
        body = {list_key: [json_value(e, f"elements[{i}]") for i, e in enumerate(elements)]}
        answer = yield from self._body_steps(
            method.upper(),
            path,
            json=body,
            params={"summarizeErrors": "false"},
            idempotency_key=idempotency_key,
        )
        return element_results(answer, list_key, len(elements), id_field)

    @operation
    def get_tenants(self) -> Steps:
        """The organisations this connection's authorisation may use (GET /connections)."""
        runtime = yield from self._runtime_steps()
        return (yield from self._body_steps("GET", runtime.config.connections_url)) or []

    @operation
    def remaining_calls(self) -> Steps:
        """What is left of this organisation's minute and day and the app's minute, as the
        budget shared by every process using the token store knows it (no call made):
        a :class:`~xero_provider.state.rate_budget.Remaining`."""
        runtime = yield from self._runtime_steps()
        return (yield Blocking(runtime.budget.remaining, (runtime.tenant_key,)))

    @operation
    def get(self, resource: str | Resource, record_id: str) -> Steps:
        """One record by ID (or number where Xero allows it)."""
        spec = get_resource(resource)
        body = yield from self._body_steps("GET", self._record_url(spec, record_id), resource=spec)
        return self._typed_record(spec, body, record_id)

    def iter_records(
        self,
        resource: str | Resource,
        *,
        where: str | None = None,
        order: str | None = None,
        modified_since: datetime | date | str | None = None,
        statuses: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        page_size: int | None = None,
        include_archived: bool = False,
        include_deleted: bool = False,
        summary_only: bool = False,
        after_number: int | None = None,
        unitdp: int | None = None,
    ) -> Any:
        """Yield records lazily, a page at a time, at the largest page Xero allows (an
        iterator from the sync hook, an async iterator from the async hook).

        All filters are checked before the first call; a long ``ids`` list is split into
        calls whose URL Xero accepts.

        :param include_archived: also list ARCHIVED records, which Xero's lists leave out
            (``includeArchived=true``: Contacts, Invoices and their typed views,
            TrackingCategories; any other resource is refused before a call).
        :param include_deleted: also list DELETED bank transfers (``includeDeleted=true``:
            BankTransfers only).
        :param summary_only: ask Xero for its light records (``summaryOnly=true``: Contacts,
            Invoices and their typed views), without addresses, line items, payments:
            fewer bytes of egress when those are not needed.
        :param after_number: only journals numbered above this (Xero's ``offset``: "journals
            with a JournalNumber greater than the offset will be returned", spec): an
            incremental read of Journals that re-reads none.
        :param unitdp: 4 for unit amounts at 4 decimal places (Xero rounds them to 2
            otherwise); only where the resource table's ``takes_unitdp`` says Xero takes it.
        """
        filters = {
            "where": where,
            "order": order,
            "modified_since": modified_since,
            "statuses": statuses,
            "ids": ids,
            "page_size": page_size,
            "include_archived": include_archived,
            "include_deleted": include_deleted,
            "summary_only": summary_only,
            "after_number": after_number,
            "unitdp": unitdp,
        }
        return self._records(self._list_steps(resource, filters))

    def _records(self, steps: Steps) -> Any:
        """The records of the pages ``steps`` emit, as the hook's driver streams them."""
        raise NotImplementedError

    @operation
    def get_dataframe(self, resource: str | Resource, **filters: Any) -> Steps:
        """The records of :meth:`iter_records` as a pandas DataFrame, dates parsed to UTC."""
        from xero_provider.hooks.frames import records_to_dataframe

        spec = get_resource(resource)
        pages: list[Page] = yield from collect(self._list_steps(spec, filters))
        return records_to_dataframe((r for page in pages for r in page.records), spec)

    @operation
    def create(
        self, resource: str | Resource, records: Any, *, idempotency_key: str | None = None
    ) -> Steps:
        """Create records (one dict, a list or a DataFrame); one result per input record.

        The whole input is serialised and checked before the first request. With an
        ``idempotency_key`` a rerun reuses recorded outcomes and reconciles chunks whose
        outcome was never recorded (status ``RECONCILED`` / ``UNRECONCILED``).
        """
        return (yield from self._write_steps(resource, records, update=False, key=idempotency_key))

    @operation
    def update(
        self, resource: str | Resource, records: Any, *, idempotency_key: str | None = None
    ) -> Steps:
        """Update records named by ID (or number); one result per input record."""
        return (yield from self._write_steps(resource, records, update=True, key=idempotency_key))

    def _write_steps(
        self, resource: str | Resource, records: Any, *, update: bool, key: str | None
    ) -> Steps:
        """Every step of a write: plan the whole input first, then per chunk reuse a
        recorded outcome, or reconcile an intent without one, or record the intent, send,
        and record the outcome."""
        spec = get_resource(resource)
        runtime = yield from self._runtime_steps()
        chunks = self._write_plan(spec, records, update=update, tenant=runtime.tenant_id, key=key)
        method = spec.update_method if update else spec.create_method
        results: list[RecordResult] = []
        for chunk in chunks:
            positions = list(range(len(chunk.records)))
            settled: list[RecordResult] = []
            idempotency_key = chunk.idempotency_key
            attempt = 1
            if chunk.ledger_key is not None:
                entry = yield from self._entry_steps(runtime, spec, chunk, key, "different records")
                if entry is not None and entry.done:
                    log.info("Chunk at record %d was written before under this key", chunk.offset)
                    results.extend(results_from_ledger(entry.results or []))
                    continue
                if entry is not None:  # sent before, outcome never recorded
                    plan = Reconciliation.plan(spec, chunk, entry.updated_at, update=update)
                    found = (yield from self._read_all_steps(plan.lookups)) if plan.lookups else []
                    positions, settled, same_key = plan.settle(found)
                    attempt = entry.attempt + 1
                    if not same_key:
                        idempotency_key = hashlib.sha256(
                            f"{chunk.idempotency_key}:{attempt}".encode()
                        ).hexdigest()
                    log.warning(
                        "Chunk at record %d was sent before without a recorded outcome: "
                        "%d found in Xero, %d not reconcilable, %d to send",
                        chunk.offset,
                        sum(r.ok for r in settled),
                        sum(not r.ok for r in settled),
                        len(positions),
                    )
                if positions:
                    yield Blocking(
                        runtime.ledger.intend, (chunk.ledger_key, chunk.payload_hash, attempt)
                    )
            sent: list[RecordResult] = []
            if positions:
                body = yield from self._body_steps(
                    method,
                    spec.path,
                    resource=spec,
                    params={"summarizeErrors": "false"},
                    json={spec.list_key: [chunk.records[p] for p in positions]},
                    idempotency_key=idempotency_key,
                    positions=[chunk.offset + p for p in positions],
                )
                sent = chunk_results(spec, chunk, body, positions)
            chunk_result = sorted(settled + sent, key=lambda r: r.index)
            if chunk.ledger_key is not None and not any(
                r.status == "UNRECONCILED" for r in chunk_result
            ):
                yield from self._outcome_steps(runtime, chunk, chunk_result)
            results.extend(chunk_result)
        return results

    @operation
    def act(
        self,
        resource: str | Resource,
        items: Sequence[tuple[str, Any]],
        *,
        method: str = "POST",
        action: str | None = None,
        list_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Steps:
        """One keyed call per ``(record_id, body)`` to ``{path}/{id}[/{action}]``.

        For the writes Xero takes one record at a time (delete a payment, email an
        invoice, a history note, an allocation). Bodies are serialised like any write;
        Xero's refusal of one record (400, 404) becomes that record's failed result. With
        an ``idempotency_key`` each call's intent is recorded before it is sent and its
        success after, so a rerun does not send it again; a call whose outcome was never
        recorded is sent again under the same Idempotency-Key only while Xero still
        replays it (``REPLAY_SAFE_SECONDS``); after that its result is ``UNRECONCILED``
        (an email or a deletion cannot be looked up to tell whether it happened).

        :param list_key: the envelope key of the answer's records (``Allocations``...).
        """
        spec = get_resource(resource)
        runtime = yield from self._runtime_steps()
        bodies = [
            (record_id, json_value(body, f"items[{index}]"))
            for index, (record_id, body) in enumerate(items)
        ]
        method = method.upper()
        calls = plan_actions(
            spec,
            bodies,
            method=method,
            action=action,
            tenant_id=runtime.tenant_id,
            idempotency_key=idempotency_key,
        )
        results: list[RecordResult] = []
        for call in calls:
            chunk = call.chunk
            if chunk.ledger_key is not None:
                used_for = f"a different {spec.name} {call.record_id} call"
                entry = yield from self._entry_steps(
                    runtime, spec, chunk, idempotency_key, used_for
                )
                if entry is not None and entry.done:
                    results.extend(results_from_ledger(entry.results or []))
                    continue
                if entry is not None and not replay_is_safe(entry.updated_at):
                    results.append(unreconciled_result(call))
                    continue
                yield Blocking(runtime.ledger.intend, (chunk.ledger_key, chunk.payload_hash))
            try:
                body = yield from self._body_steps(
                    method,
                    call.path,
                    resource=spec,
                    json=chunk.records[0],
                    idempotency_key=chunk.idempotency_key,
                )
            except (XeroValidationError, XeroNotFoundError) as error:
                results.append(refused_result(call, error))
                continue
            result = action_result(call, body, list_key, spec.id_field)
            if chunk.ledger_key is not None:
                yield from self._outcome_steps(runtime, chunk, [result])
            results.append(result)
        return results


class XeroHook(_XeroHookBase):
    """Read from and write to one Xero organisation through an Airflow ``xero`` connection.

    :param xero_conn_id: the Airflow connection (one per organisation).
    :param tenant_id: override the connection's organisation (tenant) id.
    """

    def __init__(
        self,
        xero_conn_id: str = _XeroHookBase.default_conn_name,
        tenant_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(xero_conn_id, tenant_id, **kwargs)
        self._client: httpx.Client | None = None

    # --- the sync driver --------------------------------------------------------------

    def drive(self, steps: Steps) -> Any:
        """Run a generator of steps blocking (a range reader's page requests included);
        its return value."""
        return run(self._pipeline(steps), self._execute)

    def _records(self, steps: Steps) -> Iterator[dict[str, Any]]:
        for page in stream(self._pipeline(steps), self._execute):
            yield from page.records

    def _execute(self, effect: Any) -> Any:
        if isinstance(effect, Exchange):
            return self._exchange(effect)
        if isinstance(effect, Blocking):
            return effect.function(*effect.args)
        if isinstance(effect, Sleep):
            return time.sleep(effect.seconds)
        if isinstance(effect, Connect):
            return self.get_connection(effect.conn_id)
        raise TypeError(f"not a hook step: {effect!r}")

    def _exchange(self, step: Exchange) -> httpx.Response:
        runtime, tenant = step.runtime, step.runtime.tenant_key
        if self._client is None:
            self._client = httpx.Client(**runtime.client_options())
        with runtime.governor.slot(tenant):
            while True:  # a unit that aged past its use while waiting for a slot: another
                runtime.budget.take(tenant, MAX_TOTAL_SECONDS)
                with runtime.slots.hold(tenant, MAX_TOTAL_SECONDS):
                    if runtime.budget.fresh(tenant):
                        response = self._client.request(
                            step.method,
                            step.url,
                            params=step.params,
                            json=step.json,
                            headers=step.headers,
                        )
                        break
        runtime.budget.observe(tenant, response.status_code, response.headers)
        return response

    def _ready(self) -> Runtime:
        """The runtime built from the connection (read once, on first use)."""
        return self._runtime or self.drive(self._runtime_steps())

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.drive(self._send_steps(method, url, **kwargs))

    # --- what only a task needs -------------------------------------------------------

    @property
    def config(self) -> XeroConnectionConfig:
        """The parsed connection."""
        return self._ready().config

    def write_ledger(self) -> tuple[WriteLedger, str]:
        """The durable write ledger and the organisation key its rows are scoped by, for
        callers that keep their own per-record index beside the hook's chunk entries."""
        runtime = self._ready()
        return runtime.ledger, runtime.tenant_id or "-"

    @property
    def client(self) -> httpx.Client:
        """The HTTP client (keep-alive connections), made on first use."""
        if self._client is None:
            self._client = httpx.Client(**self._ready().client_options())
        return self._client

    def close(self) -> None:
        """Close the HTTP client; give back rate-budget units and call slots kept but unused."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._runtime is not None:
            self._runtime.budget.release(self._runtime.tenant_key)
            self._runtime.slots.release_kept()
            self._runtime.flush_egress()

    def revoke(self) -> None:
        """Revoke the refresh token at Xero (disconnects the app) and forget the tokens."""
        self._ready().tokens.revoke()

    @property
    def egress(self) -> EgressTally:
        """Bytes Xero sent this hook so far, per resource (added to the shared log on close)."""
        return self._ready().tally

    # The api-server tests a copy of a connection under a random id; the connect plugin
    # sets this to trace the copy back to the real connection (its grant key and name).
    # The hook never imports ``connect``: the configuration to test is handed in.
    connection_test_config: ClassVar[ConfigResolver | None] = None

    def test_connection(self, config: XeroConnectionConfig | None = None) -> tuple[bool, str]:
        """Power the UI's Test button: reach Xero with these credentials; never raises.

        :param config: the configuration to test; by default this connection's, passed
            through :attr:`connection_test_config` when the connect plugin set one.
        """
        try:
            if config is None:
                config = self.config
                resolver = type(self).connection_test_config
                if resolver is not None:
                    config = resolver(config)
            if config is not self.config:
                self._adopt(config)  # calls now use the real connection's grant and name
            return self._reach_xero(config.conn_id)
        except XeroError as error:
            return False, str(error)
        except Exception as error:  # the Test button must always get an answer
            return False, f"{type(error).__name__}: {error}"

    def _reach_xero(self, name: str) -> tuple[bool, str]:
        tenants = self.get_tenants()
        if not self.tenant_id:
            return True, f"connection '{name}': connected; {len(tenants)} organisation(s) available"
        wanted = self.tenant_id.lower()
        if not any(str(t.get("tenantId", "")).lower() == wanted for t in tenants):
            return False, (
                f"connection '{name}': authorised, but organisation {self.tenant_id} is "
                f"not among the {len(tenants)} this authorisation may use; connect it "
                "again from the Xero connect page (/xero/) or `python -m "
                "xero_provider.auth connect`"
            )
        org = self.call("GET", "Organisation")["Organisations"][0]
        return True, (
            f"connection '{name}': connected to {org.get('Name')} (tenant {self.tenant_id})"
        )


class XeroAsyncHook(_XeroHookBase):
    """The async twin of :class:`XeroHook` for triggers: the same operations, each
    returning an awaitable (``iter_records`` an async iterator), driven on an event loop.

    Blocking work (tokens, ledger, rate budget) runs in a worker thread, so the loop
    never blocks.
    """

    def __init__(
        self,
        xero_conn_id: str = _XeroHookBase.default_conn_name,
        tenant_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(xero_conn_id, tenant_id, **kwargs)
        self._async_client: httpx.AsyncClient | None = None

    # --- the async driver -------------------------------------------------------------

    async def drive(self, steps: Steps) -> Any:
        """As :meth:`XeroHook.drive`, on the event loop."""
        return await arun(self._pipeline(steps), self._execute)

    async def _records(self, steps: Steps) -> AsyncIterator[dict[str, Any]]:
        async for page in astream(self._pipeline(steps), self._execute):
            for record in page.records:
                yield record

    async def _execute(self, effect: Any) -> Any:
        if isinstance(effect, Exchange):
            return await self._exchange(effect)
        if isinstance(effect, Blocking):
            return await asyncio.to_thread(effect.function, *effect.args)
        if isinstance(effect, Sleep):
            return await asyncio.sleep(effect.seconds)
        if isinstance(effect, Connect):
            return await self.aget_connection(effect.conn_id)
        raise TypeError(f"not a hook step: {effect!r}")

    async def _exchange(self, step: Exchange) -> httpx.Response:
        runtime, tenant = step.runtime, step.runtime.tenant_key
        if self._async_client is None:  # its TLS context loads CA files: not on the loop
            client = await asyncio.to_thread(httpx.AsyncClient, **runtime.client_options())
            if self._async_client is None:
                self._async_client = client
            else:  # another call made one meanwhile
                await client.aclose()
        async with runtime.governor.aslot(tenant):
            while True:  # as in XeroHook._exchange: a unit aged past its use, another
                await runtime.budget.atake(tenant, MAX_TOTAL_SECONDS)
                async with runtime.slots.ahold(tenant, MAX_TOTAL_SECONDS):
                    if runtime.budget.fresh(tenant):
                        response = await self._async_client.request(
                            step.method,
                            step.url,
                            params=step.params,
                            json=step.json,
                            headers=step.headers,
                        )
                        break
        await runtime.budget.aobserve(tenant, response.status_code, response.headers)
        return response

    async def _aready(self) -> Runtime:
        return self._runtime or await self.drive(self._runtime_steps())

    async def aconfig(self) -> XeroConnectionConfig:
        """The parsed connection, read without blocking the event loop."""
        return (await self._aready()).config

    async def aclose(self) -> None:
        """As :meth:`XeroHook.close`."""
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None
        if self._runtime is not None:
            await asyncio.to_thread(self._runtime.budget.release, self._runtime.tenant_key)
            await asyncio.to_thread(self._runtime.slots.release_kept)
            await asyncio.to_thread(self._runtime.flush_egress)
