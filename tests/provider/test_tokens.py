"""Token refresh against the sandbox over real HTTP, with real SQLite and PostgreSQL stores:
races of 20 spawned processes, lost responses, invalid_grant, client credentials,
bootstrap, keepalive, revocation, the httpx auth flow and the CLI."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.provider.conftest import race_for_token
from xero_provider.auth import oauth
from xero_provider.auth.tokens import TokenManager, XeroAuth
from xero_provider.connect.cli import main
from xero_provider.exceptions import XeroAuthError, XeroReauthorizationRequired, XeroServerError
from xero_provider.state.token_store import TokenSet
from xero_sandbox.testing import free_port

LONG_AGO = timedelta(minutes=-1)


def stats(sandbox: Any) -> dict[str, int]:
    return sandbox.control("GET", "/identity/stats").json()


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def seed_tokens(sandbox: Any, manager: TokenManager, expires_in: timedelta) -> TokenSet:
    """Tokens the sandbox issued (via its control API), stored with a chosen client expiry."""
    now = datetime.now(UTC)
    tokens = replace(TokenSet.from_response(sandbox.tokens(), now), expires_at=now + expires_in)
    manager.store.save(manager.key, tokens)
    return tokens


def advance_clock(sandbox: Any, seconds: float) -> None:
    sandbox.control("PUT", "/clock", json={"advance_seconds": seconds})


def lose_token_responses(sandbox: Any, count: int) -> None:
    """The token endpoint does its work (rotates the token), then drops the connection."""
    fault = {"path": "/connect/token", "drop": True, "after_commit": True, "count": count}
    sandbox.control("POST", "/faults", json=fault)


def works(manager: TokenManager, tokens: TokenSet) -> bool:
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    return httpx.get(manager.config.connections_url, headers=headers).status_code == 200


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tokens.db'}"


@pytest.fixture
def cleanup() -> Any:
    """Managers registered here have their rows deleted (PostgreSQL is shared)."""
    managers: list[TokenManager] = []
    yield managers.append
    for manager in managers:
        manager.store.delete(manager.key)


# ---------------------------------------------------------------------------- races


def assert_one_refresh(results: list[tuple], before: dict, after: dict) -> None:
    errors = [error for _, _, error in results if error]
    assert errors == []
    assert len({pid for pid, _, _ in results}) == 20, "every call ran in its own process"
    assert len({token for _, token, _ in results}) == 1, "all processes use the same token"
    assert delta(before, after) == {"refresh_token": 1}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["expired", "401", "bootstrap"])
def test_twenty_processes_refresh_exactly_once(
    scenario: str,
    store_url: str,
    sandbox: Any,
    xero_connection: Any,
    race_pool: Any,
    cleanup: Any,
) -> None:
    extra = {}
    if scenario == "bootstrap":
        extra["refresh_token"] = sandbox.tokens()["refresh_token"]
    conn_id, env = xero_connection(store_url, **extra)
    manager = TokenManager.from_conn_id(conn_id)
    cleanup(manager)
    if scenario == "expired":
        seed_tokens(sandbox, manager, LONG_AGO)  # every process sees an expired token
    elif scenario == "401":
        # Valid by the client's clock, expired by Xero's: every process gets a 401.
        seed_tokens(sandbox, manager, timedelta(minutes=25))
        advance_clock(sandbox, 31 * 60)
    before = stats(sandbox)
    started = time.monotonic()
    results = race_pool.run(race_for_token, env, conn_id, scenario == "401")
    assert time.monotonic() - started < 30
    assert_one_refresh(results, before, stats(sandbox))
    if scenario == "401":
        answers = [r["status"] for r in sandbox.requests(path="/connections", method="GET")]
        assert sorted(answers) == [200] * 20 + [401] * 20
    stored = manager.store.load(manager.key)
    assert digest(stored.access_token) == results[0][1]
    assert works(manager, stored)


# ---------------------------------------------------------------------------- refresh


def test_expired_token_is_refreshed_once_and_cached(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    manager = TokenManager.from_conn_id(conn_id)
    old = seed_tokens(sandbox, manager, LONG_AGO)
    before = stats(sandbox)
    fresh = manager.access_token()
    assert fresh.access_token != old.access_token
    assert fresh.refresh_token != old.refresh_token
    assert manager.store.load(manager.key) == fresh
    assert manager.access_token() is fresh  # the in-process cache
    assert TokenManager.from_conn_id(conn_id).access_token() == fresh  # the store
    assert delta(before, stats(sandbox)) == {"refresh_token": 1}
    assert works(manager, fresh)


def test_refreshes_within_the_margin(sandbox: Any, xero_connection: Any, sqlite_store: str) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    manager = TokenManager.from_conn_id(conn_id)
    old = seed_tokens(sandbox, manager, timedelta(seconds=60))
    assert manager.access_token(margin_seconds=30) == old
    assert manager.access_token(margin_seconds=120) != old


def test_lost_refresh_response_recovers_and_the_chain_goes_on(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    manager = TokenManager.from_conn_id(conn_id)
    old = seed_tokens(sandbox, manager, LONG_AGO)
    lose_token_responses(sandbox, count=1)
    before = stats(sandbox)
    fresh = manager.access_token()
    # The first refresh rotated the token but its answer was lost; the retry reused the
    # old token inside Xero's grace period.
    assert delta(before, stats(sandbox)) == {"refresh_token": 2, "grace_reuse": 1}
    assert manager.store.load(manager.key) == fresh
    assert works(manager, fresh)
    advance_clock(sandbox, 31 * 60)  # past the grace period: only the newest token works
    with pytest.raises(XeroReauthorizationRequired):
        oauth.refresh(manager.config, old.refresh_token)
    newer = manager.refresh_after_401(fresh.access_token)
    assert newer.refresh_token not in (old.refresh_token, fresh.refresh_token)
    assert works(manager, newer)


def test_a_refresh_that_never_answers_saves_nothing(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    manager = TokenManager.from_conn_id(conn_id)
    old = seed_tokens(sandbox, manager, LONG_AGO)
    version = manager.store.version(manager.key)
    lose_token_responses(sandbox, count=oauth.ATTEMPTS)
    with pytest.raises(XeroServerError, match="no answer after 4 attempts"):
        manager.access_token()
    assert manager.store.load(manager.key) == old
    assert manager.store.version(manager.key) == version
    fresh = manager.access_token()  # the next run: the old token is still in its grace
    assert works(manager, fresh)


def test_invalid_grant_says_how_to_authorise_again(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    manager = TokenManager.from_conn_id(conn_id)
    stale = seed_tokens(sandbox, manager, LONG_AGO)
    manager.access_token()  # rotates the refresh token
    manager.store.save(manager.key, stale)  # a stale copy comes back (e.g. a restored backup)
    advance_clock(sandbox, 31 * 60)
    with pytest.raises(XeroReauthorizationRequired) as caught:
        TokenManager.from_conn_id(conn_id).access_token()
    message = str(caught.value)
    assert "\n" not in message
    assert f"connection '{conn_id}'" in message
    assert f"python -m xero_provider.auth authorize --conn-id {conn_id}" in message
    assert f"python -m xero_provider.auth bootstrap --conn-id {conn_id}" in message
    assert "Airflow UI" in message
    assert caught.value.status == 400
    assert caught.value.xero_type == "invalid_grant"
    for secret in [*stale.secrets(), sandbox.demo.web_client_secret]:
        assert secret not in message
        assert secret not in repr(caught.value)


def test_other_refusals_name_the_error_code_not_the_secret(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    config = replace(TokenManager.from_conn_id(conn_id).config, client_secret="wrong-secret-123")
    with pytest.raises(XeroAuthError, match="invalid_client") as caught:
        oauth.refresh(config, "whatever-refresh-token")
    assert not isinstance(caught.value, XeroReauthorizationRequired)
    assert "wrong-secret-123" not in str(caught.value)


def test_client_credentials_for_a_custom_connection(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store, app="custom")
    manager = TokenManager.from_conn_id(conn_id)
    before = stats(sandbox)
    tokens = manager.access_token()
    assert tokens.refresh_token is None
    assert TokenManager.from_conn_id(conn_id).access_token() == tokens  # shared via the store
    assert delta(before, stats(sandbox)) == {"client_credentials": 1}
    with httpx.Client(auth=XeroAuth(manager)) as client:  # the tenant is implied
        response = client.get(manager.config.accounting_url + "/Organisation")
    assert response.status_code == 200
    manager.store.save(manager.key, replace(tokens, expires_at=datetime.now(UTC) + LONG_AGO))
    renewed = TokenManager.from_conn_id(conn_id).access_token()
    assert renewed.access_token != tokens.access_token
    assert delta(before, stats(sandbox)) == {"client_credentials": 2}


def test_the_extra_refresh_token_is_consumed_once(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store, refresh_token=sandbox.tokens()["refresh_token"])
    before = stats(sandbox)
    first = TokenManager.from_conn_id(conn_id).access_token()
    assert TokenManager.from_conn_id(conn_id).access_token() == first
    assert delta(before, stats(sandbox)) == {"refresh_token": 1}
    manager = TokenManager.from_conn_id(conn_id)
    manager.store.save(manager.key, replace(first, expires_at=datetime.now(UTC) + LONG_AGO))
    second = manager.access_token()  # from the stored, rotated token: no grace reuse
    assert second.refresh_token != first.refresh_token
    assert delta(before, stats(sandbox)) == {"refresh_token": 2}


def test_no_tokens_anywhere_says_how_to_authorise(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    with pytest.raises(XeroAuthError, match=rf"authorize --conn-id {conn_id}"):
        TokenManager.from_conn_id(conn_id).access_token()


def test_keepalive_refreshes_an_old_refresh_token(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    manager = TokenManager.from_conn_id(conn_id)
    seeded = seed_tokens(sandbox, manager, timedelta(minutes=25))
    assert manager.keepalive(max_age_days=30) is False
    old = replace(seeded, issued_at=datetime.now(UTC) - timedelta(days=31))
    manager.store.save(manager.key, old)
    before = stats(sandbox)
    assert manager.keepalive(max_age_days=30) is True
    assert delta(before, stats(sandbox)) == {"refresh_token": 1}
    assert manager.keepalive(max_age_days=30) is False


def test_revoke_ends_the_grant_and_forgets_the_tokens(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    manager = TokenManager.from_conn_id(conn_id)
    seeded = seed_tokens(sandbox, manager, timedelta(minutes=25))
    before = stats(sandbox)
    assert manager.revoke() is True
    assert delta(before, stats(sandbox)) == {"revocations": 1}
    assert manager.store.load(manager.key) is None
    assert not works(manager, seeded)
    with pytest.raises(XeroReauthorizationRequired):
        oauth.refresh(manager.config, seeded.refresh_token)
    assert manager.revoke() is False


def test_secrets_never_appear_and_are_masked(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    from airflow.sdk.log import redact

    bootstrap = sandbox.tokens()["refresh_token"]
    conn_id, _ = xero_connection(sqlite_store, refresh_token=bootstrap)
    manager = TokenManager.from_conn_id(conn_id)
    tokens = manager.access_token()
    secrets = [*tokens.secrets(), bootstrap, sandbox.demo.web_client_secret]
    shown = [repr(tokens), str(tokens), repr(manager.config), repr(manager)]
    shown.append(repr(XeroAuth(manager, sandbox.demo.tenant_id)))
    for secret in secrets:
        assert all(secret not in text for text in shown)
        assert redact(f"value={secret}") == "value=***"


# ---------------------------------------------------------------------------- httpx auth


def test_auth_sets_headers_and_retries_a_401_once(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    manager = TokenManager.from_conn_id(conn_id)
    seed_tokens(sandbox, manager, timedelta(minutes=25))
    advance_clock(sandbox, 31 * 60)
    before = stats(sandbox)
    with httpx.Client(auth=XeroAuth(manager, sandbox.demo.tenant_id)) as client:
        response = client.get(manager.config.accounting_url + "/Organisation")
    assert response.status_code == 200
    assert response.request.headers["xero-tenant-id"] == sandbox.demo.tenant_id
    assert response.request.headers["accept"] == "application/json"
    assert delta(before, stats(sandbox)) == {"refresh_token": 1}


async def test_async_auth_runs_the_manager_off_the_event_loop(
    sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    manager = TokenManager.from_conn_id(conn_id)
    seed_tokens(sandbox, manager, timedelta(minutes=25))
    advance_clock(sandbox, 31 * 60)
    threads: list[int] = []
    for name in ("access_token", "refresh_after_401"):
        method = getattr(manager, name)

        def spy(*args: Any, _method: Any = method) -> TokenSet:
            threads.append(threading.get_ident())
            return _method(*args)

        setattr(manager, name, spy)
    async with httpx.AsyncClient(auth=XeroAuth(manager, sandbox.demo.tenant_id)) as client:
        response = await client.get(manager.config.accounting_url + "/Organisation")
    assert response.status_code == 200
    assert len(threads) == 2  # the token, then the refresh after Xero's 401
    assert threading.get_ident() not in threads
    assert asyncio.get_running_loop().is_running()


# ---------------------------------------------------------------------------- CLI


def run_cli(*argv: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), stdin=io.StringIO(stdin), stdout=out)
    return code, out.getvalue()


def test_cli_bootstrap_status_and_revoke(
    sandbox: Any, xero_connection: Any, sqlite_store: str, tmp_path: Path
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    refresh_token = sandbox.tokens()["refresh_token"]
    code, output = run_cli("bootstrap", "--conn-id", conn_id, stdin=refresh_token + "\n")
    assert code == 0, output
    manager = TokenManager.from_conn_id(conn_id)
    tokens = manager.store.load(manager.key)
    assert tokens is not None and works(manager, tokens)
    code, status = run_cli("status", "--conn-id", conn_id)
    assert code == 0
    assert "access token:    valid until" in status
    assert "refresh token:   last refreshed" in status
    assert "Xero says:       1 organisation(s) reachable" in status
    for text in (output, status):
        assert all(secret not in text for secret in [*tokens.secrets(), refresh_token])
    token_file = tmp_path / "refresh.txt"
    token_file.write_text(tokens.refresh_token + "\n")
    code, _ = run_cli("bootstrap", "--conn-id", conn_id, "--refresh-token-file", str(token_file))
    assert code == 0
    assert run_cli("revoke", "--conn-id", conn_id)[0] == 0
    assert "none stored" in run_cli("status", "--conn-id", conn_id)[1]


def test_cli_never_takes_a_token_on_the_command_line() -> None:
    with pytest.raises(SystemExit):
        main(["bootstrap", "--conn-id", "x", "--refresh-token", "abc"])


def test_cli_reports_errors_in_one_line(
    sandbox: Any, xero_connection: Any, sqlite_store: str, capsys: pytest.CaptureFixture
) -> None:
    conn_id, _ = xero_connection(sqlite_store)
    code, _ = run_cli("bootstrap", "--conn-id", conn_id, stdin="not-a-refresh-token\n")
    assert code == 1
    error = capsys.readouterr().err
    assert "must be authorised again" in error and error.count("\n") == 1
    assert "not-a-refresh-token" not in error


@pytest.mark.parametrize("app", ["web", "pkce"])
def test_cli_authorize_runs_the_code_flow(
    app: str, sandbox: Any, xero_connection: Any, sqlite_store: str
) -> None:
    # The registered redirect URI is fixed, so the CLI listens on a free port and the
    # "browser" below delivers the redirect there (as a Docker port mapping would).
    conn_id, _ = xero_connection(sqlite_store, app=app, redirect_uri=sandbox.demo.redirect_uri)
    port = free_port()
    output = io.StringIO()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            main(["authorize", "--conn-id", conn_id, "--port", str(port)], stdout=output)
        )
    )
    before = stats(sandbox)
    thread.start()
    deadline = time.monotonic() + 20
    while not (urls := re.findall(r"^(http\S+authorize\?\S+)$", output.getvalue(), re.M)):
        assert time.monotonic() < deadline, output.getvalue()
        time.sleep(0.05)
    with httpx.Client(timeout=10) as browser:
        page = browser.get(urls[0])
        assert page.status_code == 200, page.text
        request_id = unescape(re.search(r'name="request_id" value="([^"]+)"', page.text)[1])
        decision = browser.post(
            urls[0].split("?")[0],
            data={
                "request_id": request_id,
                "decision": "approve",
                "tenant_id": [sandbox.demo.tenant_id],
            },
        )
        redirect = urlsplit(decision.headers["location"])
        assert redirect.path == "/xero/callback"
        callback = browser.get(f"http://127.0.0.1:{port}{redirect.path}?{redirect.query}")
        assert callback.status_code == 200
    thread.join(30)
    assert result == [0], output.getvalue()
    assert sandbox.demo.tenant_name in output.getvalue()
    assert delta(before, stats(sandbox)) == {"authorization_code": 1}
    manager = TokenManager.from_conn_id(conn_id)
    tokens = manager.store.load(manager.key)
    assert works(manager, tokens)
    assert all(secret not in output.getvalue() for secret in tokens.secrets())


@pytest.mark.slow
def test_cli_finds_a_connection_kept_in_airflows_database(tmp_path: Path, migrated_db) -> None:
    """``python -m`` works, and finds a connection made in the UI: outside a task the SDK
    sees only env-var connections, so the CLI also reads Airflow's database."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
    }
    airflow = [str(Path(sys.executable).parent / "airflow")]
    store = f"sqlite:///{tmp_path / 'tokens.db'}"
    migrated_db(tmp_path / "airflow.db")
    commands = [
        [*airflow, "connections", "add", "xero_ui", "--conn-type", "xero", "--conn-login",
         "client-id", "--conn-password", "client-secret", "--conn-extra",
         f'{{"token_store": "{store}"}}'],
        [sys.executable, "-m", "xero_provider.auth", "status", "--conn-id", "xero_ui"],
    ]  # fmt: skip
    for command in commands:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        # status exits 1 here: it found the connection, but nothing is authorised yet
        assert done.returncode == (1 if command[-3] == "status" else 0), done.stderr[-2000:]
    assert "connection:      xero_ui (authorization_code, client client-id)" in done.stdout
    assert "tokens:          none stored" in done.stdout
    assert "client-secret" not in done.stdout
