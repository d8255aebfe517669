"""The token store on a real SQLite file and a real PostgreSQL: encryption at rest, the
lock, the ledger, and table creation by many processes at once."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tests.provider.conftest import create_tables_and_write
from xero_provider.config import XeroConnectionConfig
from xero_provider.exceptions import XeroConfigurationError
from xero_provider.state import token_store
from xero_provider.state.token_store import TokenSet, TokenStore


def token_set(expires_in: float = 1800, **changes: Any) -> TokenSet:
    now = datetime.now(UTC)
    values = {
        "access_token": f"access-{uuid.uuid4().hex}",
        "refresh_token": f"refresh-{uuid.uuid4().hex}",
        "expires_at": now + timedelta(seconds=expires_in),
        "scope": "offline_access accounting.contacts",
        "id_token": f"id-{uuid.uuid4().hex}",
        "issued_at": now,
    }
    return TokenSet(**{**values, **changes})


@pytest.fixture
def store(store_url: str, token_key: str) -> Any:
    store = TokenStore(store_url)
    yield store
    store.delete(token_key)


def test_round_trip_keeps_every_field(store: TokenStore, token_key: str) -> None:
    saved = token_set()
    store.save(token_key, saved)
    loaded = store.load(token_key)
    assert loaded == saved
    assert loaded.expires_at.tzinfo is not None
    store.delete(token_key)
    assert store.load(token_key) is None


def test_raw_row_holds_no_token(store: TokenStore, token_key: str) -> None:
    saved = token_set()
    store.save(token_key, saved)
    engine = sa.create_engine(store.url)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT * FROM xero_oauth_tokens WHERE key = :key"), {"key": token_key}
        ).one()
    engine.dispose()
    raw = json.dumps([str(value) for value in row])
    for secret in saved.secrets():
        assert secret not in raw
    plain = Fernet(os.environ["AIRFLOW__CORE__FERNET_KEY"]).decrypt(row.ciphertext.encode())
    assert json.loads(plain)["refresh_token"] == saved.refresh_token


def test_locked_commits_at_the_end_and_rolls_back_on_error(
    store: TokenStore, token_key: str
) -> None:
    first = token_set()
    with store.locked(token_key) as slot:
        assert slot.current is None
        slot.save(first)
    assert store.load(token_key) == first
    version = store.version(token_key)
    with pytest.raises(RuntimeError), store.locked(token_key) as slot:
        slot.save(token_set())
        raise RuntimeError("the refresh failed half-way")
    assert store.load(token_key) == first
    assert store.version(token_key) == version


def test_locked_makes_the_next_holder_wait_and_see_the_new_tokens(
    store: TokenStore, token_key: str
) -> None:
    old, new = token_set(), token_set()
    store.save(token_key, old)
    inside = threading.Event()
    seen: list[TokenSet | None] = []

    def holder() -> None:
        with store.locked(token_key) as slot:
            inside.set()
            time.sleep(0.5)
            slot.save(new)

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(5)
    started = time.monotonic()
    with TokenStore(store.url).locked(token_key) as slot:
        waited = time.monotonic() - started
        seen.append(slot.current)
    thread.join()
    assert waited >= 0.3
    assert seen == [new]


def test_placeholder_row_reads_as_no_tokens(store: TokenStore, token_key: str) -> None:
    with store.locked(token_key):
        pass
    assert store.load(token_key) is None


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_twenty_processes_create_the_tables_at_once(
    backend: str, race_pool: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        schema = f"xero_test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(base)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = f"{base}?options=-csearch_path%3D{schema}"
    try:
        failures = [f for f in race_pool.run(create_tables_and_write, url) if f]
        assert failures == []
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM xero_write_ledger"))
            assert count.scalar() == 20
        engine.dispose()
    finally:
        if schema:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()


def test_refuses_to_store_without_a_fernet_key(
    store: TokenStore, token_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import crypto

    monkeypatch.setattr(crypto, "get_fernet", lambda: crypto._NullFernet())
    with pytest.raises(XeroConfigurationError, match="fernet_key"):
        store.save(token_key, token_set())


def test_a_changed_fernet_key_is_a_clear_error(
    store: TokenStore, token_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import crypto

    store.save(token_key, token_set())
    other = crypto._RealFernet(Fernet(Fernet.generate_key()))
    monkeypatch.setattr(crypto, "get_fernet", lambda: other)
    with pytest.raises(XeroConfigurationError, match="Fernet key changed"):
        store.load(token_key)


def _config(token_store_value: str | None) -> XeroConnectionConfig:
    from airflow.sdk import Connection

    extra = {"token_store": token_store_value} if token_store_value else {}
    connection = Connection(
        conn_id="xero_store_test", conn_type="xero", login="client", extra=json.dumps(extra)
    )
    return XeroConnectionConfig.from_connection(connection)


def test_for_config_accepts_a_url_or_an_airflow_connection(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = sa.make_url(postgres_url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_XERO_TOKEN_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "login": url.username,
                "host": url.host,
                "port": url.port,
                "schema": url.database,
            }
        ),
    )
    via_connection = TokenStore.for_config(_config("xero_token_db"))
    assert via_connection.url.startswith("postgresql+psycopg2://")
    sqlite_url = f"sqlite:///{tmp_path / 'a.db'}"
    assert TokenStore.for_config(_config(sqlite_url)).url == sqlite_url
    monkeypatch.delenv("XERO_TOKEN_STORE", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    default = TokenStore.for_config(_config(None))
    assert default.url == f"sqlite:///{tmp_path / 'home' / 'xero_tokens.db'}"
    assert (tmp_path / "home" / "xero_tokens.db").exists()


def test_repr_hides_the_database_password() -> None:
    url = "postgresql+psycopg2://user:hunter2-password@127.0.0.1:1/none"
    token_store._engines[url] = sa.create_engine(url)  # no connection is made
    try:
        assert "hunter2" not in repr(TokenStore(url))
    finally:
        token_store._engines.pop(url).dispose()


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(XeroConfigurationError, match="only SQLite and PostgreSQL"):
        TokenStore("mysql://user:secret@127.0.0.1/none")


def test_token_set_never_shows_tokens() -> None:
    tokens = token_set()
    for text in (repr(tokens), str(tokens)):
        for secret in tokens.secrets():
            assert secret not in text
    assert "expires_at" in repr(tokens)


def test_token_set_expiry_and_json() -> None:
    tokens = token_set(expires_in=60)
    assert tokens.expires_within(120)
    assert not tokens.expires_within(30)
    assert TokenSet.from_json(tokens.to_json()) == tokens


def test_from_response_keeps_the_refresh_token_when_none_is_returned() -> None:
    previous = token_set()
    now = datetime.now(UTC)
    body = {"access_token": "new-access", "expires_in": 1800, "token_type": "Bearer"}
    fresh = TokenSet.from_response(body, now, previous)
    assert fresh.refresh_token == previous.refresh_token
    assert fresh.expires_at == now + timedelta(seconds=1800)
    assert TokenSet.from_response(body, now).refresh_token is None
