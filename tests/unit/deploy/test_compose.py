"""docker-compose.yml and the files it mounts, checked against the code (Docker cannot run
here): every service command, port and TRUENORTH_* variable it names must exist."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from tests.unit.deploy.tools import DEPLOY, REPO, require_tool, run
from truenorth.settings import DEFAULT_PORTS, SERVICE_SETTINGS, SERVICES, SharedSettings

COMPOSE = REPO / "docker-compose.yml"
NO_HEALTHCHECK = {"nats-exporter", "alert-sink"}
"""FROM-scratch exporter (no shell) and a stand-in webhook sink; documented in the file."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def settings_field(variable: str) -> tuple[type[BaseSettings], str]:
    """The settings class and field a TRUENORTH_* variable sets (service prefixes first)."""
    name = variable.removeprefix("TRUENORTH_").lower()
    for service, cls in SERVICE_SETTINGS.items():
        if name.startswith(f"{service}_"):
            return cls, name.removeprefix(f"{service}_")
    return SharedSettings, name


def test_the_four_services_run_the_one_image(services: dict[str, Any]) -> None:
    for name in SERVICES:
        service = services[name]
        assert service["command"] == ["serve", name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (REPO / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    commands = [s["command"] for s in services.values() if s.get("command", [None])[0] == "serve"]
    assert all(c[1] in SERVICES for c in commands)
    images = {services[name]["image"] for name in SERVICES}
    assert len(images) == 1


def test_every_truenorth_variable_is_a_settings_field(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for variable in env_of(service):
            if not variable.startswith("TRUENORTH_"):
                continue
            if name.startswith("nats-"):
                # the NATS configs read the client credentials from the same variables
                assert variable in {"TRUENORTH_NATS_USER", "TRUENORTH_NATS_PASSWORD"}
            cls, field = settings_field(variable)
            assert field in cls.model_fields, f"{name}: {variable} is not a field of {cls.__name__}"


def test_ports_match_the_code(services: dict[str, Any]) -> None:
    for name in SERVICES:
        service, port = services[name], DEFAULT_PORTS[name]
        env = env_of(service)
        assert env[f"TRUENORTH_{name.upper()}_PORT"] == str(port)
        assert env[f"TRUENORTH_{name.upper()}_HOST"] == "0.0.0.0"
        assert [p.rsplit(":", 1)[1] for p in service["ports"]] == [str(port)]
        assert f":{port}/readyz" in " ".join(service["healthcheck"]["test"])


def test_environment_values_are_valid_settings(services: dict[str, Any]) -> None:
    """Instantiate each service's settings with its compose environment (secrets stubbed)."""
    for name in SERVICES:
        env = {
            k: re.sub(r"\$\{[^}]+\}", "stub", v)
            for k, v in env_of(services[name]).items()
            if k.startswith("TRUENORTH_")
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            shared = SharedSettings()
            settings = SERVICE_SETTINGS[name]()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        assert shared.nats_replicas == 3
        assert settings.port == DEFAULT_PORTS[name]


def test_databases_are_postgresql(services: dict[str, Any]) -> None:
    for name in ("metrics", "alignment"):
        url = env_of(services[name])[f"TRUENORTH_{name.upper()}_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://")
        assert url.endswith(f"/truenorth_{name}")
    init = (DEPLOY / "postgres" / "init-databases.sql").read_text(encoding="utf-8")
    assert "truenorth_metrics" in init and "truenorth_alignment" in init


def test_healthchecks_and_dependencies(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name not in NO_HEALTHCHECK:
            assert "healthcheck" in service, f"{name} has no healthcheck"
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services
            expected = "service_started" if dependency in NO_HEALTHCHECK else "service_healthy"
            assert spec["condition"] == expected, f"{name} → {dependency}"


def test_images_are_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image} is not pinned"


def test_no_secret_has_a_default() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for match in re.finditer(r"\$\{([A-Z0-9_]+)([^}]*)\}", text):
        variable, modifier = match.groups()
        if re.search(r"PASSWORD|USER|SECRET|TOKEN", variable):
            assert modifier.startswith(":?"), f"{variable} must be required (${{{variable}:?…}})"


def test_three_node_nats_cluster_with_jetstream(services: dict[str, Any]) -> None:
    nodes = [n for n in services if re.fullmatch(r"nats-\d", n)]
    assert nodes == ["nats-1", "nats-2", "nats-3"]
    for node in nodes:
        config = (DEPLOY / "nats" / f"{node}.conf").read_text(encoding="utf-8")
        assert f"server_name: {node}" in config
        assert "sync_interval: always" in config
        assert "$TRUENORTH_NATS_PASSWORD" in config
        others = {n for n in nodes if n != node}
        assert {n for n in others if f"nats-route://{n}:6222" in config} == others
    exporter = services["nats-exporter"]["command"]
    assert {f"http://{n}:8222" for n in nodes} <= set(exporter)


def test_nats_configs_are_valid_for_nats_server() -> None:
    nats_server = require_tool("nats-server")
    env = {
        **os.environ,
        "TRUENORTH_NATS_USER": "u",
        "TRUENORTH_NATS_PASSWORD": "p4ssw0rd",
        **{
            f"NATS_{name}_PASSWORD": "p4ssw0rd"
            for name in ("PROVISIONER", "STRATEGY", "CAMPAIGNS", "METRICS", "ALIGNMENT")
        },
    }
    for config in sorted((DEPLOY / "nats").glob("nats-*.conf")):
        assert "is valid" in run(nats_server, "-t", "-c", str(config), env=env)


def test_mounted_files_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text("utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in SERVICES:
        job = jobs[f"truenorth-{name}"]
        if "dns_sd_configs" in job:
            (sd,) = job["dns_sd_configs"]
            assert sd["names"] == [name] and sd["port"] == DEFAULT_PORTS[name]
        else:
            assert job["static_configs"][0]["targets"] == [f"{name}:{DEFAULT_PORTS[name]}"]
    assert "dns_sd_configs" in jobs["truenorth-alignment"], "alignment replicas via DNS SD"
    assert jobs["nats"]["static_configs"][0]["targets"] == ["nats-exporter:7777"]
    assert config["rule_files"] == ["rules/*.rules.yml"]


def test_dockerfile_installs_the_project_and_runs_truenorth() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert 'ENTRYPOINT ["truenorth"]' in text
    for path in re.findall(r"^COPY (?!--from)(\S+)", text, re.MULTILINE):
        assert (REPO / path).exists(), f"Dockerfile copies missing {path}"


def test_the_image_holds_every_folder_the_package_maps() -> None:
    """A folder left out of the build context breaks `truenorth` itself: the CLI registers the
    tools' commands (demo, review, dashboards, rules) at import."""
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    copied = {Path(p).parts[0] for p in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M)}
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    admitted = {line[1:].strip("/") for line in ignore if line.startswith("!")}
    package_dir = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-dir"]
    for folder in {Path(f).parts[0] for f in package_dir.values()}:
        assert folder in copied, f"deploy/Dockerfile does not COPY {folder}/"
        assert folder in admitted, f"deploy/Dockerfile.dockerignore keeps {folder}/ out"


def test_install_tools_script_is_executable() -> None:
    script = REPO / "scripts" / "install-tools.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text(encoding="utf-8")
    assert "prometheus-alertmanager" in text and "apt-get update" in text


def test_grafana_provisioning_points_at_the_committed_dashboards(
    services: dict[str, Any],
) -> None:
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/truenorth.yaml").read_text("utf-8")
    )
    path = Path(provider["providers"][0]["options"]["path"])
    assert mounts["./deploy/grafana/dashboards"] == str(path)
