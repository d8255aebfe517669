"""Idle keep-alive connections stay open as Xero's edge keeps them (500 s, not uvicorn's 5)."""

from __future__ import annotations

import http.client
import time

import pytest


@pytest.mark.slow
def test_an_idle_connection_is_still_open_after_uvicorns_default(sandbox) -> None:
    host, port = sandbox.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/__sandbox/health")
        first = conn.getresponse()
        assert first.status == 200 and first.read()
        sock = conn.sock
        time.sleep(6.5)  # uvicorn closes idle connections after 5 s by default
        conn.request("GET", "/__sandbox/health")  # http.client never reconnects silently
        second = conn.getresponse()  # RemoteDisconnected if the server closed it
        assert second.status == 200 and second.read()
        assert conn.sock is sock
    finally:
        conn.close()
