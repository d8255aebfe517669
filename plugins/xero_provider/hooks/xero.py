"""XeroHook and XeroAsyncHook: every Xero call goes through one pipeline.

The pipeline: OAuth bearer and tenant headers (``XeroAuth``, which also refreshes
tokens under the token store's lock), per-organisation concurrency and header-driven
pacing (``RateGovernor``), retries with backoff (``retry_kwargs``), and Xero's error
bodies turned into typed exceptions (``raise_for_xero``). Reads page at the largest
page Xero allows; writes are chunked, keyed and recorded in the durable ledger.

The sync and async hooks share all of that through :class:`_XeroHookBase`, the plan
objects in ``planning.py`` and one write flow (a generator of steps each hook drives
with its own client); each only drives its own HTTP client. Everything derived from the
connection (token store, token manager, write ledger, pacing) is built once from the
parsed config and passed explicitly, never read from an attribute that happens to be set.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

import httpx
from airflow.sdk import BaseHook
from tenacity import AsyncRetrying, Retrying

from xero_provider.auth import oauth
from xero_provider.auth.tokens import TokenManager, XeroAuth, is_under
from xero_provider.config import ConfigResolver, XeroConnectionConfig
from xero_provider.exceptions import (
    RecordResult,
    XeroError,
    XeroForeignHostError,
    XeroInputError,
    XeroNetworkError,
    XeroNotFoundError,
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
from xero_provider.hooks.pacing import RateGovernor, governor_for
from xero_provider.hooks.planning import (
    ListPlan,
    WriteChunk,
    check_records,
    chunk_results,
    normalise_records,
    plan_writes,
    results_from_ledger,
    results_to_ledger,
)
from xero_provider.hooks.reconcile import Reconciliation
from xero_provider.hooks.responses import body_of, raise_for_xero
from xero_provider.hooks.retrying import MAX_TOTAL_SECONDS, SAFE_METHODS, retry_kwargs
from xero_provider.hooks.serialise import json_value
from xero_provider.resources import Resource, get_resource
from xero_provider.state.call_slots import LEASE_MARGIN_SECONDS, CallSlots, slots_for
from xero_provider.state.rate_budget import Limits, RateBudget, Remaining, budget_for
from xero_provider.state.token_store import TokenStore
from xero_provider.state.write_ledger import WriteLedger

log = logging.getLogger(__name__)
_UNSAFE_PATH = re.compile(r"\.\.|\\|@|%2e|%2f|%5c", re.IGNORECASE)
USER_AGENT = "airflow-provider-xero/0.1"


@dataclass
class _Runtime:
    """Everything a hook derives from its parsed connection, built once per hook."""

    config: XeroConnectionConfig
    tenant_id: str | None
    store: TokenStore
    tokens: TokenManager
    governor: RateGovernor
    budget: RateBudget
    slots: CallSlots
    _ledger: WriteLedger | None = field(default=None, repr=False)

    @classmethod
    def build(cls, config: XeroConnectionConfig, tenant_id: str | None) -> _Runtime:
        store = TokenStore.for_config(config)
        limits = Limits.from_config(config)
        return cls(
            config=config,
            tenant_id=tenant_id,
            store=store,
            tokens=TokenManager(config, store),
            governor=governor_for(config.rate_window_seconds),
            budget=budget_for(store, config.client_id, limits),
            slots=slots_for(
                store,
                config.client_id,
                config.concurrent_calls,
                config.timeout + LEASE_MARGIN_SECONDS,
            ),
        )

    @property
    def ledger(self) -> WriteLedger:
        if self._ledger is None:
            self._ledger = WriteLedger(self.store, self.config.ledger_retention_days)
        return self._ledger

    @property
    def tenant_key(self) -> str:
        return self.tenant_id or f"app:{self.config.client_id}"

    def client_options(self) -> dict[str, Any]:
        config = self.config
        return {
            "base_url": config.accounting_url,
            "auth": XeroAuth(self.tokens, self.tenant_id, allowed_base=config.api_base_url),
            "timeout": config.timeout,
            "headers": {"User-Agent": USER_AGENT, "Accept": "application/json"},
        }

    def target(self, url: str) -> str:
        """The absolute URL for ``url`` (relative: under the Accounting API), refused when it
        lies outside the connection's API base, so credentials never leave Xero."""
        if not url.strip("/"):
            raise XeroInputError("path: empty; name an endpoint like 'Organisation'")
        if "://" not in url and not url.startswith(("/", "\\")) and not _UNSAFE_PATH.search(url):
            return f"{self.config.accounting_url}/{url}"  # the hot path: a plain relative path
        parsed = httpx.URL(url)
        if parsed.is_absolute_url or parsed.host or url.startswith("//"):
            absolute = parsed
        else:
            absolute = httpx.URL(self.config.accounting_url + "/" + url.lstrip("/"))
        if not is_under(absolute, httpx.URL(self.config.api_base_url)):
            raise XeroForeignHostError(
                f"refusing to call {absolute.scheme}://{absolute.host}{absolute.path}: the "
                f"connection's credentials only go to its API base {self.config.api_base_url}"
            )
        return str(absolute)


