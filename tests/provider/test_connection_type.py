"""The ``xero`` connection type: registered with Airflow, parsed from every form a
connection takes (UI fields, AIRFLOW_CONN_* JSON or URI, airflow_settings.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from airflow.sdk import BaseHook

from xero_provider.config import XeroConnectionConfig
from xero_provider.exceptions import XeroConfigurationError
from xero_provider.get_provider_info import CONN_FIELDS, get_provider_info

REPO = Path(__file__).resolve().parents[2]


def test_airflow_discovers_the_connection_type_and_its_form() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    runtime = ProvidersManagerTaskRuntime()  # what tasks use to find the hook
    assert "airflow-provider-xero" in runtime.providers
    assert runtime.hooks["xero"].hook_class_name == "xero_provider.hooks.xero.XeroHook"
    manager = ProvidersManager()  # what the UI uses for the form
    widgets = manager.connection_form_widgets
    assert {f"extra__xero__{name}" for name in CONN_FIELDS} <= set(widgets)
    behaviour = manager.field_behaviours["xero"]
    assert behaviour["relabeling"] == {"login": "Client ID", "password": "Client Secret"}


def test_provider_info_validates_against_airflows_schema() -> None:
    import importlib.resources

    import jsonschema

    schema = json.loads(
        importlib.resources.files("airflow").joinpath("provider_info.schema.json").read_text()
    )
    jsonschema.validate(get_provider_info(), schema)


def _config_from_env(monkeypatch, conn_id: str, value: str) -> XeroConnectionConfig:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
    return XeroConnectionConfig.from_connection(BaseHook.get_connection(conn_id))


def test_json_connection(monkeypatch) -> None:
    value = json.dumps(
        {
            "conn_type": "xero",
            "login": "CLIENT",
            "password": "s3cret",
            "extra": {"tenant_id": "T1", "scopes": "openid,accounting.contacts", "timeout": 5},
        }
    )
    config = _config_from_env(monkeypatch, "xero_json", value)
    assert (config.client_id, config.tenant_id, config.timeout) == ("CLIENT", "T1", 5.0)
    assert config.scopes == "openid accounting.contacts"
    assert config.accounting_url == "https://api.xero.com/api.xro/2.0"
    assert config.token_url == "https://identity.xero.com/connect/token"


def test_uri_connection(monkeypatch) -> None:
    base = quote("http://127.0.0.1:5050", safe="")
    uri = f"xero://CLIENT:s%2F3cret@/?tenant_id=T2&auth_mode=client_credentials&api_base_url={base}"
    config = _config_from_env(monkeypatch, "xero_uri", uri)
    assert config.client_secret == "s/3cret"
    assert config.auth_mode == "client_credentials"
    assert config.accounting_url == "http://127.0.0.1:5050/api.xro/2.0"


def test_airflow_settings_yaml_connection_parses() -> None:
    settings = yaml.safe_load((REPO / "airflow_settings.yaml").read_text())
    entry = next(c for c in settings["airflow"]["connections"] if c["conn_type"] == "xero")
    from airflow.sdk import Connection

    conn = Connection(
        conn_id=entry["conn_id"],
        conn_type=entry["conn_type"],
        login=entry["conn_login"],
        password=entry["conn_password"],
        extra=json.dumps(entry["conn_extra"]),
    )
    config = XeroConnectionConfig.from_connection(conn)
    assert config.tenant_id == entry["conn_extra"]["tenant_id"]
    # no pool per organisation: the shared call slots hold it to Xero's 5 calls in flight
    assert not settings["airflow"].get("pools")
    assert config.concurrent_calls == 5


@pytest.mark.parametrize(
    ("extra", "login", "fragment"),
    [
        ({}, "", "Client ID"),
        ({"auth_mode": "password"}, "C", "auth_mode"),
        ({"timeout": "soon"}, "C", "timeout"),
        ({"auth_mode": "client_credentials"}, "C", "Client Secret"),
    ],
    ids=["no-client-id", "bad-auth-mode", "bad-timeout", "custom-without-secret"],
)
def test_bad_connections_name_the_field(monkeypatch, extra, login, fragment) -> None:
    value = json.dumps({"conn_type": "xero", "login": login, "extra": extra})
    with pytest.raises(XeroConfigurationError, match=fragment):
        _config_from_env(monkeypatch, "xero_bad", value)


def test_config_repr_hides_secrets(monkeypatch) -> None:
    value = json.dumps(
        {
            "conn_type": "xero",
            "login": "C",
            "password": "topsecret",
            "extra": {"refresh_token": "rt-value"},
        }
    )
    config = _config_from_env(monkeypatch, "xero_repr", value)
    assert "topsecret" not in repr(config) and "rt-value" not in repr(config)
