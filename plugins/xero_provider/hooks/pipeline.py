"""The one request pipeline both hooks run: connection, checks, retries, pacing, paging.

:class:`XeroPipeline` holds what a Xero call needs, written once as generators of steps
(``driver.py``): the runtime read from the connection on first use, one call with its
checked target and tier, its retries (``retrying.retried``), its token refresh and
pacing (an :class:`~xero_provider.hooks.driver.Exchange` the driver paces), Xero's
refusals as typed errors, and the page requests of ``paging.walk`` answered through
it. The hooks subclass it and add a driver each: ``XeroHook`` blocking,
``XeroAsyncHook`` on an event loop.
"""

from __future__ import annotations

from typing import Any

import httpx
from airflow.sdk import BaseHook

from xero_provider.auth import oauth
from xero_provider.config import XeroConnectionConfig
from xero_provider.exceptions import XeroNetworkError
from xero_provider.hooks.driver import Blocking, Connect, Exchange, Steps, collect, relay
from xero_provider.hooks.paging import Page, PageRequest, walk
from xero_provider.hooks.planning import ListPlan
from xero_provider.hooks.responses import body_of, raise_for_xero
from xero_provider.hooks.retrying import SAFE_METHODS, retried, retry_kwargs
from xero_provider.hooks.runtime import Runtime
from xero_provider.resources import Resource, get_resource
from xero_provider.tiers import at_least, tier_error


class XeroPipeline(BaseHook):
    """Connection, tenant and the steps of one call, shared by the sync and async hooks."""

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
        self._runtime: Runtime | None = None
        self._policies: dict[bool, dict[str, Any]] = {}

    def drive(self, steps: Steps) -> Any:
        """Run a generator of steps (page requests included) to its return value: the
        value itself (sync hook) or an awaitable of it (async hook)."""
        raise NotImplementedError

    # --- connection -----------------------------------------------------------------

    def _accept_connection(self, conn: Any) -> Runtime:
        config = XeroConnectionConfig.from_connection(conn)
        oauth.register_literal(config.client_secret)
        oauth.register_secrets(config.bootstrap_refresh_token)
        return self._adopt(config)

    def _adopt(self, config: XeroConnectionConfig) -> Runtime:
        """Work with ``config`` from now on (the Test button swaps in the real connection's
        grant for the UI's test copy): the runtime is rebuilt from it."""
        self._config = config
        self._runtime = Runtime.build(config, self._tenant_override or config.tenant_id)
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
    def _check_tier(runtime: Runtime, resource: Resource | None) -> None:
        """Refuse, before any call, a resource the connection's app tier does not include."""
        if resource is None or resource.min_tier is None:
            return
        tier = runtime.config.app_tier
        if tier is not None and not at_least(tier, resource.min_tier):
            raise tier_error(resource, tier.name, runtime.config.conn_id)

    @staticmethod
    def _check(
        runtime: Runtime,
        response: httpx.Response,
        resource: Resource | None,
        positions: list[int] | None,
        json: Any = None,
    ) -> None:
        """Raise the typed error for a refusal (the body is only parsed when there is one)."""
        if response.status_code < 400:
            return
        if response.status_code == 401 and resource is not None and resource.min_tier:
            body = body_of(response)
            if isinstance(body, dict) and body.get("Detail") == "AuthorizationUnsuccessful":
                raise tier_error(resource, None, runtime.config.conn_id, status=401)
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

    # --- the steps of a call ------------------------------------------------------------

    def _runtime_steps(self) -> Steps:
        """The runtime built from the connection, read once, on first use (the
        constructor does no I/O)."""
        if self._runtime is None:
            conn = yield Connect(self.xero_conn_id)
            yield Blocking(self._accept_connection, (conn,))
        return self._runtime

    def _send_steps(
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
    ) -> Steps:
        """One call: checked target and tier, then attempts under the retry policy; each
        attempt refreshes the token first when needed (a refresh must not eat the rate
        unit's window), is paced, counted and checked. Returns the ``httpx.Response``."""
        runtime = yield from self._runtime_steps()
        target = runtime.target(url)
        self._check_tier(runtime, resource)
        exchange = Exchange(
            runtime, method, target, params, json, self._request_headers(headers, idempotency_key)
        )
        attempts = 0

        def attempt() -> Steps:
            nonlocal attempts
            attempts += 1
            if runtime.tokens.cached_token() is None:
                yield Blocking(runtime.tokens.access_token)
            response = yield exchange
            runtime.count_egress(resource, target, response)
            self._check(runtime, response, resource, positions, json)
            return response

        try:
            return (
                yield from retried(self._retry(runtime.config, method, idempotency_key), attempt)
            )
        except httpx.TransportError as error:
            raise self._network_error(error, method, target, attempts) from error

    def _body_steps(self, method: str, url: str, **kwargs: Any) -> Steps:
        """As :meth:`_send_steps`, returning the parsed body."""
        return body_of((yield from self._send_steps(method, url, **kwargs)))

    def _page_steps(self, request: PageRequest) -> Steps:
        """Answer a :class:`PageRequest` (from ``paging.walk`` or a range reader)."""
        return (
            yield from self._body_steps(
                "GET",
                request.path,
                resource=request.resource,
                params=request.params,
                headers=request.headers,
            )
        )

    def _pipeline(self, steps: Steps) -> Steps:
        """``steps`` with each page request answered through this hook's pipeline."""
        return relay(steps, lambda e: self._page_steps(e) if isinstance(e, PageRequest) else None)

    @staticmethod
    def _list_plans(resource: str | Resource, filters: dict[str, Any]) -> list[ListPlan]:
        return ListPlan.build_all(get_resource(resource), **filters)

    def _list_steps(self, resource: str | Resource, filters: dict[str, Any]) -> Steps:
        """Emit the pages of every plan for these filters (all checked before any call)."""
        for plan in self._list_plans(resource, filters):
            yield from walk(plan)

    def _read_all_steps(self, plans: list[ListPlan]) -> Steps:
        pages: list[Page] = []
        for plan in plans:
            pages += yield from collect(walk(plan))
        return [record for page in pages for record in page.records]
