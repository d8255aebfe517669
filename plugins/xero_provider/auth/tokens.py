"""Hand out a valid access token, refreshing it exactly once however many processes ask.

The rule that makes rotation safe: a refresh happens only while holding the store's lock
for the token key, the token set is re-read inside the lock (another process may have
refreshed already: then its tokens are used and no request is sent), and the new token
set is committed before anyone uses it. A refresh whose response was lost is retried by
:mod:`.oauth` with the same refresh token, which Xero honours for 30 minutes; nothing is
written until a refresh succeeds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from xero_provider.auth import oauth
from xero_provider.config import XeroConnectionConfig
from xero_provider.exceptions import (
    XeroAuthError,
    XeroForeignHostError,
    XeroReauthorizationRequired,
)
from xero_provider.state.token_store import TokenSet, TokenStore

REFRESH_TOKEN_DAYS = 60  # Xero expires a refresh token left unused this long

log = logging.getLogger(__name__)


class TokenManager:
    """Tokens for one connection, kept in a :class:`TokenStore` under ``config.token_key``.

    :param config: the parsed ``xero`` connection.
    :param store: the shared store; by default the one the connection names.
    """

    def __init__(self, config: XeroConnectionConfig, store: TokenStore | None = None) -> None:
        self.config = config
        self.store = store if store is not None else TokenStore.for_config(config)
        self._cached: TokenSet | None = None
        self._lock = threading.Lock()  # one refresh at a time within this process
        oauth.register_literal(config.client_secret)
        oauth.register_secrets(config.bootstrap_refresh_token)

    @classmethod
    def from_conn_id(cls, conn_id: str) -> TokenManager:
        """Read the Airflow connection and open the store it names."""
        from airflow.sdk import BaseHook

        return cls(XeroConnectionConfig.from_connection(BaseHook.get_connection(conn_id)))

    @property
    def key(self) -> str:
        return self.config.token_key

    def __repr__(self) -> str:
        return f"TokenManager(conn_id={self.config.conn_id!r}, key={self.key!r}, {self.store!r})"

    # ------------------------------------------------------------------ public API

    def cached_token(self, margin_seconds: float = 120) -> TokenSet | None:
        """This process's token set if it is still valid for ``margin_seconds`` (no I/O)."""
        cached = self._cached
        if cached is not None and cached.access_token and not cached.expires_within(margin_seconds):
            return cached
        return None

    def access_token(self, margin_seconds: float = 120) -> TokenSet:
        """A token set whose access token is valid for at least ``margin_seconds`` more."""

        def fresh(current: TokenSet) -> bool:
            return not current.expires_within(margin_seconds)

        cached = self.cached_token(margin_seconds)
        if cached is not None:
            return cached
        with self._lock:
            stored = self.store.load(self.key)
            if stored is not None and stored.access_token and fresh(stored):
                return self._remember(stored)
            return self._renew(fresh)[0]

    def refresh_after_401(self, stale_access_token: str) -> TokenSet:
        """Xero said 401 to ``stale_access_token``: refresh, unless another process did."""
        with self._lock:
            return self._renew(lambda current: current.access_token != stale_access_token)[0]

    def bootstrap(self, refresh_token: str) -> TokenSet:
        """Start the chain from a refresh token obtained elsewhere, replacing stored tokens."""
        oauth.register_secrets(refresh_token)
        with self._lock:
            return self._store_response(lambda _current: oauth.refresh(self.config, refresh_token))

    def save_token_response(self, body: dict[str, Any]) -> TokenSet:
        """Store the answer of a code exchange (the CLI's and the connect page's last step)."""
        with self._lock:
            return self._store_response(lambda _current: body)

    def revoke(self) -> bool:
        """Revoke the stored refresh token at Xero and forget the tokens; False if none."""
        with self._lock, self.store.locked(self.key) as slot:
            current = slot.current
            if current is not None and current.refresh_token:
                oauth.revoke(self.config, current.refresh_token)
            slot.delete()
            self._cached = None
        return current is not None

    def keepalive(self, max_age_days: float = 30) -> bool:
        """Refresh when the refresh token is older than ``max_age_days``; True if it did.

        Xero expires refresh tokens unused for 60 days: a connection only used by a
        monthly DAG would otherwise need a person to authorise it again.
        """
        if self.config.auth_mode == "client_credentials":
            return False
        limit = timedelta(days=max_age_days)

        def young(current: TokenSet) -> bool:
            return datetime.now(UTC) - current.issued_at < limit

        with self._lock:
            stored = self.store.load(self.key)
            if stored is not None and young(stored):
                return False
            return self._renew(young)[1]

    # ------------------------------------------------------------------ internals

    def _remember(self, token_set: TokenSet) -> TokenSet:
        oauth.register_secrets(*token_set.secrets())
        self._cached = token_set
        return token_set

    def _renew(self, still_good: Callable[[TokenSet], bool]) -> tuple[TokenSet, bool]:
        """Under the store lock: keep the stored set if ``still_good``, else get a new one.

        Returns the token set and whether a token request was made. The new set is
        committed when the ``locked`` block exits, before this returns. A refresh token
        Xero refused for good (``invalid_grant``) is recorded in the store, so every other
        worker raises the same re-authorise error at once without calling Xero.
        """
        refused: XeroReauthorizationRequired | None = None
        with self.store.locked(self.key) as slot:
            current = slot.current
            if current is not None:
                oauth.register_secrets(*current.secrets())
                if current.access_token and still_good(current):
                    return self._remember(current), False
                refused = self._recorded_refusal(current)
                if not current.access_token:
                    current = None  # only a refusal mark of a bootstrap token
            if refused is None:
                sent_at = datetime.now(UTC)
                try:
                    body = self._grant(current)
                except XeroReauthorizationRequired as error:
                    refused = error
                    slot.save(self._refusal_mark(current, error))
                else:
                    fresh = TokenSet.from_response(body, sent_at, previous=current)
                    slot.save(fresh)
        if refused is not None:
            self._cached = None
            raise refused
        log.info(
            "Xero connection %s: new access token, valid until %s (token key %s)",
            self.config.conn_id,
            fresh.expires_at.isoformat(timespec="seconds"),
            self.key,
        )
        return self._remember(fresh), True

    def _refresh_token_for(self, current: TokenSet | None) -> str | None:
        """The refresh token the next grant would spend."""
        if current is not None and current.refresh_token:
            return current.refresh_token
        return self.config.bootstrap_refresh_token

    @staticmethod
    def _digest(token: str | None) -> str:
        return hashlib.sha256((token or "").encode()).hexdigest()

    def _recorded_refusal(self, current: TokenSet) -> XeroReauthorizationRequired | None:
        """The stored invalid_grant, when it was about the token we would send now."""
        if not current.dead_reason:
            return None
        if current.dead_token != self._digest(self._refresh_token_for(current)):
            return None  # a new refresh token (connection extra) since: try it
        return XeroReauthorizationRequired(
            f"{current.dead_reason} (recorded in the token store; no call was made)",
            status=400,
            method="POST",
            resource=oauth.TOKEN_PATH,
            xero_type="invalid_grant",
        )

    def _refusal_mark(
        self, current: TokenSet | None, error: XeroReauthorizationRequired
    ) -> TokenSet:
        digest = self._digest(self._refresh_token_for(current))
        if current is None:  # a refused bootstrap token: a mark without tokens
            current = TokenSet(
                access_token="", refresh_token=None, expires_at=datetime.fromtimestamp(0, UTC)
            )
        return current.marked_dead(error.message, digest)

    def _store_response(self, obtain: Callable[[TokenSet | None], dict[str, Any]]) -> TokenSet:
        with self.store.locked(self.key) as slot:
            sent_at = datetime.now(UTC)
            fresh = TokenSet.from_response(obtain(slot.current), sent_at)
            slot.save(fresh)
        return self._remember(fresh)

    def _grant(self, current: TokenSet | None) -> dict[str, Any]:
        """The token request that replaces ``current``."""
        config = self.config
        if config.auth_mode == "client_credentials":
            return oauth.client_credentials(config)
        if current is not None and current.refresh_token:
            return oauth.refresh(config, current.refresh_token)
        if current is None and config.bootstrap_refresh_token:
            # The connection extra's refresh token is consumed once, into an empty store;
            # from then on the stored (rotated) token is the only valid one.
            return oauth.refresh(config, config.bootstrap_refresh_token)
        if current is not None:
            why = "the stored tokens have no refresh token (add offline_access to the scopes)"
        else:
            why = f"no tokens are stored under key '{self.key}' in {self.store!r}"
        raise XeroAuthError(
            f"connection '{config.conn_id}' is not authorised: {why}; "
            + oauth.reauthorize_hint(config.conn_id)
            + ", or set the connection extra 'refresh_token' once"
        )


