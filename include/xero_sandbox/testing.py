"""Serve the sandbox to tests over real HTTP on a free loopback port.

The server runs in its own process (``python -m xero_sandbox``), so what a test sees is
what a client of Xero sees: sockets, headers, status codes, dropped connections.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from xero_sandbox.seed import DEMO, DemoCredentials


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxServer:
    """A sandbox process on 127.0.0.1; use as a context manager or start()/stop()."""

    demo: DemoCredentials = DEMO

    def __init__(
        self,
        *,
        seed_demo: bool = True,
        db: str | Path | None = None,
        port: int | None = None,
        log_file: str | Path | None = None,
        validate: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._seed_demo = seed_demo
        self._db = db
        self._log_file = log_file
        self._validate = validate
        self._process: subprocess.Popen[bytes] | None = None
        self._control = httpx.Client(base_url=self.url + "/__sandbox", timeout=30)

    def start(self, timeout: float = 60.0) -> SandboxServer:
        command = [sys.executable, "-m", "xero_sandbox", "--port", str(self.port)]
        if self._seed_demo:
            command.append("--seed-demo")
        if self._validate:
            command.append("--validate")
        if self._db:
            command += ["--db", str(self._db)]
        output = open(self._log_file, "ab") if self._log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ}
            )
        finally:
            if output is not subprocess.DEVNULL:
                output.close()  # the child keeps its own copy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"sandbox exited with {self._process.returncode}: {self._log_tail()}"
                )
            try:
                if self._control.get("/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sandbox did not answer on {self.url} within {timeout}s")

    def _log_tail(self) -> str:
        if not self._log_file or not Path(self._log_file).exists():
            return "(no log; pass log_file= to see its output)"
        return Path(self._log_file).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self._control.close()
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control API -------------------------------------------------------------------

    def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call ``/__sandbox{path}``; raises for an error status."""
        if self._control.is_closed:
            self._control = httpx.Client(base_url=self.url + "/__sandbox", timeout=30)
        response = self._control.request(method, path, **kwargs)
        response.raise_for_status()
        return response

    def reset(self, demo: bool = True) -> None:
        self.control("POST", "/reset", params={"demo": str(demo).lower()})

    def tokens(
        self,
        client_id: str | None = None,
        tenant_ids: list[str] | None = None,
        scopes: list[str] | None = None,
    ) -> dict[str, Any]:
        """A token response for the demo web app (or ``client_id``) granted ``tenant_ids``."""
        body = {
            "client_id": client_id or self.demo.web_client_id,
            "tenant_ids": tenant_ids or [self.demo.tenant_id],
            "scopes": scopes,
        }
        return self.control("POST", "/tokens", json=body).json()

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        return self.control("GET", "/requests", params=params).json()


def approve_consent(
    server_url: str,
    client_id: str,
    redirect_uri: str,
    scopes: str,
    tenant_ids: list[str] | None = None,
    extra_params: dict[str, str] | None = None,
) -> dict[str, str]:
    """Act as the user's browser on the consent page; return the redirect's query parameters.

    Approves the organisations ``tenant_ids`` (all those offered when None).
    """
    state = secrets.token_urlsafe(8)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scopes,
        "state": state,
        **(extra_params or {}),
    }
    with httpx.Client(base_url=server_url, timeout=30) as browser:
        page = browser.get(f"/identity/connect/authorize?{urlencode(query)}")
        page.raise_for_status()
        match = re.search(r'name="request_id" value="([^"]+)"', page.text)
        if match is None:
            raise RuntimeError("the consent page has no request_id field")
        offered = re.findall(r'name="tenant_id" value="([^"]+)"', page.text)
        decision = browser.post(
            "/identity/connect/authorize",
            data={
                "request_id": unescape(match.group(1)),
                "decision": "approve",
                "tenant_id": tenant_ids if tenant_ids is not None else offered,
            },
        )
    location = decision.headers.get("location")
    if decision.status_code != 302 or not location:
        raise RuntimeError(f"consent did not redirect (HTTP {decision.status_code})")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if params.get("state") != state:
        raise RuntimeError("the consent redirect did not return our state")
    params["redirect"] = location.split("?", 1)[0]
    return params


def authorization_code_tokens(
    server_url: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    scopes: str,
    tenant_ids: list[str] | None = None,
) -> dict[str, Any]:
    """The whole code flow: consent page, then the code exchanged at ``/connect/token``."""
    params = approve_consent(server_url, client_id, redirect_uri, scopes, tenant_ids)
    response = httpx.post(
        server_url + "/connect/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": redirect_uri,
        },
        auth=(client_id, client_secret),
        timeout=30,
    )
    response.raise_for_status()
    return response.json()
