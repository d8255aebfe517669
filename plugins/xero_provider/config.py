"""What a ``xero`` Airflow Connection holds, parsed and checked once.

Login is the OAuth client id and password the client secret; everything else lives in
the extra (declared as ``conn-fields`` in ``get_provider_info`` so the UI shows a form).
Production defaults point at Xero; the sandbox sets the three base URLs to itself.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xero_provider.exceptions import XeroConfigurationError
from xero_provider.tiers import Tier, parse_tier

XERO_API_BASE = "https://api.xero.com"
XERO_IDENTITY_BASE = "https://identity.xero.com"
XERO_LOGIN_BASE = "https://login.xero.com"
ACCOUNTING_PATH = "/api.xro/2.0"
DAY_SECONDS = 86400.0  # the longest plan interval: a feed polled less than daily is not watched
# The shortest: reads are to the second (If-Modified-Since, triggers/reading.py), so a
# faster poll finds nothing new, and with a large rate_limit_per_day the floor is all
# that bounds polling.
MIN_PLAN_SECONDS = 1.0
AUTH_MODES = ("authorization_code", "client_credentials")
DEFAULT_SCOPES = (
    "openid profile email offline_access accounting.contacts accounting.settings "
    "accounting.invoices accounting.payments accounting.banktransactions"
)


def _text(extra: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = extra.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return str(value).strip()


def _number(
    extra: dict[str, Any], key: str, default: float, conn_id: str, zero_ok: bool = False
) -> float:
    value = extra.get(key)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise XeroConfigurationError(
            f"connection '{conn_id}': extra field '{key}' must be a number, got {value!r}"
        ) from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not zero_ok):
        raise XeroConfigurationError(
            f"connection '{conn_id}': extra field '{key}' must be "
            f"{'0 or more' if zero_ok else 'positive'}, got {value!r}"
        )
    return number


PLAN_SECONDS_RANGE: dict[str, Any] = {  # the plan's floor and safety net alike
    "low": MIN_PLAN_SECONDS,
    "high": DAY_SECONDS,
    "low_ok": True,
    "high_ok": True,
    "what": "seconds, from 1 to a day (86400)",
}


def _plan_number(
    extra: dict[str, Any],
    key: str,
    default: float,
    conn_id: str,
    *,
    low: float,
    high: float,
    low_ok: bool,
    high_ok: bool,
    what: str,
) -> float:
    """A number of the daily call plan within its range (README "The daily call plan"):
    refused with the field's name when it is text, a boolean, not finite or out of range,
    so a typo cannot turn the plan off or make it poll every millisecond."""
    value = extra.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    number: float | None = None
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = None
    if number is None or not math.isfinite(number):
        raise XeroConfigurationError(
            f"connection '{conn_id}': extra field '{key}' must be a number ({what}), got {value!r}"
        )
    above = number > low or (low_ok and number == low)
    below = number < high or (high_ok and number == high)
    if not (above and below):
        raise XeroConfigurationError(
            f"connection '{conn_id}': extra field '{key}' must be {what}, got {value!r}"
        )
    return number


def _whole(extra: dict[str, Any], key: str, default: int, conn_id: str) -> int:
    """A whole number of calls, 1 or more (``int(0.5)`` would silently be 0)."""
    number = _plan_number(
        extra,
        key,
        default,
        conn_id,
        low=1,
        high=math.inf,
        low_ok=True,
        high_ok=False,
        what="a whole number of calls, 1 or more",
    )
    if number != int(number):
        raise XeroConfigurationError(
            f"connection '{conn_id}': extra field '{key}' must be a whole number of calls, "
            f"got {extra.get(key)!r}"
        )
    return int(number)


ON = ("on", "true", "yes", "1")
OFF = ("off", "false", "no", "0")


def _switch(extra: dict[str, Any], key: str, default: bool, conn_id: str) -> bool:
    """On or off: a JSON boolean or one of :data:`ON` / :data:`OFF`; anything else is a
    typo ("of", "disabled") that must not silently leave the plan on."""
    value = extra.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in ON:
        return True
    if text in OFF:
        return False
    raise XeroConfigurationError(
        f"connection '{conn_id}': extra field '{key}' must be on or off "
        f"(true/false, yes/no, 1/0), got {value!r}"
    )


@dataclass(frozen=True)
class XeroConnectionConfig:
    """A validated ``xero`` connection. ``repr`` never shows the secret or a token."""

    conn_id: str
    client_id: str
    client_secret: str | None = field(repr=False)
    tenant_id: str | None
    auth_mode: str
    scopes: str
    token_store: str | None
    token_key: str
    api_base_url: str
    identity_base_url: str
    login_base_url: str
    redirect_uri: str | None
    bootstrap_refresh_token: str | None = field(repr=False)
    timeout: float = 60.0
    max_retries: int = 6
    rate_window_seconds: float = 60.0
    ledger_retention_days: float = 30.0
    rate_limit_per_minute: int = 60
    rate_limit_per_day: int = 5000
    app_rate_limit_per_minute: int = 10000
    concurrent_calls: int = 5
    app_tier: Tier | None = None  # the Xero app's tier (extra ``app_tier``); None: not said
    # The daily call plan (state/call_plan.py; README "The daily call plan").
    call_plan: bool = True  # extra ``call_plan`` "off": triggers poll at their own interval
    plan_reserve: float = 0.4  # share of the day kept for writes, syncs, retries
    plan_floor_seconds: float = 30.0  # no feed polled more often
    plan_safety_net_seconds: float = 900.0  # webhook-driven feeds' poll while webhooks work

    @property
    def accounting_url(self) -> str:
        return self.api_base_url + ACCOUNTING_PATH

    @property
    def token_url(self) -> str:
        return self.identity_base_url + "/connect/token"

    @property
    def revocation_url(self) -> str:
        return self.identity_base_url + "/connect/revocation"

    @property
    def connections_url(self) -> str:
        return self.api_base_url + "/connections"

    @property
    def authorize_url(self) -> str:
        return self.login_base_url + "/identity/connect/authorize"

    def secrets(self) -> list[str]:
        """Values the secrets masker must hide."""
        return [s for s in (self.client_secret, self.bootstrap_refresh_token) if s]

    @classmethod
    def from_connection(cls, conn: Any) -> XeroConnectionConfig:
        """Build from an Airflow Connection; raise a clear error naming any bad field."""
        conn_id = conn.conn_id or "xero_default"
        extra = dict(conn.extra_dejson or {})
        client_id = (conn.login or _text(extra, "client_id") or "").strip()
        if not client_id:
            raise XeroConfigurationError(
                f"connection '{conn_id}': the Client ID (login) is empty; copy it from your "
                "app at developer.xero.com/app/manage"
            )
        secret = conn.password or _text(extra, "client_secret")
        auth_mode = (_text(extra, "auth_mode", "authorization_code") or "").lower()
        if auth_mode not in AUTH_MODES:
            raise XeroConfigurationError(
                f"connection '{conn_id}': extra field 'auth_mode' must be one of "
                f"{', '.join(AUTH_MODES)}, got {extra.get('auth_mode')!r}"
            )
        if auth_mode == "client_credentials" and not secret:
            raise XeroConfigurationError(
                f"connection '{conn_id}': client_credentials needs the Client Secret (password)"
            )
        scopes = " ".join((_text(extra, "scopes", DEFAULT_SCOPES) or "").replace(",", " ").split())
        api_base = _text(extra, "api_base_url", XERO_API_BASE).rstrip("/")
        try:
            app_tier = parse_tier(
                _text(extra, "app_tier"), f"connection '{conn_id}': extra field 'app_tier'"
            )
        except ValueError as exc:
            raise XeroConfigurationError(str(exc)) from None
        day_default = app_tier.calls_per_day if app_tier else 5000
        if api_base.lower().endswith(ACCOUNTING_PATH):
            api_base = api_base[: -len(ACCOUNTING_PATH)]
        return cls(
            conn_id=conn_id,
            client_id=client_id,
            client_secret=secret,
            tenant_id=_text(extra, "tenant_id"),
            auth_mode=auth_mode,
            scopes=scopes,
            # "credential_store"/"grant_key" replace "token_store"/"token_key", which Airflow
            # masked as secrets (their names contain "token"); the old names are still read.
            token_store=_text(extra, "credential_store")
            or _text(extra, "token_store")
            or os.environ.get("XERO_TOKEN_STORE"),
            token_key=_text(extra, "grant_key") or _text(extra, "token_key", conn_id),
            api_base_url=api_base,
            identity_base_url=_text(extra, "identity_base_url", XERO_IDENTITY_BASE).rstrip("/"),
            login_base_url=_text(extra, "login_base_url", XERO_LOGIN_BASE).rstrip("/"),
            redirect_uri=_text(extra, "redirect_uri"),
            bootstrap_refresh_token=_text(extra, "refresh_token"),
            timeout=_number(extra, "timeout", 60.0, conn_id),
            max_retries=int(_number(extra, "max_retries", 6, conn_id)),
            rate_window_seconds=_number(extra, "rate_window_seconds", 60.0, conn_id),
            ledger_retention_days=_number(extra, "ledger_retention_days", 30.0, conn_id),
            # Xero's limits (API_NOTES.md "Rate limits"); the day's follows the app's tier
            # (1,000 a day per organisation on Starter) unless the extra sets it.
            rate_limit_per_minute=int(_number(extra, "rate_limit_per_minute", 60, conn_id)),
            rate_limit_per_day=_whole(extra, "rate_limit_per_day", day_default, conn_id),
            app_rate_limit_per_minute=int(
                _number(extra, "app_rate_limit_per_minute", 10000, conn_id)
            ),
            # Xero's 5 calls in progress per organisation; 0 turns the shared slots off.
            concurrent_calls=int(_number(extra, "concurrent_calls", 5, conn_id, zero_ok=True)),
            app_tier=app_tier,
            # The plan's settings and their ranges: README "The daily call plan".
            call_plan=_switch(extra, "call_plan", True, conn_id),
            plan_reserve=_plan_number(
                extra,
                "plan_reserve",
                0.4,
                conn_id,
                low=0,
                high=1,
                low_ok=True,
                high_ok=False,
                what="a share from 0 up to, not including, 1 (0.4 keeps 40%)",
            ),
            plan_floor_seconds=_plan_number(
                extra, "plan_floor_seconds", 30.0, conn_id, **PLAN_SECONDS_RANGE
            ),
            plan_safety_net_seconds=_plan_number(
                extra, "plan_safety_net_seconds", 900.0, conn_id, **PLAN_SECONDS_RANGE
            ),
        )


# Maps a connection's configuration to the one to use instead (the connection test).
ConfigResolver = Callable[[XeroConnectionConfig], XeroConnectionConfig]