def is_under(url: httpx.URL, base: httpx.URL) -> bool:
    """Whether ``url`` has the scheme, host and port of ``base`` and lies under its path."""
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        return False
    prefix = base.path.rstrip("/")
    path = url.path
    if "/../" in f"{path}/" or "/./" in f"{path}/":
        return False
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _insufficient_scope(response: httpx.Response) -> bool:
    header = (response.headers.get("WWW-Authenticate") or "").lower()
    return "insufficient_scope" in header


@dataclass(frozen=True)
class _Call:
    """A blocking manager call the auth flow needs; each driver decides how to run it."""

    function: Callable[..., TokenSet]
    args: tuple[Any, ...] = ()


class XeroAuth(httpx.Auth):
    """Bearer token, tenant header and JSON ``Accept``; on a 401, refresh and retry once.

    One generator holds the logic; the sync driver calls the manager directly and the
    async driver runs it in a worker thread (it does database and HTTP I/O), so the
    triggerer's event loop never blocks.

    The token is only ever attached to requests under the connection's API base URL
    (scheme, host, port and path prefix): a request anywhere else is refused before it is
    sent. A 401 whose challenge says ``insufficient_scope`` is not refreshed: a new token
    of the same grant has the same scopes.

    :param manager: hands out the tokens.
    :param tenant_id: the organisation header to send.
    :param allowed_base: the API base URL (default: the manager's connection's).
    """

    requires_request_body = True  # buffered, so the retry after a 401 can resend it

    def __init__(
        self, manager: TokenManager, tenant_id: str | None = None, allowed_base: str | None = None
    ) -> None:
        self.manager = manager
        self.tenant_id = tenant_id
        self.allowed_base = httpx.URL(allowed_base or manager.config.api_base_url)

    def check_destination(self, url: httpx.URL) -> None:
        """Refuse to send credentials anywhere but the configured API base."""
        if not is_under(url, self.allowed_base):
            raise XeroForeignHostError(
                f"refusing to send the connection's token to {url.scheme}://{url.host}"
                f"{':' + str(url.port) if url.port else ''}{url.path}: only URLs under the "
                f"connection's API base {self.allowed_base} get credentials"
            )

    def __repr__(self) -> str:
        return f"XeroAuth({self.manager!r}, tenant_id={self.tenant_id!r})"

    def _authorise(self, request: httpx.Request, token: TokenSet) -> None:
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        if self.tenant_id:
            request.headers["xero-tenant-id"] = self.tenant_id
        if request.headers.get("Accept", "*/*") == "*/*":
            request.headers["Accept"] = "application/json"

    def _flow(self, request: httpx.Request) -> Generator[_Call | httpx.Request, Any, None]:
        # The cached token needs no I/O: only a refresh costs the async flow a thread hop.
        self.check_destination(request.url)
        token = self.manager.cached_token() or (yield _Call(self.manager.access_token))
        self._authorise(request, token)
        response = yield request
        if response.status_code == 401 and not _insufficient_scope(response):
            token = yield _Call(self.manager.refresh_after_401, (token.access_token,))
            self._authorise(request, token)
            yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, _Call):
                result: Any = step.function(*step.args)
            else:
                result = yield step
            try:
                step = flow.send(result)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, _Call):
                result: Any = await asyncio.to_thread(step.function, *step.args)
            else:
                result = yield step
            try:
                step = flow.send(result)
            except StopIteration:
                return
