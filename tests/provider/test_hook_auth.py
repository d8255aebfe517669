"""Credentials under stress: a dead grant recorded once for every worker, a missing scope
named without refresh or retry, and the async hook's writes and DataFrame reads."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.provider.connections import xero_connection
from xero_provider.auth.tokens import TokenManager
from xero_provider.exceptions import XeroReauthorizationRequired, XeroScopeError
from xero_provider.hooks import XeroAsyncHook, XeroHook
from xero_provider.state.token_store import TokenSet


def _token_calls(sandbox) -> list[dict]:
    return [c for c in sandbox.requests() if c["path"] == "/connect/token"]


def _expire_with_dead_refresh_token(manager: TokenManager) -> None:
    """The stored set: an expired access token and a refresh token Xero does not know."""
    manager.store.save(
        manager.key,
        TokenSet(
            access_token=f"expired-{uuid.uuid4().hex}",
            refresh_token=f"dead-{uuid.uuid4().hex}",
            expires_at=datetime.now(UTC) - timedelta(minutes=5),
        ),
    )


def test_a_dead_grant_costs_one_token_call_for_all_workers(sandbox, monkeypatch, tmp_path):
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")
    first = TokenManager.from_conn_id(conn_id)
    first.access_token()
    _expire_with_dead_refresh_token(first)
    sandbox.control("DELETE", "/requests")
    workers = [TokenManager.from_conn_id(conn_id) for _ in range(8)]  # one per "process"
    messages = []
    for worker in workers:
        with pytest.raises(XeroReauthorizationRequired) as caught:
            worker.access_token()
        messages.append(str(caught.value))
    assert len(_token_calls(sandbox)) == 1
    assert all("authorize --conn-id" in m for m in messages)
    assert sum("recorded in the token store" in m for m in messages) == 7
    # A person re-authorises (bootstrap with a new refresh token): the mark is gone.
    fresh = sandbox.tokens()["refresh_token"]
    workers[0].bootstrap(fresh)
    assert workers[1].access_token().access_token
    assert workers[1].store.load(workers[1].key).dead_reason is None


def test_a_dead_bootstrap_token_is_recorded_and_a_new_one_is_tried(
    sandbox, monkeypatch, tmp_path
) -> None:
    store = tmp_path / "tokens.db"
    conn_id = xero_connection(sandbox, monkeypatch, store, refresh_token="never-issued")
    sandbox.control("DELETE", "/requests")
    for _ in range(3):
        with pytest.raises(XeroReauthorizationRequired):
            TokenManager.from_conn_id(conn_id).access_token()
    assert len(_token_calls(sandbox)) == 1
    # The connection extra gets a working token: the mark was about the old one.
    good = sandbox.tokens()["refresh_token"]
    xero_connection(sandbox, monkeypatch, store, conn_id=conn_id, refresh_token=good)
    assert TokenManager.from_conn_id(conn_id).access_token().access_token


@pytest.mark.slow
def test_twenty_processes_share_one_invalid_grant(sandbox, monkeypatch, tmp_path, race_pool):
    from tests.provider.conftest import race_for_token

    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")
    manager = TokenManager.from_conn_id(conn_id)
    manager.access_token()
    _expire_with_dead_refresh_token(manager)
    import os

    env = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}
    sandbox.control("DELETE", "/requests")
    results = race_pool.run(race_for_token, env, conn_id, False)
    assert all(error and "XeroReauthorizationRequired" in error for _, _, error in results)
    assert len(_token_calls(sandbox)) == 1


def test_a_missing_scope_is_named_without_refresh_or_retry(sandbox, monkeypatch, tmp_path):
    tokens = sandbox.tokens(scopes=["offline_access", "accounting.contacts"])
    conn_id = xero_connection(
        sandbox, monkeypatch, tmp_path / "tokens.db", refresh_token=tokens["refresh_token"]
    )
    hook = XeroHook(conn_id)
    assert list(hook.iter_records("Contacts"))
    sandbox.control("DELETE", "/requests")
    with pytest.raises(XeroScopeError) as caught:
        hook.call("GET", "Accounts")
    error = caught.value
    assert error.status == 401 and error.scope and "accounting.settings" in error.scope
    assert "accounting.settings" in str(error) and "authorise" in str(error)
    calls = sandbox.requests()
    assert [c["path"] for c in calls] == ["/api.xro/2.0/Accounts"]  # no refresh, no retry
    hook.close()


def test_async_hook_writes_and_reads_dataframes_like_the_sync_hook(
    sandbox, monkeypatch, tmp_path
) -> None:
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")
    names = [f"Async {uuid.uuid4().hex[:8]} {i}" for i in range(60)]

    async def run():
        hook = XeroAsyncHook(conn_id)
        try:
            created = await hook.create(
                "Contacts", [{"Name": n} for n in names], idempotency_key="async-run-1"
            )
            again = await hook.create(
                "Contacts", [{"Name": n} for n in names], idempotency_key="async-run-1"
            )
            updated = await hook.update(
                "Contacts", [{"ContactID": created[0].record_id, "EmailAddress": "a@b.io"}]
            )
            frame = await hook.get_dataframe("Contacts", where='Name.StartsWith("Async ")')
            return created, again, updated, frame
        finally:
            await hook.aclose()

    created, again, updated, frame = asyncio.run(run())
    assert [r.index for r in created] == list(range(60)) and all(r.ok for r in created)
    assert [r.record_id for r in again] == [r.record_id for r in created]
    assert updated[0].ok
    assert set(names) <= set(frame["Name"])
    assert str(frame["UpdatedDateUTC"].dtype).startswith("datetime64[") and "UTC" in str(
        frame["UpdatedDateUTC"].dtype
    )
    puts = [c for c in sandbox.requests() if c["method"] == "PUT"]
    assert len(puts) == 2  # 50 + 10, the rerun reused the ledger
    sync = XeroHook(conn_id).get_dataframe("Contacts", where='Name.StartsWith("Async ")')
    assert sorted(sync["ContactID"]) == sorted(frame["ContactID"])