@dataclass(frozen=True)
class _Send:
    """A write-flow step: send this request through the pipeline; the flow gets the body."""

    method: str
    url: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class _ReadAll:
    """A write-flow step: list every record of these plans; the flow gets the records."""

    plans: list[ListPlan]


@dataclass(frozen=True)
class _Blocking:
    """A write-flow step: a blocking call (the ledger's database I/O)."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


_Step = _Send | _ReadAll | _Blocking


class _XeroHookBase(BaseHook):
    """What the sync and async hooks share: connection, tenant, plans and error mapping."""

    conn_name_attr = "xero_conn_id"
    default_conn_name = "xero_default"
    conn_type = "xero"
    hook_name = "Xero"

    def __init__(
        self, xero_conn_id: str = default_conn_name, tenant_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.xero_conn_id = xero_conn_id
        self._tenant_override = tenant_id
        self._config: XeroConnectionConfig | None = None
        self._runtime: _Runtime | None = None
        self._policies: dict[bool, dict[str, Any]] = {}

    # --- connection -----------------------------------------------------------------

    def _accept_connection(self, conn: Any) -> _Runtime:
        config = XeroConnectionConfig.from_connection(conn)
        oauth.register_literal(config.client_secret)
        oauth.register_secrets(config.bootstrap_refresh_token)
        return self._adopt(config)

    def _adopt(self, config: XeroConnectionConfig) -> _Runtime:
        """Work with ``config`` from now on (the Test button swaps in the real connection's
        grant for the UI's test copy): the runtime is rebuilt from it."""
        self._config = config
        self._runtime = _Runtime.build(config, self._tenant_override or config.tenant_id)
        return self._runtime

    @property
    def tenant_id(self) -> str | None:
        """The organisation this hook works on (constructor argument, else the connection's)."""
        return self._tenant_override or (self._config.tenant_id if self._config else None)

    def _retry(self, config: XeroConnectionConfig, method: str, key: str | None) -> dict:
        """The retry policy for this kind of call, built once per hook (it is on the hot path)."""
        safe = method.upper() in SAFE_METHODS or bool(key)
        policy = self._policies.get(safe)
        if policy is None:
            policy = retry_kwargs("GET" if safe else method, safe, max_attempts=config.max_retries)
            self._policies[safe] = policy
        return policy

    @staticmethod
    def _request_headers(headers: dict[str, str] | None, idempotency_key: str | None) -> dict:
        out = dict(headers or {})
        if idempotency_key:
            out["Idempotency-Key"] = idempotency_key
        return out

    @staticmethod
    def _check(
        runtime: _Runtime,
        response: httpx.Response,
        resource: Resource | None,
        positions: list[int] | None,
        json: Any = None,
    ) -> None:
        """Raise the typed error for a refusal (the body is only parsed when there is one)."""
        if response.status_code < 400:
            return
        sent = None
        if isinstance(json, dict) and len(json) == 1:
            only = next(iter(json.values()))
            sent = only if isinstance(only, list) else None
        raise_for_xero(
            response,
            resource=resource.name if resource else None,
            id_field=resource.id_field if resource else None,
            tenant_id=runtime.tenant_id,
            positions=positions,
            sent=sent,
        )

    @staticmethod
    def _network_error(
        error: httpx.TransportError, method: str, url: str, attempts: int
    ) -> XeroNetworkError:
        return XeroNetworkError(
            f"no answer from {method} {url} after {attempts} attempt(s): "
            f"{type(error).__name__}: {error}",
            url=url,
            attempts=attempts,
            method=method,
        )

    @staticmethod
    def _page_request(plan: ListPlan, page: int) -> dict[str, Any]:
        """Arguments of ``_send`` for one page of a list plan."""
        return {
            "resource": plan.resource,
            "params": plan.page_params(page),
            "headers": plan.headers,
        }

    @staticmethod
    def _record_url(spec: Resource, record_id: Any) -> str:
        segment = validation.record_path(
            record_id, allow_number=bool(spec.number_field) or not spec.id_field.endswith("ID")
        )
        return f"{spec.path}/{segment}"

    @staticmethod
    def _list_plans(resource: str | Resource, filters: dict[str, Any]) -> list[ListPlan]:
        return ListPlan.build_all(get_resource(resource), **filters)

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

    def _write_flow(
        self, runtime: _Runtime, spec: Resource, records: Any, *, update: bool, key: str | None
    ) -> Generator[_Step, Any, list[RecordResult]]:
        """Every step of a write, shared by both hooks: plan the whole input first, then per
        chunk reuse a recorded outcome, or reconcile an intent without one, or record the
        intent, send, and record the outcome."""
        chunks = self._write_plan(spec, records, update=update, tenant=runtime.tenant_id, key=key)
        method = spec.update_method if update else spec.create_method
        results: list[RecordResult] = []
        for chunk in chunks:
            positions = list(range(len(chunk.records)))
            settled: list[RecordResult] = []
            idempotency_key = chunk.idempotency_key
            attempt = 1
            if chunk.ledger_key is not None:
                entry = yield _Blocking(runtime.ledger.get, (chunk.ledger_key,))
                if entry is not None and entry.payload_hash != chunk.payload_hash:
                    raise XeroValidationError(
                        f"idempotency key {key!r} was already used for different records; "
                        "use a new key for new data",
                        status=None,
                        resource=spec.name,
                    )
                if entry is not None and entry.done:
                    log.info("Chunk at record %d was written before under this key", chunk.offset)
                    results.extend(results_from_ledger(entry.results or []))
                    continue
                if entry is not None:  # sent before, outcome never recorded
                    plan = Reconciliation.plan(spec, chunk, entry.updated_at, update=update)
                    found = (yield _ReadAll(plan.lookups)) if plan.lookups else []
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
                    yield _Blocking(
                        runtime.ledger.intend, (chunk.ledger_key, chunk.payload_hash, attempt)
                    )
            sent: list[RecordResult] = []
            if positions:
                body = yield _Send(
                    method,
                    spec.path,
                    {
                        "resource": spec,
                        "params": {"summarizeErrors": "false"},
                        "json": {spec.list_key: [chunk.records[p] for p in positions]},
                        "idempotency_key": idempotency_key,
                        "positions": [chunk.offset + p for p in positions],
                    },
                )
                sent = chunk_results(spec, chunk, body, positions)
            chunk_result = sorted(settled + sent, key=lambda r: r.index)
            if chunk.ledger_key is not None and not any(
                r.status == "UNRECONCILED" for r in chunk_result
            ):
                yield _Blocking(
                    runtime.ledger.record,
                    (chunk.ledger_key, chunk.payload_hash, results_to_ledger(chunk_result)),
                )
            results.extend(chunk_result)
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

    def _ready(self) -> _Runtime:
        """The runtime built from the connection (read once, on first use: the constructor
        does no I/O)."""
        if self._runtime is None:
            self._accept_connection(self.get_connection(self.xero_conn_id))
        return self._runtime

    @property
    def config(self) -> XeroConnectionConfig:
        """The parsed connection."""
        return self._ready().config

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

    # --- the one pipeline -------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        resource: Resource | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        positions: list[int] | None = None,
    ) -> httpx.Response:
        runtime = self._ready()
        target = runtime.target(url)
        tenant = runtime.tenant_key
        governor, budget, slots = runtime.governor, runtime.budget, runtime.slots
        client = self.client
        request_headers = self._request_headers(headers, idempotency_key)
        attempts = 0
        try:
            for attempt in Retrying(**self._retry(runtime.config, method, idempotency_key)):
                with attempt:
                    attempts += 1
                    runtime.tokens.access_token()  # a refresh must not eat the unit's window
                    with governor.slot(tenant):
                        budget.take(tenant, MAX_TOTAL_SECONDS)
                        with slots.hold(tenant, MAX_TOTAL_SECONDS):
                            response = client.request(
                                method, target, params=params, json=json, headers=request_headers
                            )
                    budget.observe(tenant, response.status_code, response.headers)
                    self._check(runtime, response, resource, positions, json)
        except httpx.TransportError as error:
            raise self._network_error(error, method, target, attempts) from error
        return response

    def _run(self, flow: Generator[_Step, Any, Any]) -> Any:
        """Drive a write flow: each step runs here, its answer goes back into the flow."""
        step = next(flow)
        while True:
            if isinstance(step, _Send):
                answer: Any = body_of(self._send(step.method, step.url, **step.kwargs))
            elif isinstance(step, _ReadAll):
                answer = [r for plan in step.plans for r in self._iter_plan(plan)]
            else:
                answer = step.function(*step.args)
            try:
                step = flow.send(answer)
            except StopIteration as done:
                return done.value

    # --- public API -----------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any other Xero call, through the same pipeline; returns the parsed body.

        ``path`` is relative to the Accounting API (``Organisation``) or an absolute URL
        under the connection's API base (anything else is refused: the token stays with
        Xero). Keyword arguments: ``params``, ``json``, ``headers``, ``idempotency_key``.
        """
        return body_of(self._send(method.upper(), path, **kwargs))

    def get_tenants(self) -> list[dict[str, Any]]:
        """The organisations this connection's authorisation may use (GET /connections)."""
        return body_of(self._send("GET", self.config.connections_url)) or []

    def revoke(self) -> None:
        """Revoke the refresh token at Xero (disconnects the app) and forget the tokens."""
        self._ready().tokens.revoke()

    def remaining_calls(self) -> Remaining:
        """What is left of this organisation's minute and day and the app's minute, as the
        budget shared by every process using the token store knows it (no call made)."""
        runtime = self._ready()
        return runtime.budget.remaining(runtime.tenant_key)

    def get(self, resource: str | Resource, record_id: str) -> dict[str, Any]:
        """One record by ID (or number where Xero allows it)."""
        spec = get_resource(resource)
        body = body_of(self._send("GET", self._record_url(spec, record_id), resource=spec))
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
        unitdp: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield records lazily, a page at a time, at the largest page Xero allows.

        All filters are checked before the first call; a long ``ids`` list is split into
        calls whose URL Xero accepts.

        :param include_archived: also list ARCHIVED records, which Xero's lists leave out
            (``includeArchived=true``: Contacts, Invoices and their typed views,
            TrackingCategories; any other resource is refused before a call).
        :param include_deleted: also list DELETED bank transfers (``includeDeleted=true``:
            BankTransfers only).
        :param unitdp: 4 for unit amounts at 4 decimal places (Xero rounds them to 2
            otherwise); only where the resource table's ``takes_unitdp`` says Xero takes it.
        """
        plans = self._list_plans(
            resource,
            {
                "where": where,
                "order": order,
                "modified_since": modified_since,
                "statuses": statuses,
                "ids": ids,
                "page_size": page_size,
                "include_archived": include_archived,
                "include_deleted": include_deleted,
                "unitdp": unitdp,
            },
        )
        for plan in plans:
            yield from self._iter_plan(plan)

    def _iter_plan(self, plan: ListPlan) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = body_of(self._send("GET", plan.resource.path, **self._page_request(plan, page)))
            records = plan.records_of(body)
            yield from records
            if plan.is_last_page(page, body, records):
                return
            page += 1

    def get_dataframe(self, resource: str | Resource, **filters: Any) -> Any:
        """The records of :meth:`iter_records` as a pandas DataFrame, dates parsed to UTC."""
        from xero_provider.hooks.frames import records_to_dataframe

        spec = get_resource(resource)
        return records_to_dataframe(self.iter_records(spec, **filters), spec)

    def create(
        self, resource: str | Resource, records: Any, *, idempotency_key: str | None = None
    ) -> list[RecordResult]:
        """Create records (one dict, a list or a DataFrame); one result per input record.

        The whole input is serialised and checked before the first request. With an
        ``idempotency_key`` a rerun reuses recorded outcomes and reconciles chunks whose
        outcome was never recorded (status ``RECONCILED`` / ``UNRECONCILED``).
        """
        spec = get_resource(resource)
        runtime = self._ready()
        return self._run(
            self._write_flow(runtime, spec, records, update=False, key=idempotency_key)
        )

    def update(
        self, resource: str | Resource, records: Any, *, idempotency_key: str | None = None
    ) -> list[RecordResult]:
        """Update records named by ID (or number); one result per input record."""
        spec = get_resource(resource)
        runtime = self._ready()
        return self._run(self._write_flow(runtime, spec, records, update=True, key=idempotency_key))

    def act(
        self,
        resource: str | Resource,
        items: Sequence[tuple[str, Any]],
        *,
        method: str = "POST",
        action: str | None = None,
        list_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[RecordResult]:
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
        runtime = self._ready()
        bodies = [
            (record_id, json_value(body, f"items[{index}]"))
            for index, (record_id, body) in enumerate(items)
        ]
        calls = plan_actions(
            spec,
            bodies,
            method=method.upper(),
            action=action,
            tenant_id=runtime.tenant_id,
            idempotency_key=idempotency_key,
        )
        results: list[RecordResult] = []
        for call in calls:
            chunk = call.chunk
            if chunk.ledger_key is not None:
                entry = runtime.ledger.get(chunk.ledger_key)
                if entry is not None and entry.payload_hash != chunk.payload_hash:
                    raise XeroValidationError(
                        f"idempotency key {idempotency_key!r} was already used for a different "
                        f"{spec.name} {call.record_id} call; use a new key for new data",
                        status=None,
                        resource=spec.name,
                    )
                if entry is not None and entry.done:
                    results.extend(results_from_ledger(entry.results or []))
                    continue
                if entry is not None and not replay_is_safe(entry.updated_at):
                    results.append(unreconciled_result(call))
                    continue
                runtime.ledger.intend(chunk.ledger_key, chunk.payload_hash)
            try:
                response = self._send(
                    method.upper(),
                    call.path,
                    resource=spec,
                    json=chunk.records[0],
                    idempotency_key=chunk.idempotency_key,
                )
            except (XeroValidationError, XeroNotFoundError) as error:
                results.append(refused_result(call, error))
                continue
            result = action_result(call, body_of(response), list_key, spec.id_field)
            if chunk.ledger_key is not None:
                runtime.ledger.record(
                    chunk.ledger_key, chunk.payload_hash, results_to_ledger([result])
                )
            results.append(result)
        return results

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
    """The async twin of :class:`XeroHook` for triggers: the same pipeline on an event loop.

    Reads, DataFrame reads and writes behave exactly as the sync hook's (one write flow);
    database I/O (tokens, ledger) runs in a worker thread so the loop never blocks.
    """

    def __init__(
        self,
        xero_conn_id: str = _XeroHookBase.default_conn_name,
        tenant_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(xero_conn_id, tenant_id, **kwargs)
        self._async_client: httpx.AsyncClient | None = None

    async def _aready(self) -> _Runtime:
        if self._runtime is None:
            conn = await self.aget_connection(self.xero_conn_id)
            await asyncio.to_thread(self._accept_connection, conn)
        return self._runtime

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

    async def _send(
        self,
        method: str,
        url: str,
        *,
        resource: Resource | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        positions: list[int] | None = None,
    ) -> httpx.Response:
        runtime = await self._aready()
        target = runtime.target(url)
        tenant = runtime.tenant_key
        governor, budget, slots = runtime.governor, runtime.budget, runtime.slots
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(**runtime.client_options())
        client = self._async_client
        request_headers = self._request_headers(headers, idempotency_key)
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                **self._retry(runtime.config, method, idempotency_key)
            ):
                with attempt:
                    attempts += 1
                    if runtime.tokens.cached_token() is None:  # refresh before taking a unit
                        await asyncio.to_thread(runtime.tokens.access_token)
                    async with governor.aslot(tenant):
                        await budget.atake(tenant, MAX_TOTAL_SECONDS)
                        async with slots.ahold(tenant, MAX_TOTAL_SECONDS):
                            response = await client.request(
                                method, target, params=params, json=json, headers=request_headers
                            )
                    await budget.aobserve(tenant, response.status_code, response.headers)
                    self._check(runtime, response, resource, positions, json)
        except httpx.TransportError as error:
            raise self._network_error(error, method, target, attempts) from error
        return response

    async def _run(self, flow: Generator[_Step, Any, Any]) -> Any:
        step = next(flow)
        while True:
            if isinstance(step, _Send):
                answer: Any = body_of(await self._send(step.method, step.url, **step.kwargs))
            elif isinstance(step, _ReadAll):
                answer = [r for plan in step.plans async for r in self._iter_plan(plan)]
            else:
                answer = await asyncio.to_thread(step.function, *step.args)
            try:
                step = flow.send(answer)
            except StopIteration as done:
                return done.value

    async def remaining_calls(self) -> Remaining:
        """As :meth:`XeroHook.remaining_calls`."""
        runtime = await self._aready()
        return await asyncio.to_thread(runtime.budget.remaining, runtime.tenant_key)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any Xero call through the pipeline; returns the parsed body."""
        return body_of(await self._send(method.upper(), path, **kwargs))

    async def get_tenants(self) -> list[dict[str, Any]]:
        config = await self.aconfig()
        return body_of(await self._send("GET", config.connections_url)) or []

    async def get(self, resource: str | Resource, record_id: str) -> dict[str, Any]:
        spec = get_resource(resource)
        body = body_of(await self._send("GET", self._record_url(spec, record_id), resource=spec))
        return self._typed_record(spec, body, record_id)

    async def iter_records(
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
        unitdp: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield records a page at a time; filters as for :meth:`XeroHook.iter_records`,
        all checked before the first call."""
        filters = {
            "where": where,
            "order": order,
            "modified_since": modified_since,
            "statuses": statuses,
            "ids": ids,
            "page_size": page_size,
            "include_archived": include_archived,
            "include_deleted": include_deleted,
            "unitdp": unitdp,
        }
        for plan in self._list_plans(resource, filters):
            async for record in self._iter_plan(plan):
                yield record

    async def _iter_plan(self, plan: ListPlan) -> AsyncIterator[dict[str, Any]]:
        page = 1
        while True:
            response = await self._send("GET", plan.resource.path, **self._page_request(plan, page))
            body = body_of(response)
            records = plan.records_of(body)
            for record in records:
                yield record
            if plan.is_last_page(page, body, records):
                return
            page += 1

    async def get_dataframe(self, resource: str | Resource, **filters: Any) -> Any:
        """The records of :meth:`iter_records` as a pandas DataFrame, dates parsed to UTC."""
        from xero_provider.hooks.frames import records_to_dataframe

        spec = get_resource(resource)
        records = [r async for r in self.iter_records(spec, **filters)]
        return records_to_dataframe(records, spec)

    async def create(
        self, resource: str | Resource, records: Any, *, idempotency_key: str | None = None
    ) -> list[RecordResult]:
        """As :meth:`XeroHook.create`."""
        spec = get_resource(resource)
        runtime = await self._aready()
        flow = self._write_flow(runtime, spec, records, update=False, key=idempotency_key)
        return await self._run(flow)

    async def update(
        self, resource: str | Resource, records: Any, *, idempotency_key: str | None = None
    ) -> list[RecordResult]:
        """As :meth:`XeroHook.update`."""
        spec = get_resource(resource)
        runtime = await self._aready()
        flow = self._write_flow(runtime, spec, records, update=True, key=idempotency_key)
        return await self._run(flow)
