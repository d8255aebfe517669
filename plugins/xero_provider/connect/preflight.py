"""Check, before anyone is sent to Xero's consent page, everything the return trip needs.

A consent gives a one-time code valid for 5 minutes: when storing the tokens then fails
(no Fernet key, no reachable token store, no metadata database for the connections, a
redirect URI Xero does not know), the code is spent and the person must start again.
Each check returns a message that says what to do.
"""

from __future__ import annotations

import socket
from urllib.parse import urlencode, urlsplit

import httpx

from xero_provider.config import XeroConnectionConfig

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
FERNET_HELP = (
    "Airflow has no usable Fernet key here, so the Xero tokens could not be stored "
    "encrypted (nothing was sent to Xero). Use the key your Airflow's components already "
    "use: export AIRFLOW__CORE__FERNET_KEY=... or [core] fernet_key in airflow.cfg "
    "(`make demo` and `make airflow` keep theirs in .airflow/demo/.fernet_key). A new key "
    "is only for a new Airflow: tokens stored under another key cannot be read by yours"
)


def check_fernet() -> str | None:
    try:
        from airflow.sdk.crypto import get_fernet

        fernet = get_fernet()
    except Exception as error:  # Airflow's own "Could not create Fernet object"
        return f"{FERNET_HELP} ({type(error).__name__}: {error})"
    if not getattr(fernet, "is_encrypted", False):
        return FERNET_HELP
    return None


def check_token_store(config: XeroConnectionConfig) -> str | None:
    from xero_provider.state.token_store import TokenStore

    try:
        store = TokenStore.for_config(config)
        store.load("xero-connect-preflight")
    except Exception as error:
        where = config.token_store or "the default SQLite file under AIRFLOW_HOME"
        return (
            f"the token store ({where}) is not reachable: {type(error).__name__}: "
            f"{str(error)[:200]}; fix the connection's 'credential_store' (a SQLAlchemy URL "
            "or an Airflow database connection id) or start the database"
        )
    return None


def check_metadata_database() -> str | None:
    from xero_provider.connect.airflow_connections import check_database

    try:
        check_database()
    except Exception as error:
        return str(error)
    return None


def check_redirect_uri(redirect_uri: str, *, listen: bool) -> str | None:
    """A well-formed redirect URI; https unless loopback (Xero allows http only there)."""
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return (
            f"redirect URI {redirect_uri!r} is not an http(s) URL; use the one registered for "
            "your app at developer.xero.com/app/manage (Configuration, Redirect URIs)"
        )
    loopback = parts.hostname in LOOPBACK_HOSTS
    if parts.scheme == "http" and not loopback:
        return f"redirect URI {redirect_uri!r}: Xero accepts http only for localhost; use https"
    if listen and not loopback:
        return (
            f"redirect URI {redirect_uri!r} is not on this machine, so this command cannot "
            "receive it: use --paste and paste the address your browser ends on"
        )
    return None


def port_is_free(redirect_uri: str, port: int | None = None) -> bool:
    """Whether this process can listen on the redirect's port on 127.0.0.1."""
    parts = urlsplit(redirect_uri)
    number = port or parts.port or (443 if parts.scheme == "https" else 80)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", number))
        except OSError:
            return False
    return True


def check_authorize_request(config: XeroConnectionConfig, redirect_uri: str) -> str | None:
    """Ask the authorize endpoint about our client id and redirect URI, without consenting.

    Xero's (and the sandbox's) authorize page refuses an unknown client or an unregistered
    redirect URI with an error page, before any login or consent; we read it first so the
    person is not sent to a dead end. Any other answer (a login page, a redirect) passes.
    """
    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "scope": config.scopes,
        "state": "preflight",
    }
    try:
        response = httpx.get(
            f"{config.authorize_url}?{urlencode(query)}",
            follow_redirects=False,
            timeout=min(config.timeout, 15),
        )
    except httpx.HTTPError as error:
        return f"Xero's authorize page at {config.authorize_url} is not reachable ({error})"
    if 400 <= response.status_code < 500:
        text = response.text
        if "redirect_uri" in text:
            return (
                f"Xero does not accept the redirect URI {redirect_uri} for client "
                f"{config.client_id}: add it to the app's Redirect URIs at "
                "developer.xero.com/app/manage, or choose one that is registered "
                "(--redirect-uri / [xero_connect] redirect_uri)"
            )
        return (
            f"Xero refused the authorize request for client {config.client_id} "
            f"(HTTP {response.status_code}); check the Client ID and the scopes"
        )
    return None


def run(
    config: XeroConnectionConfig,
    redirect_uri: str,
    *,
    listen: bool = False,
    metadata_database: bool = True,
) -> list[str]:
    """Every problem found, in the order a person should fix them (empty: good to go)."""
    problems = [
        check_fernet(),
        check_token_store(config),
        check_metadata_database() if metadata_database else None,
        check_redirect_uri(redirect_uri, listen=listen),
    ]
    found = [p for p in problems if p]
    if not found:
        found = [p for p in [check_authorize_request(config, redirect_uri)] if p]
    return found
