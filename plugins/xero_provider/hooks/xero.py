"""XeroHook and XeroAsyncHook: every Xero call goes through one pipeline.

The pipeline: OAuth bearer and tenant headers (``XeroAuth``, which also refreshes
tokens under the token store's lock), per-organisation concurrency and header-driven
pacing (``RateGovernor``), retries with backoff (``retry_kwargs``), and Xero's error
bodies turned into typed exceptions (``raise_for_xero``). Reads page at the largest
page Xero allows; writes are chunked, keyed and recorded in the durable ledger.

The sync and async hooks share all of that through :class:`_XeroHookBase` and the
plan objects in ``planning.py``; each only drives its own HTTP client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import date, datetime
from functools import cached_property
from typing import Any

import httpx
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from tenacity import AsyncRetrying, Retrying

from xero_provider.auth.token_store import TokenStore
from xero_provider.auth.tokens import TokenManager, XeroAuth
from xero_provider.config import XeroConnectionConfig
from xero_provider.exceptions import RecordResult, XeroNotFoundError, XeroValidationError
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
from xero_provider.hooks.responses import body_of, raise_for_xero
from xero_provider.hooks.retrying import SAFE_METHODS, retry_kwargs
from xero_provider.resources import Resource, get_resource

log = logging.getLogger(__name__)
USER_AGENT = "airflow-provider-xero/0.1"


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
        self._policies: dict[bool, dict[str, Any]] = {}

    # --- connection -----------------------------------------------------------------

    def _accept_connection(self, conn: Any) -> XeroConnectionConfig:
        config = XeroConnectionConfig.from_connection(conn)
        for secret in config.secrets():
            mask_secret(secret)
        self._config = config
        return config

    @property
    def tenant_id(self) -> str | None:
        """The organisation this hook works on (constructor argument, else the connection's)."""
        return self._tenant_override or (self._config.tenant_id if self._config else None)

    def _tenant_key(self) -> str:
        return self.tenant_id or f"app:{self._config.client_id if self._config else '-'}"

    @cached_property
    def _token_store(self) -> TokenStore:
        return TokenStore.for_config(self._config)

    @cached_property
    def _tokens(self) -> TokenManager:
        return TokenManager(self._config, self._token_store)

    @cached_property
    def _governor(self) -> RateGovernor:
        return governor_for(self._config.rate_window_seconds)

    def _client_options(self) -> dict[str, Any]:
        config = self._config
        return {
            "base_url": config.accounting_url,
            "auth": XeroAuth(self._tokens, self.tenant_id),
            "timeout": config.timeout,
            "headers": {"User-Agent": USER_AGENT, "Accept": "application/json"},
        }

    def _retry(self, method: str, idempotency_key: str | None) -> dict[str, Any]:
        """The retry policy for this kind of call, built once per hook (it is on the hot path)."""
        safe = method.upper() in SAFE_METHODS or bool(idempotency_key)
        policy = self._policies.get(safe)
        if policy is None:
            policy = retry_kwargs(
                "GET" if safe else method, safe, max_attempts=self._config.max_retries
            )
            self._policies[safe] = policy
        return policy

    @staticmethod
    def _request_headers(headers: dict[str, str] | None, idempotency_key: str | None) -> dict:
        out = dict(headers or {})
        if idempotency_key:
            out["Idempotency-Key"] = idempotency_key
        return out

    def _check(self, response: httpx.Response, resource: Resource | None) -> None:
        """Raise the typed error for a refusal (the body is only parsed when there is one)."""
        raise_for_xero(
            response,
            resource=resource.name if resource else None,
            id_field=resource.id_field if resource else None,
            tenant_id=self.tenant_id,
        )

    def _ledger_hit(self, chunk: WriteChunk) -> list[RecordResult] | None:
        """Results of an earlier run that wrote this very chunk under the same key."""
        if chunk.ledger_key is None:
            return None
        entry = self._token_store.ledger_get(chunk.ledger_key)
        if entry is None:
            return None
        if entry.payload_hash != chunk.payload_hash:
            raise XeroValidationError(
                f"idempotency key {chunk.ledger_key!r} was already used for different records; "
                "use a new key for new data",
                status=None,
            )
        log.info("Chunk at record %d was written before under the same key; reusing", chunk.offset)
        return results_from_ledger(entry.results)

    def _ledger_record(self, chunk: WriteChunk, results: list[RecordResult]) -> None:
        if chunk.ledger_key is not None:
            self._token_store.ledger_put(
                chunk.ledger_key, chunk.payload_hash, results_to_ledger(results)
            )

    @staticmethod
    def _page_request(plan: ListPlan, page: int) -> dict[str, Any]:
        """Arguments of ``_send`` for one page of a list plan."""
        return {
            "resource": plan.resource,
            "params": plan.page_params(page),
            "headers": plan.headers,
        }

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
        rows = normalise_records(records)
        check_records(resource, rows, update=update)
        method = resource.update_method if update else resource.create_method
        return plan_writes(resource, rows, method=method, tenant_id=tenant, idempotency_key=key)


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

    @property
    def config(self) -> XeroConnectionConfig:
        """The parsed connection (read once, on first use: the constructor does no I/O)."""
        if self._config is None:
            self._accept_connection(self.get_connection(self.xero_conn_id))
        return self._config

    @cached_property
    def client(self) -> httpx.Client:
        self.config  # noqa: B018 - load the connection first
        return httpx.Client(**self._client_options())

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
            del self.__dict__["client"]

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
    ) -> httpx.Response:
        self.config  # noqa: B018
        tenant = self._tenant_key()
        request_headers = self._request_headers(headers, idempotency_key)
        for attempt in Retrying(**self._retry(method, idempotency_key)):
            with attempt:
                pause = self._governor.delay(tenant)
                if pause > 0:
                    time.sleep(pause)
                with self._governor.slot(tenant):
                    response = self.client.request(
                        method, url, params=params, json=json, headers=request_headers
                    )
                self._governor.observe(tenant, response.headers)
                self._check(response, resource)
        return response

    # --- public API -----------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any other Xero call, through the same pipeline; returns the parsed body.

        ``path`` is relative to the Accounting API (``Organisation``) or an absolute URL.
        Keyword arguments: ``params``, ``json``, ``headers``, ``idempotency_key``.
        """
        return body_of(self._send(method.upper(), path, **kwargs))

    def get_tenants(self) -> list[dict[str, Any]]:
        """The organisations this connection's authorisation may use (GET /connections)."""
        return body_of(self._send("GET", self.config.connections_url)) or []

    def revoke(self) -> None:
        """Revoke the refresh token at Xero (disconnects the app) and forget the tokens."""
        self.config  # noqa: B018
        self._tokens.revoke()

    def get(self, resource: str | Resource, record_id: str) -> dict[str, Any]:
        """One record by ID (or number where Xero allows it)."""
        spec = get_resource(resource)
        body = body_of(self._send("GET", f"{spec.path}/{record_id}", resource=spec))
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
    ) -> Iterator[dict[str, Any]]:
        """Yield records lazily, a page at a time, at the largest page Xero allows."""
        plan = ListPlan.build(
            get_resource(resource),
            where=where,
            order=order,
            modified_since=modified_since,
            statuses=statuses,
            ids=ids,
            page_size=page_size,
        )
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
        """Create records (one dict, a list or a DataFrame); one result per input record."""
        return self._write(get_resource(resource), records, update=False, key=idempotency_key)

    def update(
        self, resource: str | Resource, records: Any, *, idempotency_key: str | None = None
    ) -> list[RecordResult]:
        """Update records named by ID (or number); one result per input record."""
        return self._write(get_resource(resource), records, update=True, key=idempotency_key)

    def _write(self, spec: Resource, records: Any, *, update: bool, key: str | None):
        self.config  # noqa: B018
        chunks = self._write_plan(spec, records, update=update, tenant=self.tenant_id, key=key)
        method = spec.update_method if update else spec.create_method
        results: list[RecordResult] = []
        for chunk in chunks:
            reused = self._ledger_hit(chunk)
            if reused is not None:
                results.extend(reused)
                continue
            response = self._send(
                method,
                spec.path,
                resource=spec,
                params={"summarizeErrors": "false"},
                json={spec.list_key: chunk.records},
                idempotency_key=chunk.idempotency_key,
            )
            chunk_result = chunk_results(spec, chunk, body_of(response))
            self._ledger_record(chunk, chunk_result)
            results.extend(chunk_result)
        return results

    def test_connection(self) -> tuple[bool, str]:
        """Power the UI's Test button: reach Xero with these credentials; never raises.

        Works for the api-server's test copy too (see :mod:`xero_provider.connect.conn_check`).
        """
        from xero_provider.connect.conn_check import run

        return run(self)


