"""``python -m xero_provider.auth``: connect organisations, authorise, bootstrap, revoke,
disconnect, show status.

``connect`` writes ``xero`` connections into Airflow's metadata database, as
``airflow connections add`` does: a command line is not a task, so Airflow 3 lets it. It
needs the same ``AIRFLOW_HOME`` and database settings as the Airflow it is for.

Secrets never travel through argv (shell history, ``ps``): a client secret or a refresh
token is read from stdin or a file, and ``status`` prints times, never token values.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

from airflow.sdk.exceptions import AirflowException

from xero_provider.auth import oauth
from xero_provider.auth.tokens import TokenManager
from xero_provider.connect import airflow_connections as conns
from xero_provider.connect import flow, grants, preflight
from xero_provider.connect.settings import DEFAULT_REDIRECT_URI
from xero_provider.exceptions import XeroAuthError, XeroConfigurationError
from xero_provider.tiers import ORDER as TIER_ORDER

CALLBACK_SECONDS = 300


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
            b"Xero sign-in received; you can close this tab and return to the terminal."
            if ok
            else b"Xero sign-in failed; see the terminal."
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
                    raise XeroAuthError(
                        f"no browser redirect within {seconds:.0f} seconds; start again, and "
                        "if the browser showed an address with ?code=..., use --paste"
                    )
                self.handle_request()
        finally:
            self.server_close()
        return self.received


def _read_pasted(stdin: IO[str], out: IO[str]) -> dict[str, str]:
    print(
        "After approving, your browser is sent to the redirect URI (the page may not load). "
        "Paste that whole address here and press Enter:",
        file=out,
        flush=True,
    )
    line = stdin.readline().strip()
    if not line:
        raise XeroAuthError("no address pasted")
    return redirect_query(line)


def redirect_query(address: str) -> dict[str, str]:
    """The query Xero sent back, from a pasted address.

    When Airflow's api-server holds the redirect port, the browser may land on Airflow's
    sign-in page with the redirect inside ``next=`` (URL-encoded, maybe twice); unwrap it.
    """
    for _ in range(4):
        if "?" not in address and "%3f" in address.lower():  # still encoded once more
            address = unquote(address)
        query = urlsplit(address).query if "?" in address else address
        fields = {k: v[0] for k, v in parse_qs(query).items()}
        if "code" in fields or "error" in fields or "next" not in fields:
            return fields
        address = fields["next"]
    return fields


def _airflow_answers(port: int) -> bool:
    """Whether an Airflow api-server listens on 127.0.0.1:``port`` (it holds the redirect)."""
    import httpx

    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/api/v2/version", timeout=3)
    except httpx.HTTPError:
        return False
    return answer.status_code in (200, 401, 403) and "version" in answer.text.lower()


def _wait_for_redirect(
    authorize_url: str, redirect: str, port: int | None, paste: bool, stdin: IO[str], out: IO[str]
) -> dict[str, str]:
    """Listen on the loopback redirect (or read a pasted one); return its query."""
    listen_port = port or urlsplit(redirect).port or 80
    server = None
    if not paste:
        try:
            server = _CallbackServer(listen_port, urlsplit(redirect).path)
        except OSError as error:
            if _airflow_answers(listen_port):
                print(
                    f"Airflow's api-server is listening on 127.0.0.1:{listen_port}, so the "
                    "redirect goes to it, not here. Either use its connect page (Admin > Xero "
                    "connections), or go on here: after approving, paste the address your "
                    "browser shows (Airflow's sign-in page or its /xero/callback page are "
                    "fine; the sign-in is read from it). Falling back to pasting the address.",
                    file=out,
                )
            else:
                print(
                    f"Cannot listen on 127.0.0.1:{listen_port} ({error.strerror}). Falling "
                    "back to pasting the address.",
                    file=out,
                )
    print("Open this URL in a browser, sign in to Xero and allow access:", file=out)
    print(authorize_url, file=out, flush=True)
    if server is None:
        return _read_pasted(stdin, out)
    print(f"Waiting for the redirect to {redirect} on 127.0.0.1:{listen_port} ...", file=out)
    out.flush()
    return server.wait(CALLBACK_SECONDS)


def _check(
    config: Any, redirect: str, listen: bool, metadata_database: bool, reconnecting: bool = False
) -> None:
    problems = preflight.run(
        config,
        redirect,
        listen=listen,
        metadata_database=metadata_database,
        reconnecting=reconnecting,
    )
    if problems:
        raise XeroConfigurationError(
            "not sending you to Xero yet, because the sign-in could not be stored:\n  - "
            + "\n  - ".join(problems)
        )


def _read_secret(secret_file: str | None, stdin: IO[str], out: IO[str]) -> str | None:
    if secret_file:
        with open(secret_file, encoding="utf-8") as handle:
            return handle.read().strip() or None
    if stdin.isatty():
        return getpass.getpass("Client secret (empty for a PKCE app): ").strip() or None
    return stdin.readline().strip() or None


def connect(args: argparse.Namespace, stdin: IO[str], out: IO[str]) -> None:
    """Sign in once, then write one connection per organisation approved."""
    conns.check_database()
    redirect = args.redirect_uri
    if args.from_conn_id:
        stored = conns.get_connection(args.from_conn_id)
        if stored is None:
            raise XeroConfigurationError(
                f"no xero connection '{args.from_conn_id}' in Airflow's metadata database"
            )
        redirect = redirect or stored.extra.get("redirect_uri") or DEFAULT_REDIRECT_URI
        request = flow.ConnectRequest.from_connection(
            stored,
            conns.secret_of(stored.conn_id),
            redirect,
            conn_id_prefix=args.conn_id_prefix,
            app_tier=args.app_tier,
        )
    else:
        base = (args.base_url or "").rstrip("/")
        bases = (
            {"api_base_url": base, "identity_base_url": base, "login_base_url": base}
            if base
            else {}
        )
        scopes, note = flow.pick_scopes(args.scopes, args.app_tier, args.broad_scopes)
        request = flow.ConnectRequest(
            client_id=args.client_id,
            client_secret=_read_secret(args.client_secret_file, stdin, out),
            redirect_uri=redirect or DEFAULT_REDIRECT_URI,
            scopes=scopes,
            scope_note=note,
            credential_store=args.credential_store,
            conn_id_prefix=args.conn_id_prefix,
            app_tier=args.app_tier,
            **bases,
        )
    listen = not args.paste
    _check(
        request.config(),
        request.redirect_uri,
        listen=listen,
        metadata_database=True,
        reconnecting=bool(args.from_conn_id),
    )
    url, pending = flow.begin(request)
    if request.scope_note:
        print(f"Scopes: {request.scope_note}", file=out)
    answer = _wait_for_redirect(url, request.redirect_uri, args.port, args.paste, stdin, out)
    result = flow.complete(pending, answer, user=getpass.getuser())
    print(
        f"Connected {len(result.organisations)} organisation(s); they share grant key "
        f"'{result.grant_key}' (access token valid until {_when(result.expires_at)}):",
        file=out,
    )
    for org in result.organisations:
        verb = "created" if org.created else "updated"
        print(f"  {org.conn_id:<32} {org.tenant_name}  ({verb})", file=out)
    print("Test one with: airflow connections test <conn id>", file=out)


def authorize(conn_id: str, port: int | None, redirect_uri: str | None, paste: bool,
              stdin: IO[str], out: IO[str]) -> None:  # fmt: skip
    """The code flow for one existing connection: tokens stored under its grant key."""
    config = grants.config_for(conn_id)
    if config.auth_mode == "client_credentials":
        raise XeroAuthError(
            f"connection '{conn_id}' is a custom connection (client_credentials): it needs "
            "no authorisation, tokens are requested automatically"
        )
    redirect = redirect_uri or config.redirect_uri or DEFAULT_REDIRECT_URI
    _check(config, redirect, listen=not paste, metadata_database=False)
    request = flow.ConnectRequest(
        client_id=config.client_id,
        client_secret=config.client_secret,
        redirect_uri=redirect,
        scopes=config.scopes,
        api_base_url=config.api_base_url,
        identity_base_url=config.identity_base_url,
        login_base_url=config.login_base_url,
        credential_store=config.token_store,
    )
    url, pending = flow.begin(request)
    answer = _wait_for_redirect(url, redirect, port, paste, stdin, out)
    code = flow.check_callback(pending, answer)
    body = oauth.exchange_code(config, code, redirect, pending.verifier)
    manager = TokenManager(config)
    tokens = manager.save_token_response(body)
    print(
        f"Stored tokens for '{conn_id}' under key '{manager.key}' (access token valid until "
        f"{_when(tokens.expires_at)}).",
        file=out,
    )
    tenants = oauth.connections(config, tokens.access_token)
    print("Organisations this authorisation reaches:", file=out)
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
    tokens = TokenManager(grants.config_for(conn_id)).bootstrap(refresh_token)
    print(
        f"Stored tokens for '{conn_id}' (access token valid until {_when(tokens.expires_at)}).",
        file=out,
    )


def _sharing(conn_id: str, key: str) -> list[str]:
    """Connections in the metadata database that use the same grant (best effort)."""
    try:
        stored = conns.get_connection(conn_id)
        return [c.conn_id for c in conns.sharing_grant(stored)] if stored else []
    except Exception:  # no metadata database here: only env-var connections
        return []


def revoke(conn_id: str, yes: bool, out: IO[str]) -> bool:
    """Revoke the whole grant; with other connections on it, only after ``--yes``."""
    config = grants.config_for(conn_id)
    manager = TokenManager(config)
    others = [c for c in _sharing(conn_id, manager.key) if c != conn_id]
    if others and not yes:
        print(
            f"'{conn_id}' shares its Xero authorisation (grant key '{manager.key}') with: "
            f"{', '.join(others)}. Revoking ends it for all of them, and Xero removes every "
            "organisation you connected to this app. To stop only this organisation run "
            f"`python -m xero_provider.auth disconnect --conn-id {conn_id}`; to revoke "
            "anyway add --yes.",
            file=out,
        )
        return False
    if manager.revoke():
        ended = ", ".join([conn_id, *others])
        print(
            f"Revoked the grant '{manager.key}' at Xero and deleted its stored tokens. These "
            f"connections no longer work until connected again: {ended}.",
            file=out,
        )
    else:
        print(f"'{conn_id}' has no stored tokens; nothing to revoke.", file=out)
    return True


def disconnect(conn_id: str, keep_connection: bool, out: IO[str]) -> None:
    name = grants.disconnect(conn_id, delete_connection=not keep_connection)
    what = f"Disconnected {name} from the app at Xero" if name else "Xero no longer listed it"
    kept = "kept" if keep_connection else "deleted"
    print(f"{what}; the Airflow connection '{conn_id}' was {kept}.", file=out)


def organisations(out: IO[str]) -> None:
    """List the ``xero`` connections and bring the DAGs' organisation directory up to date
    (for connections made with Airflow's own form or ``airflow connections add``)."""
    conns.check_database()
    changed = conns.sync_directory()
    stored = conns.list_connections()
    for conn in stored:
        print(f"  {conn.conn_id:<32} {conn.tenant_id or '(no tenant_id)'}  "
              f"{conn.tenant_name or ''}", file=out)  # fmt: skip
    print(
        f"{len(stored)} xero connection(s); directory "
        f"'{conns.DIRECTORY_VARIABLE}': added {', '.join(changed['added']) or 'none'}, "
        f"removed {', '.join(changed['removed']) or 'none'}",
        file=out,
    )


def status(conn_id: str, out: IO[str]) -> bool:
    """Local tokens (times only) and what Xero says about the grant right now."""
    config = grants.config_for(conn_id)
    manager = TokenManager(config)
    print(f"connection:      {conn_id} ({config.auth_mode}, client {config.client_id})", file=out)
    print(f"organisation:    {config.tenant_id or '-'}", file=out)
    print(f"token store:     {manager.store!r}, key '{manager.key}'", file=out)
    others = [c for c in _sharing(conn_id, manager.key) if c != conn_id]
    if others:
        print(f"same grant as:   {', '.join(others)}", file=out)
    tokens = manager.store.load(manager.key)
    if tokens is None and config.auth_mode != "client_credentials":
        hint = " (the extra 'refresh_token' will be used)" if config.bootstrap_refresh_token else ""
        print(f"tokens:          none stored{hint}", file=out)
        if not config.bootstrap_refresh_token:
            print(f"next step:       {oauth.reauthorize_hint(conn_id)}", file=out)
            return False
    elif tokens is not None:
        times = grants.GrantTimes.of(tokens)
        state = "expired" if tokens.expires_within(0) else "valid"
        print(f"access token:    {state} until {_when(times.access_expires_at)}", file=out)
        if times.refresh_expires_at:
            print(
                f"refresh token:   last refreshed {_when(times.last_refresh)}, expires "
                f"{_when(times.refresh_expires_at)} if unused",
                file=out,
            )
        print(f"scopes:          {tokens.scope}", file=out)
        if tokens.dead_reason:
            print(f"grant:           REFUSED by Xero: {tokens.dead_reason}", file=out)
        print(f"store version:   {manager.store.version(manager.key)}", file=out)
    _print_budget(manager, out)
    try:
        tenants = grants.live_organisations(config)
    except AirflowException as error:
        print(f"Xero says:       {error}", file=out)
        return False
    names = ", ".join(f"{t.get('tenantName')} ({t.get('tenantId')})" for t in tenants)
    print(f"Xero says:       {len(tenants)} organisation(s) reachable: {names or '-'}", file=out)
    if config.tenant_id and config.tenant_id.lower() not in {
        str(t.get("tenantId", "")).lower() for t in tenants
    }:
        print(f"problem:         organisation {config.tenant_id} is not among them", file=out)
        return False
    return True


def show_plan(conn_id: str, as_json: bool, out: IO[str]) -> None:
    """The daily call plan of the connection's organisation (no call to Xero)."""
    import json

    from xero_provider.connect import plan_view

    shown = plan_view.summary(grants.config_for(conn_id))
    if as_json:
        print(json.dumps(shown, indent=2), file=out)
        return
    for line in plan_view.lines(shown):
        print(line, file=out)


def _print_budget(manager: TokenManager, out: IO[str]) -> None:
    """The calls left today, from the rate budget every process using the store shares."""
    from xero_provider.formats import tenant_key
    from xero_provider.state.call_plan import day_limit_of
    from xero_provider.state.rate_budget import Limits, budget_for

    config = manager.config
    tenant = tenant_key(config.tenant_id, config.client_id)
    left = budget_for(manager.store, config.client_id, Limits.from_config(config)).remaining(tenant)
    said = left.day_reported_by_xero
    day = day_limit_of(config.rate_limit_per_day, left)  # as the call plan sees the day
    print(
        f"calls left:      {day.calls_left} of {day.per_day} today for {tenant}"
        + (f" (Xero's limit; the connection says {day.configured})" if day.learned else "")
        + (f" (Xero last said {said})" if said is not None else "")
        + f"; {left.minute} this minute; app: {left.app_minute} this minute",
        file=out,
    )
    from xero_provider.state.egress import EgressLog

    usage = EgressLog(manager.store).usage(config.client_id, tenant)
    tier = config.app_tier
    included = (
        f" ({tier.title} includes {tier.egress_included_gb} GB a month)"
        if tier and tier.egress_included_gb
        else ""
    )
    print(f"egress:          {usage.describe()}{included}", file=out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m xero_provider.auth",
        description="Connect Xero organisations to Airflow and manage their tokens.",
        allow_abbrev=False,  # "--refresh-token" must not pass for "--refresh-token-file"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def sub(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, allow_abbrev=False)

    con = sub("connect", "sign in to Xero and create one connection per organisation approved")
    start = con.add_mutually_exclusive_group(required=True)
    start.add_argument("--client-id", help="the Xero app's client id (secret read from stdin)")
    start.add_argument("--from-conn-id", help="start from an existing xero connection")
    con.add_argument("--client-secret-file", help="read the client secret from this file")
    con.add_argument("--base-url", help="one origin for Xero's API, identity and login (sandbox)")
    con.add_argument(
        "--scopes",
        help="space-separated scopes (default: what this deployment's operators, sensors and "
        "warehouse reads need, from the resource table)",
    )
    con.add_argument(
        "--broad-scopes",
        action="store_true",
        help="the app was created before 2 March 2026: ask for broad scopes",
    )
    con.add_argument("--credential-store", help="token store URL or connection id")
    con.add_argument("--conn-id-prefix", default="xero", help="new connections: PREFIX_<org>")
    con.add_argument(
        "--app-tier",
        choices=TIER_ORDER,
        help="the Xero app's tier (recorded on each connection; checks its connection cap)",
    )
    for command in (con, sub("authorize", "authorise one existing connection in a browser")):
        if command.prog.endswith("authorize"):
            command.add_argument("--conn-id", required=True)
        command.add_argument(
            "--redirect-uri", help=f"registered for the app (default {DEFAULT_REDIRECT_URI})"
        )
        command.add_argument("--port", type=int, help="listen here instead of the redirect's port")
        command.add_argument(
            "--paste", action="store_true", help="do not listen; paste the address instead"
        )
    boot = sub("bootstrap", "store tokens from a refresh token (stdin)")
    boot.add_argument("--conn-id", required=True)
    boot.add_argument("--refresh-token-file", help="read the token from this file, not stdin")
    rev = sub("revoke", "revoke the grant at Xero (ends every connection sharing it)")
    rev.add_argument("--conn-id", required=True)
    rev.add_argument("--yes", action="store_true", help="also when other connections share it")
    dis = sub("disconnect", "disconnect one organisation; the grant's others keep working")
    dis.add_argument("--conn-id", required=True)
    dis.add_argument("--keep-connection", action="store_true", help="keep the Airflow connection")
    sub("organisations", "list the xero connections; add ones made elsewhere to the DAGs")
    sub("status", "local token times and what Xero says now").add_argument(
        "--conn-id", required=True
    )
    plan = sub("plan", "the organisation's daily call plan: feeds, intervals, calls used and left")
    plan.add_argument("--conn-id", required=True)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    return parser


def main(
    argv: list[str] | None = None, stdin: IO[str] | None = None, stdout: IO[str] | None = None
) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    source = stdin or sys.stdin
    ok = True
    try:
        if args.command == "connect":
            connect(args, source, out)
        elif args.command == "authorize":
            authorize(args.conn_id, args.port, args.redirect_uri, args.paste, source, out)
        elif args.command == "bootstrap":
            bootstrap(args.conn_id, args.refresh_token_file, source, out)
        elif args.command == "revoke":
            ok = revoke(args.conn_id, args.yes, out)
        elif args.command == "disconnect":
            disconnect(args.conn_id, args.keep_connection, out)
        elif args.command == "plan":
            show_plan(args.conn_id, args.json, out)
        elif args.command == "organisations":
            organisations(out)
        else:
            ok = status(args.conn_id, out)
    except (AirflowException, OSError) as error:  # XeroError, unknown conn id, bad file
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0 if ok else 1
