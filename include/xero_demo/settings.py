"""Load an Astro CLI ``airflow_settings.yaml`` into a plain Airflow.

``airflow connections import`` refuses the Astro format (a list under ``airflow:`` with
``conn_*`` keys), so this translates the file into the import files of Airflow's own CLI
(``connections import --overwrite``, ``pools import``, ``variables import``) and runs them
against whatever ``AIRFLOW_HOME``/database the environment names. ``make demo`` uses it,
and so can any Airflow::

    python -m xero_demo.settings airflow_settings.yaml
    python -m xero_demo.settings airflow_settings.yaml --sandbox-url http://127.0.0.1:5123

``--sandbox-url`` repoints the connections' ``*_base_url`` extras (a sandbox on another
port or host, e.g. ``http://xero-sandbox:5050`` under docker compose).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

BASE_URL_FIELDS = ("api_base_url", "identity_base_url", "login_base_url")
CONNECTION_FIELDS = {
    "conn_type": "conn_type",
    "conn_host": "host",
    "conn_schema": "schema",
    "conn_login": "login",
    "conn_password": "password",
    "conn_port": "port",
    "conn_description": "description",
}


class SettingsError(ValueError):
    """The settings file is not in the Astro CLI format; the message names the entry."""


def read_settings(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Parse and check the file: ``{"connections": [...], "pools": [...], "variables": [...]}``."""
    document = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(document, dict) or not isinstance(document.get("airflow"), dict):
        raise SettingsError(f"{path}: expected a top-level 'airflow:' mapping (Astro CLI format)")
    section = document["airflow"]
    result: dict[str, list[dict[str, Any]]] = {}
    for kind, key in (("connections", "conn_id"), ("pools", "pool_name"),
                      ("variables", "variable_name")):  # fmt: skip
        entries = section.get(kind)
        entries = [] if entries is None else entries
        if not isinstance(entries, list):
            raise SettingsError(f"{path}: airflow.{kind} must be a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not entry.get(key):
                raise SettingsError(f"{path}: airflow.{kind}[{index}] has no {key}")
        result[kind] = entries
    return result


def airflow_import_files(
    settings: dict[str, list[dict[str, Any]]],
    sandbox_url: str | None = None,
    xero_extra: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """The bodies of the three files Airflow's ``... import`` commands read; ``xero_extra``
    is added to every ``xero`` connection's extra (e.g. ``{"app_tier": "starter"}``)."""
    connections: dict[str, Any] = {}
    for entry in settings["connections"]:
        body = {field: entry[key] for key, field in CONNECTION_FIELDS.items() if entry.get(key)}
        if not body.get("conn_type"):
            raise SettingsError(f"connection {entry['conn_id']}: conn_type is required")
        extra = entry.get("conn_extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra)
        if sandbox_url:
            extra = {k: (sandbox_url if k in BASE_URL_FIELDS else v) for k, v in extra.items()}
        if xero_extra and body["conn_type"] == "xero":
            extra = {**extra, **xero_extra}
        if extra:
            body["extra"] = json.dumps(extra)
        connections[entry["conn_id"]] = body
    pools: dict[str, Any] = {}
    for entry in settings["pools"]:
        slots = entry.get("pool_slot")
        if not isinstance(slots, int) or slots < 0:
            raise SettingsError(f"pool {entry['pool_name']}: pool_slot must be an integer >= 0")
        pools[entry["pool_name"]] = {
            "slots": slots,
            "description": entry.get("pool_description") or "",
            "include_deferred": bool(entry.get("include_deferred", False)),
        }
    variables = {e["variable_name"]: e.get("variable_value", "") for e in settings["variables"]}
    return {"connections": connections, "pools": pools, "variables": variables}


def load(
    path: str | Path,
    *,
    sandbox_url: str | None = None,
    airflow: str = "airflow",
    env: dict[str, str] | None = None,
    xero_extra: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Import the file's connections, pools and variables; return how many of each."""
    counts, _ = load_then(
        path, sandbox_url=sandbox_url, airflow=airflow, env=env, xero_extra=xero_extra
    )
    return counts


def load_then(
    path: str | Path,
    *,
    sandbox_url: str | None = None,
    airflow: str = "airflow",
    env: dict[str, str] | None = None,
    xero_extra: dict[str, Any] | None = None,
    then: Sequence[list[str]] = (),
    stdin: str | None = None,
) -> tuple[dict[str, int], str]:
    """:func:`load`, then the commands ``then`` (``airflow`` arguments, or ``["xero", ...]``
    for ``python -m xero_provider.connect``), all in one interpreter
    (:mod:`xero_demo.airflow_batch`): each ``airflow`` process costs seconds of CPU to
    start. ``stdin`` is the commands' standard input. Returns the counts and their output."""
    files = airflow_import_files(read_settings(path), sandbox_url, xero_extra)
    counts = {kind: len(body) for kind, body in files.items()}
    commands = {
        "connections": ["connections", "import", "--overwrite"],
        "pools": ["pools", "import"],
        "variables": ["variables", "import", "--action-on-existing-key", "overwrite"],
    }
    with tempfile.TemporaryDirectory(prefix="xero-settings-") as scratch:
        batch = []
        for kind, body in files.items():
            if not body:
                continue
            target = Path(scratch) / f"{kind}.json"
            target.touch(mode=0o600)  # connections hold client secrets
            target.write_text(json.dumps(body))
            batch.append([*commands[kind], str(target)])
        if files["connections"]:
            # the imported xero connections join the example DAGs' organisation directory
            # (``airflow connections import`` writes connections without it)
            batch.append(["xero", "organisations"])
        batch.extend(then)
        if not batch:
            return counts, ""
        result = subprocess.run(
            [_python(airflow), "-m", "xero_demo.airflow_batch", json.dumps(batch)],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if result.returncode != 0:
        raise RuntimeError(f"loading {path} into Airflow failed: {result.stderr[-2000:]}")
    return counts, result.stdout


def _python(airflow: str) -> str:
    """The interpreter beside the ``airflow`` executable (the same environment)."""
    python = Path(airflow).with_name("python")
    return str(python) if python.exists() else sys.executable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xero_demo.settings", description=__doc__)
    parser.add_argument("path", nargs="?", default="airflow_settings.yaml")
    parser.add_argument("--sandbox-url", help="repoint the connections' *_base_url extras")
    args = parser.parse_args(argv)
    from xero_demo.stack import airflow_executable

    try:
        counts = load(args.path, sandbox_url=args.sandbox_url, airflow=airflow_executable())
    except (SettingsError, RuntimeError, OSError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(", ".join(f"{n} {kind}" for kind, n in counts.items()) + " loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
