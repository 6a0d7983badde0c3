"""The compose file and the systemd unit start what CI tests: the same commands and settings."""

from __future__ import annotations

import shutil
import subprocess
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml

from mailsleuth.config import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_postgres_redis_the_api_and_several_workers() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "redis", "api", "worker"}
    assert services["api"]["command"] == ["mailsleuth", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert services["worker"]["command"] == ["mailsleuth", "worker"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    for name in ("api", "worker"):
        service = services[name]
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        assert service["build"] == "." and service["image"] == "mailsleuth:local"
    assert all("healthcheck" in services[name] for name in ("postgres", "redis"))
    assert set(COMPOSE["volumes"]) == {"postgres-data", "redis-data"}


def test_compose_settings_are_real_settings_that_point_at_its_services() -> None:
    environment = COMPOSE["services"]["worker"]["environment"]
    assert environment == COMPOSE["services"]["api"]["environment"]
    names = {f"MAILSLEUTH_{name.upper()}" for name in Settings.model_fields}
    assert set(environment) <= names
    postgres = COMPOSE["services"]["postgres"]["environment"]
    assert environment["MAILSLEUTH_DATABASE_URL"] == (
        f"postgresql+asyncpg://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}"
    )
    assert environment["MAILSLEUTH_BROKER_URL"].startswith("redis://redis:6379/")
    assert environment["MAILSLEUTH_REDIS_URL"].startswith("redis://redis:6379/")


def test_the_image_installs_the_cluster_extra() -> None:
    assert "pip install --no-cache-dir '.[cluster]'" in (ROOT / "Dockerfile").read_text()


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker is not installed")
def test_docker_compose_accepts_the_file() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    checked = subprocess.run(["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "--quiet"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_the_systemd_unit_runs_the_worker_command_and_stops_it_with_sigterm() -> None:
    unit = ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((ROOT / "deploy" / "mailsleuth-worker.service").read_text())
    assert unit["Service"]["ExecStart"].split()[1:] == ["worker"]
    assert unit["Service"]["KillSignal"] == "SIGTERM"
    assert unit["Service"]["EnvironmentFile"] == "/etc/mailsleuth/worker.env"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