class XeroAsyncHook(_XeroHookBase):
    """The async twin of :class:`XeroHook` for triggers: the same pipeline on an event loop."""

    async def aconfig(self) -> XeroConnectionConfig:
        """The parsed connection, read without blocking the event loop."""
        if self._config is None:
            self._accept_connection(await self.aget_connection(self.xero_conn_id))
        return self._config

    @cached_property
    def _async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(**self._client_options())

    async def aclose(self) -> None:
        if "_async_client" in self.__dict__:
            await self._async_client.aclose()
            del self.__dict__["_async_client"]

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
    ) -> httpx.Response:
        await self.aconfig()
        tenant = self._tenant_key()
        request_headers = self._request_headers(headers, idempotency_key)
        async for attempt in AsyncRetrying(**self._retry(method, idempotency_key)):
            with attempt:
                pause = self._governor.delay(tenant)
                if pause > 0:
                    await asyncio.sleep(pause)
                async with self._governor.aslot(tenant):
                    response = await self._async_client.request(
                        method, url, params=params, json=json, headers=request_headers
                    )
                self._governor.observe(tenant, response.headers)
                self._check(response, resource)
        return response

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any Xero call through the pipeline; returns the parsed body."""
        return body_of(await self._send(method.upper(), path, **kwargs))

    async def get_tenants(self) -> list[dict[str, Any]]:
        config = await self.aconfig()
        return body_of(await self._send("GET", config.connections_url)) or []

    async def get(self, resource: str | Resource, record_id: str) -> dict[str, Any]:
        spec = get_resource(resource)
        body = body_of(await self._send("GET", f"{spec.path}/{record_id}", resource=spec))
        return self._typed_record(spec, body, record_id)

    async def iter_records(
        self, resource: str | Resource, **filters: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield records a page at a time; filters as for :meth:`XeroHook.iter_records`."""
        plan = ListPlan.build(get_resource(resource), **filters)
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
