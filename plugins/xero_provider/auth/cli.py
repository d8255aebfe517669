"""``python -m xero_provider.auth``: authorise a connection, bootstrap, revoke, show status.

Tokens never travel through argv (shell history, ``ps``): a refresh token is read from
stdin or a file, and ``status`` prints times, never token values.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import IO, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from airflow.sdk.exceptions import AirflowException

from xero_provider.auth import oauth
from xero_provider.auth.tokens import REFRESH_TOKEN_DAYS, TokenManager
from xero_provider.config import XeroConnectionConfig
from xero_provider.exceptions import XeroAuthError

DEFAULT_PORT = 8765
CALLBACK_SECONDS = 300


def _pkce_pair() -> tuple[str, str]:
    """A verifier (RFC 7636: 43-128 characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


class _Callback(BaseHTTPRequestHandler):
    """Answers the browser's redirect; the server object carries what it received."""

    server: _CallbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.rstrip("/") != self.server.path.rstrip("/"):
            self.send_error(404)
            return
        self.server.received = {k: v[0] for k, v in parse_qs(parts.query).items()}
        ok = "code" in self.server.received
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(
            b"Xero authorisation received; you can close this tab."
            if ok
            else b"Xero authorisation failed; see the terminal."
        )

    def log_message(self, *args: Any) -> None:  # the query holds the code: keep it quiet
        pass


class _CallbackServer(HTTPServer):
    """A one-shot 127.0.0.1 server for the redirect: bound before the URL is printed."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(("127.0.0.1", port), _Callback)
        self.path = path or "/"
        self.received: dict[str, str] | None = None
        self.timeout = 1

    def wait(self, seconds: float) -> dict[str, str]:
        deadline = time.monotonic() + seconds
        try:
            while self.received is None:
                if time.monotonic() >= deadline:
                    raise XeroAuthError(f"no browser callback within {seconds:.0f} seconds")
                self.handle_request()
        finally:
            self.server_close()
        return self.received


def _expose_connection(conn_id: str) -> None:
    """Make a connection kept in Airflow's database visible to ``airflow.sdk.BaseHook``.

    Outside a task the SDK reads only environment variables and secrets backends; this
    command runs where Airflow's database is (like ``airflow connections``), so a
    connection created in the UI is copied into this process's environment.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
        return
    except AirflowNotFoundException:
        pass
    try:
        from airflow.models.connection import Connection

        found = Connection.get_connection_from_secrets(conn_id)
    except Exception:  # no database here either: BaseHook's own error will say so
        return
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = found.as_json()


def _manager(conn_id: str) -> TokenManager:
    """The connection's token manager; the token store may be a connection id too."""
    from airflow.sdk import BaseHook

    _expose_connection(conn_id)
    config = XeroConnectionConfig.from_connection(BaseHook.get_connection(conn_id))
    if config.token_store and "://" not in config.token_store:
        _expose_connection(config.token_store)
    return TokenManager(config)


def authorize(conn_id: str, port: int | None, redirect_uri: str | None, out: IO[str]) -> None:
    """The code flow from a terminal: print the URL, catch the redirect, store the tokens."""
    manager = _manager(conn_id)
    config = manager.config
    if config.auth_mode == "client_credentials":
        raise XeroAuthError(
            f"connection '{conn_id}' is a custom connection (client_credentials): it needs "
            "no authorisation, tokens are requested automatically"
        )
    redirect = redirect_uri or config.redirect_uri or f"http://localhost:{DEFAULT_PORT}/callback"
    listen_port = port or urlsplit(redirect).port or DEFAULT_PORT
    state = secrets.token_urlsafe(24)
    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect,
        "scope": config.scopes,
        "state": state,
    }
    verifier = None
    if not config.client_secret:
        verifier, challenge = _pkce_pair()
        query.update(code_challenge=challenge, code_challenge_method="S256")
    server = _CallbackServer(listen_port, urlsplit(redirect).path)
    print("Open this URL in a browser and allow access:", file=out)
    print(f"{config.authorize_url}?{urlencode(query)}", file=out)
    print(
        f"Waiting for the redirect to {redirect} (a redirect URI of the Xero app) on "
        f"127.0.0.1:{listen_port} ...",
        file=out,
    )
    out.flush()
    answer = server.wait(CALLBACK_SECONDS)
    if answer.get("state") != state:
        raise XeroAuthError("the redirect did not carry our state: start again")
    if "code" not in answer:
        raise XeroAuthError(f"authorisation was not granted: {answer.get('error', 'no code')}")
    body = oauth.exchange_code(config, answer["code"], redirect, verifier)
    tokens = manager.save_token_response(body)
    print(
        f"Stored tokens for '{conn_id}' (access token valid until {_when(tokens.expires_at)}).",
        file=out,
    )
    print("Connected organisations:", file=out)
    tenants = oauth.connections(config, tokens.access_token)
    for tenant in tenants:
        print(f"  {tenant.get('tenantName')}  tenant_id={tenant.get('tenantId')}", file=out)
    if config.tenant_id and config.tenant_id.lower() not in {
        str(t.get("tenantId", "")).lower() for t in tenants
    }:
        print(
            f"Warning: the connection's tenant_id {config.tenant_id} is not among them.", file=out
        )


