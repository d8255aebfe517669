"""Provider metadata Airflow reads through the ``apache_airflow_provider`` entry point.

The ``xero`` connection type is declared here, the Airflow 3.2+ way (``conn-fields`` and
``ui-field-behaviour``), so the UI renders its form without importing the hook.
"""

from __future__ import annotations

from typing import Any

_TEXT = {"type": ["string", "null"]}


def _field(label: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": schema or dict(_TEXT)}


CONN_FIELDS: dict[str, dict[str, Any]] = {
    "tenant_id": _field(
        "Tenant ID",
        "The Xero organisation (tenant) this connection works on: one connection per "
        "organisation. Optional for a custom connection (client_credentials).",
    ),
    "auth_mode": _field(
        "Auth mode",
        "authorization_code (a user authorised the app; refresh tokens rotate) or "
        "client_credentials (a Xero custom connection).",
        {
            "type": ["string", "null"],
            "enum": ["authorization_code", "client_credentials"],
            "default": "authorization_code",
        },
    ),
    "app_tier": _field(
        "App tier",
        "Your Xero app's tier since March 2026 (developer.xero.com/pricing): starter, core, "
        "plus, advanced or enterprise. Sets the day limit (1,000 a day per organisation on "
        "Starter) and refuses endpoints the tier lacks (Journals below Advanced) before a call. "
        "The connect page records it.",
        {
            "type": ["string", "null"],
            "enum": [None, "starter", "core", "plus", "advanced", "enterprise"],
            "default": None,
        },
    ),
    "scopes": _field(
        "Scopes",
        "Space-separated OAuth scopes. Apps created from March 2026 must use granular scopes "
        "(accounting.invoices, accounting.payments, accounting.banktransactions, ...).",
    ),
    # Not "token_store"/"token_key": Airflow masks every field whose name contains
    # "token", so those showed as *** in the UI and the REST API. Both old names are
    # still read (config.py).
    "credential_store": _field(
        "Credential store",
        "Where rotated tokens and the idempotency ledger live: a SQLAlchemy URL or the id of "
        "an Airflow database connection. Default: a SQLite file under AIRFLOW_HOME. Use "
        "PostgreSQL when workers run on several machines.",
    ),
    "grant_key": _field(
        "Grant key",
        "Connections that share one Xero authorisation (several organisations approved "
        "together) share this key; the Xero connect page and `python -m xero_provider.auth "
        "connect` set it. Default: the connection id.",
    ),
    "tenant_name": _field(
        "Organisation name", "The organisation's name at Xero (informational; set on connect)."
    ),
    "dag_key": _field(
        "DAG key",
        "The end of the example DAGs' ids for this organisation (xero_warehouse_sync_<key>): "
        "lower-case letters, digits and _. Default: the connection id without 'xero_'.",
    ),
    "refresh_token": _field(
        "Refresh token (bootstrap)",
        "A refresh token to start from, used once and moved into the token store.",
    ),
    "redirect_uri": _field("Redirect URI", "The redirect URI registered for the app."),
    "api_base_url": _field(
        "API base URL", "Default https://api.xero.com; the sandbox's URL in tests."
    ),
    "identity_base_url": _field(
        "Identity base URL", "Default https://identity.xero.com (token and revocation)."
    ),
    "login_base_url": _field(
        "Login base URL", "Default https://login.xero.com (the authorize page)."
    ),
    "timeout": _field(
        "Timeout (s)", "Per-request timeout.", {"type": ["number", "null"], "default": 60}
    ),
    "max_retries": _field(
        "Max attempts",
        "Attempts per call for 429s, 5xx and network errors.",
        {"type": ["integer", "null"], "default": 6},
    ),
    "rate_window_seconds": _field(
        "Rate window (s)",
        "The length of Xero's rate-limit minute (60; shorter only against a time-scaled sandbox).",
        {"type": ["number", "null"], "default": 60},
    ),
    "rate_limit_per_minute": _field(
        "Calls per minute",
        "Calls per minute per organisation the shared rate budget keeps to (Xero's 60).",
        {"type": ["integer", "null"], "default": 60},
    ),
    "rate_limit_per_day": _field(
        "Calls per day",
        "Calls per day per organisation the shared rate budget keeps to (default from the "
        "app tier: 1,000 on Starter, else Xero's 5,000); a whole number, 1 or more.",
        {"type": ["integer", "null"], "minimum": 1, "default": None},
    ),
    "app_rate_limit_per_minute": _field(
        "App calls per minute",
        "Calls per minute of the app across all its organisations (Xero's 10,000).",
        {"type": ["integer", "null"], "default": 10000},
    ),
    "concurrent_calls": _field(
        "Calls in flight",
        "Calls in progress at once per organisation across every process sharing the "
        "credential store (Xero's 5); 0 turns the shared limit off.",
        {"type": ["integer", "null"], "default": 5},
    ),
    "call_plan": _field(
        "Daily call plan",
        "on: every poll of this organisation comes out of one plan that fits the day's limit "
        "(README 'The daily call plan'); off: triggers poll at their own poll_interval. "
        "Also true/false, yes/no, 1/0; anything else is refused.",
        {"type": ["string", "null"], "enum": [None, "on", "off"], "default": None},
    ),
    "plan_reserve": _field(
        "Plan reserve",
        "The share of the day's calls kept for writes, syncs and retries: from 0 up to, "
        "not including, 1.",
        {"type": ["number", "null"], "minimum": 0, "exclusiveMaximum": 1, "default": 0.4},
    ),
    "plan_floor_seconds": _field(
        "Shortest poll interval (s)",
        "No feed of this organisation is polled more often, however large the plan (1 to 86400).",
        {"type": ["number", "null"], "minimum": 1, "maximum": 86400, "default": 30},
    ),
    "plan_safety_net_seconds": _field(
        "Safety-net poll interval (s)",
        "How often a feed that Xero's webhooks drive (contacts, invoices) is still polled "
        "while webhooks work (1 to 86400).",
        {"type": ["number", "null"], "minimum": 1, "maximum": 86400, "default": 900},
    ),
    "ledger_retention_days": _field(
        "Write ledger retention (days)",
        "How long the write ledger remembers keyed writes.",
        {"type": ["number", "null"], "default": 30},
    ),
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow: package, hooks and the ``xero`` connection type."""
    return {
        "package-name": "airflow-provider-xero",
        "name": "Xero",
        "description": "Read from and write to Xero, the cloud accounting system.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "Xero",
                "external-doc-url": "https://developer.xero.com/documentation/api/accounting/overview",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Xero", "python-modules": ["xero_provider.hooks.xero"]}],
        "operators": [
            {
                "integration-name": "Xero",
                "python-modules": [
                    "xero_provider.operators.generic",
                    "xero_provider.operators.contacts",
                    "xero_provider.operators.invoices",
                    "xero_provider.operators.banking",
                    "xero_provider.operators.quotes",
                ],
            }
        ],
        "extra-links": ["xero_provider.operators.links.XeroRecordLink"],
        "sensors": [
            {"integration-name": "Xero", "python-modules": ["xero_provider.sensors.changes"]}
        ],
        "triggers": [
            {
                "integration-name": "Xero",
                "python-modules": [
                    "xero_provider.triggers.changes",
                    "xero_provider.triggers.events",
                ],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "xero_provider.hooks.xero.XeroHook",
                "hook-name": "Xero",
                "connection-type": "xero",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "port", "extra"],
                    "relabeling": {"login": "Client ID", "password": "Client Secret"},
                    "placeholders": {
                        "login": "32-character client id from developer.xero.com/app/manage",
                        "password": "client secret (not needed for PKCE apps)",
                    },
                },
            }
        ],
    }
