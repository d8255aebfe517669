"""XeroAsyncHook: the same pipeline on an event loop (what triggers use)."""

from __future__ import annotations

import asyncio

import pytest

from tests.provider.connections import xero_connection
from xero_provider.exceptions import XeroNotFoundError
from xero_provider.hooks import XeroAsyncHook, XeroHook


@pytest.fixture
def conn_id(sandbox, monkeypatch, tmp_path) -> str:
    return xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db")


async def _collect(hook: XeroAsyncHook, resource: str, **filters) -> list[dict]:
    try:
        return [record async for record in hook.iter_records(resource, **filters)]
    finally:
        await hook.aclose()


def test_async_iteration_matches_the_sync_hook(sandbox, conn_id) -> None:
    body = {"tenant_id": sandbox.demo.tenant_id, "resource": "Contacts", "count": 1500}
    sandbox.control("POST", "/generate", json=body)
    async_ids = [c["ContactID"] for c in asyncio.run(_collect(XeroAsyncHook(conn_id), "Contacts"))]
    sync_ids = [c["ContactID"] for c in XeroHook(conn_id).iter_records("Contacts")]
    assert async_ids == sync_ids and len(async_ids) > 1500


def test_async_get_and_not_found(conn_id) -> None:
    async def scenario() -> tuple[dict, Exception]:
        hook = XeroAsyncHook(conn_id)
        try:
            bill = await anext(aiter(hook.iter_records("Bills")))
            fetched = await hook.get("Bills", bill["InvoiceID"])
            try:
                await hook.get("Contacts", "00000000-0000-0000-0000-000000000000")
            except XeroNotFoundError as error:
                return fetched, error
            raise AssertionError("expected a 404")
        finally:
            await hook.aclose()

    fetched, error = asyncio.run(scenario())
    assert fetched["Type"] == "ACCPAY"
    assert error.status == 404


def test_async_retries_and_paces_like_the_sync_hook(sandbox, conn_id) -> None:
    async def scenario() -> list:
        hook = XeroAsyncHook(conn_id)
        try:
            await hook.call("GET", "Organisation")  # tokens ready before the faults
            sandbox.control("POST", "/faults", json={"status": 503, "count": 2, "path": "/api.xro"})
            sandbox.control("PUT", "/limits", json={"latency_ms": 100})
            return await asyncio.gather(*(hook.call("GET", "Organisation") for _ in range(10)))
        finally:
            await hook.aclose()

    results = asyncio.run(scenario())
    assert len(results) == 10
    log = sandbox.requests(path="/api.xro/2.0/Organisation")
    assert [e["status"] for e in log].count(503) == 2
    assert not [e for e in log if e["status"] == 429]


def test_async_get_tenants(sandbox, conn_id) -> None:
    async def scenario() -> list[dict]:
        hook = XeroAsyncHook(conn_id)
        try:
            return await hook.get_tenants()
        finally:
            await hook.aclose()

    assert [t["tenantId"] for t in asyncio.run(scenario())] == [sandbox.demo.tenant_id]
