"""docker-compose.yaml: valid against the Compose specification, and a real Airflow stack.

The schema is the Compose specification's own JSON schema (``compose-spec.json``, vendored
from github.com/compose-spec/compose-spec, schema/compose-spec.json, Apache-2.0). A Compose
CLI must accept the file too: ``docker compose config`` where the plugin is installed,
else Debian's ``docker-compose`` (1.29, which ``make install`` adds as root: parsing and
validating need no Docker engine, and this machine has none).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
ENV = {"AIRFLOW__CORE__FERNET_KEY": "x" * 43 + "=", "AIRFLOW_JWT_SECRET": "s" * 32}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_valid_against_the_compose_spec(compose: dict) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_schema_catches_a_broken_file(compose: dict) -> None:
    """The check above could fail: a misspelt key is refused."""
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_a_real_airflow_stack_with_the_sandbox(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "xero-sandbox", "airflow-init", *AIRFLOW_SERVICES} <= set(services)
    for name, command in AIRFLOW_SERVICES.items():
        service = services[name]
        assert service["command"] == command
        assert service["image"].startswith("airflow-provider-xero")
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        mounts = {v.split(":")[1] for v in service["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts
        assert service["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully"
        )
        assert service["depends_on"]["xero-sandbox"]["condition"] == "service_healthy"
    # the sandbox is reached by service name from inside the network
    init = "\n".join(services["airflow-init"]["command"])
    assert "--sandbox-url http://xero-sandbox:5050" in init
    assert "airflow db migrate" in init
    # published ports bind loopback only
    for service in services.values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3." in dockerfile


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _compose_config(cli: list[str], file: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cli, "-f", str(file), "--project-directory", str(REPO), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(home), **ENV},
    )


@pytest.fixture
def compose_cli() -> list[str]:
    cli = _compose_cli()
    if cli is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no Compose CLI: `make install` (as root) installs Debian's docker-compose")
        pytest.skip("no Compose CLI here: `sudo apt-get install docker-compose`")
    return cli


def test_docker_compose_config_accepts_it(compose_cli: list[str], tmp_path: Path) -> None:
    result = _compose_config(compose_cli, COMPOSE, tmp_path)
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_refuses_a_broken_file(
    compose_cli: list[str], compose: dict, tmp_path: Path
) -> None:
    """The CLI check could fail: a dependency on a service that does not exist."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["airflow-scheduler"]["depends_on"]["no-such-service"] = {
        "condition": "service_started"
    }
    copy = tmp_path / "docker-compose.yaml"
    copy.write_text(yaml.safe_dump(broken))
    result = _compose_config(compose_cli, copy, tmp_path)
    assert result.returncode != 0
    assert "no-such-service" in result.stderr
