"""Idle keep-alive connections stay open as Xero's edge keeps them (500 s, not uvicorn's 5)."""

from __future__ import annotations

import socket
import time

import pytest


def _get(sock: socket.socket, host: str) -> bytes:
    sock.sendall(f"GET /__sandbox/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data  # the server closed the connection
        data += chunk
    return data


@pytest.mark.slow
def test_an_idle_connection_is_still_open_after_uvicorns_default(sandbox) -> None:
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        assert _get(sock, host).startswith(b"HTTP/1.1 200")
        time.sleep(6.5)  # uvicorn closes idle connections after 5 s by default
        assert _get(sock, host).startswith(b"HTTP/1.1 200")