def bootstrap(conn_id: str, token_file: str | None, stdin: IO[str], out: IO[str]) -> None:
    """Start from a refresh token obtained elsewhere (read from a file or stdin)."""
    if token_file:
        with open(token_file, encoding="utf-8") as handle:
            refresh_token = handle.read().strip()
    else:
        if stdin.isatty():
            print("Paste the refresh token, then press Enter:", file=out, flush=True)
        refresh_token = stdin.readline().strip()
    if not refresh_token:
        raise XeroAuthError("no refresh token given (stdin or --refresh-token-file)")
    tokens = _manager(conn_id).bootstrap(refresh_token)
    print(
        f"Stored tokens for '{conn_id}' (access token valid until {_when(tokens.expires_at)}).",
        file=out,
    )


def revoke(conn_id: str, out: IO[str]) -> None:
    if _manager(conn_id).revoke():
        print(f"Revoked the grant of '{conn_id}' at Xero and deleted its stored tokens.", file=out)
    else:
        print(f"'{conn_id}' has no stored tokens; nothing to revoke.", file=out)


def status(conn_id: str, out: IO[str]) -> None:
    """Where the tokens are and when they expire; never the tokens themselves."""
    manager = _manager(conn_id)
    config = manager.config
    tokens = manager.store.load(manager.key)
    print(f"connection:      {conn_id} ({config.auth_mode}, client {config.client_id})", file=out)
    print(f"token store:     {manager.store!r}, key '{manager.key}'", file=out)
    if tokens is None:
        hint = "the extra 'refresh_token' will be used" if config.bootstrap_refresh_token else ""
        print(f"tokens:          none stored {hint}".rstrip(), file=out)
        return
    state = "expired" if tokens.expires_within(0) else "valid"
    print(f"access token:    {state} until {_when(tokens.expires_at)}", file=out)
    if tokens.refresh_token:
        expires = tokens.issued_at + timedelta(days=REFRESH_TOKEN_DAYS)
        print(
            f"refresh token:   issued {_when(tokens.issued_at)}, expires {_when(expires)} "
            "if unused",
            file=out,
        )
    print(f"scopes:          {tokens.scope}", file=out)
    if tokens.dead_reason:
        print(f"grant:           REFUSED by Xero: {tokens.dead_reason}", file=out)
    print(f"store version:   {manager.store.version(manager.key)}", file=out)
    _print_budget(manager, out)


def _print_budget(manager: TokenManager, out: IO[str]) -> None:
    """The calls left today, from the rate budget every process using the store shares."""
    from xero_provider.rate_budget import Limits, budget_for

    config = manager.config
    tenant = config.tenant_id or f"app:{config.client_id}"
    left = budget_for(manager.store, config.client_id, Limits.from_config(config)).remaining(tenant)
    said = left.day_reported_by_xero
    print(
        f"calls left:      {left.day} of {config.rate_limit_per_day} today for {tenant}"
        + (f" (Xero last said {said})" if said is not None else "")
        + f"; {left.minute} this minute; app: {left.app_minute} this minute",
        file=out,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m xero_provider.auth",
        description="Manage Xero OAuth tokens.",
        allow_abbrev=False,  # "--refresh-token" must not pass for "--refresh-token-file"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    auth = commands.add_parser(
        "authorize", help="authorise in a browser (code flow)", allow_abbrev=False
    )
    auth.add_argument("--conn-id", required=True)
    auth.add_argument("--port", type=int, help="local callback port (default: the redirect's)")
    auth.add_argument("--redirect-uri", help="default: the connection's, else localhost:8765")
    boot = commands.add_parser(
        "bootstrap", help="store tokens from a refresh token (stdin)", allow_abbrev=False
    )
    boot.add_argument("--conn-id", required=True)
    boot.add_argument("--refresh-token-file", help="read the token from this file, not stdin")
    for name, text in (("revoke", "revoke at Xero and forget"), ("status", "show expiry times")):
        commands.add_parser(name, help=text, allow_abbrev=False).add_argument(
            "--conn-id", required=True
        )
    return parser


def main(
    argv: list[str] | None = None, stdin: IO[str] | None = None, stdout: IO[str] | None = None
) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    try:
        if args.command == "authorize":
            authorize(args.conn_id, args.port, args.redirect_uri, out)
        elif args.command == "bootstrap":
            bootstrap(args.conn_id, args.refresh_token_file, stdin or sys.stdin, out)
        elif args.command == "revoke":
            revoke(args.conn_id, out)
        else:
            status(args.conn_id, out)
    except (AirflowException, OSError) as error:  # XeroError, unknown conn id, bad file
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
