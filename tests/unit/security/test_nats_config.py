"""The NATS users and permissions: the compose configs are in step with
`truenorth.bus.permissions`, every secret they read is required by compose, and the
supervisor hands each service its own user."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.tools import DEPLOY, REPO, require_tool, run
from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.permissions import (
    ALL_USERS,
    CONSUMER_API,
    INTAKE,
    LOCAL,
    PROVISIONER,
    SERVICE_USERS,
    STREAM_ADMIN,
    USERS,
    render_authorization,
    render_permission_variables,
)
from truenorth.settings import SharedSettings
from truenorth.supervisor import Supervisor

CONFIGS = sorted((DEPLOY / "nats").glob("nats-*.conf"))
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
VARIABLE = re.compile(r"\$([A-Z][A-Z0-9_]*)")


def env_variables(config: str) -> set[str]:
    """Environment variables a NATS config reads (its own PERMISSIONS_* are config vars)."""
    code = "\n".join(line.split("#", 1)[0] for line in config.splitlines())
    code = re.sub(r'"[^"]*"', "", code)  # quoted subjects such as "$JS.API.>" are literals
    return {v for v in VARIABLE.findall(code) if not v.startswith("PERMISSIONS_")}


def test_only_the_provisioner_may_administer_streams() -> None:
    for user, permissions in USERS.items():
        if user == PROVISIONER:
            assert permissions.publish == ("$JS.API.>",)
            continue
        broad = any(s == ">" or s.startswith("$JS.API") for s in permissions.publish)
        assert not broad or set(STREAM_ADMIN) <= set(permissions.deny_publish), user
        assert not any(s in ("$JS.API.>", "$JS.>") for s in permissions.publish), user
    for service in SERVICE_USERS:
        own = [s for s in USERS[service].publish if s.startswith("tn.")]
        assert own[0] == f"tn.*.{service}.>"
        assert all(service in s for s in own)
        assert USERS[service].subscribe == (f"_INBOX_{service}.>",)
        assert set(CONSUMER_API) <= set(USERS[service].publish)
    assert USERS[INTAKE].publish == ("tn.*.intake.>",)
    assert USERS["strategy"].publish[0] == "tn.*.strategy.>"
    assert "tn.*.dlq.campaigns" in USERS["campaigns"].publish
    assert "tn.*.dlq.strategy" not in USERS["strategy"].publish


def test_compose_configs_carry_the_generated_permissions() -> None:
    block = render_permission_variables((PROVISIONER, *SERVICE_USERS, INTAKE))
    for config in CONFIGS:
        text = config.read_text(encoding="utf-8")
        assert block in text, f"{config.name}: regenerate from truenorth.bus.permissions"
        assert "PERMISSIONS_LOCAL" not in text and "no_auth_user" not in text
        for user in (PROVISIONER, *SERVICE_USERS):
            assert re.search(
                rf"user: {user}, password: \$NATS_{user.upper()}_PASSWORD, "
                rf"permissions: \$PERMISSIONS_{user.upper()} ",
                text,
            ), (config.name, user)
        assert (
            "user: $TRUENORTH_NATS_USER, password: $TRUENORTH_NATS_PASSWORD, "
            "permissions: $PERMISSIONS_INTAKE" in text
        )


def test_every_secret_the_nats_configs_read_is_required_by_compose() -> None:
    services: dict[str, Any] = COMPOSE["services"]
    for config in CONFIGS:
        node = services[config.stem]
        environment = node["environment"]
        for variable in env_variables(config.read_text(encoding="utf-8")):
            value = str(environment.get(variable, ""))
            assert value.startswith(f"${{{variable}:?"), (config.stem, variable)


def test_each_service_connects_as_its_own_user_and_auth_is_required() -> None:
    services: dict[str, Any] = COMPOSE["services"]
    for name in SERVICE_USERS:
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        assert env["TRUENORTH_NATS_USER"] == name
        assert env["TRUENORTH_NATS_PASSWORD"].startswith(f"${{NATS_{name.upper()}_PASSWORD:?")
        assert env["TRUENORTH_NATS_PROVISIONER_USER"] == PROVISIONER
        assert env["TRUENORTH_AUTH"] == "required"
        assert env["TRUENORTH_TOKENS_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "postgres" in services[name]["depends_on"]


def test_compose_nats_configs_are_valid_with_every_secret_set() -> None:
    nats_server = require_tool("nats-server")
    variables = set().union(*(env_variables(c.read_text("utf-8")) for c in CONFIGS))
    env = {**os.environ, **{v: "s3cr3t" for v in variables}}
    env["TRUENORTH_NATS_USER"] = "intake"
    for config in CONFIGS:
        assert "is valid" in run(nats_server, "-t", "-c", str(config), env=env)


def test_the_embedded_config_is_valid(tmp_path: Path) -> None:
    nats_server = require_tool("nats-server")
    server = EmbeddedNats(
        tmp_path,
        port=4999,
        monitor_port=4998,
        config_extra=render_authorization({u: "pw" for u in ALL_USERS}, no_auth_user=LOCAL),
    )
    config = tmp_path / "nats.conf"
    config.write_text(server._config())
    assert "is valid" in run(nats_server, "-t", "-c", str(config))


def test_the_supervisor_gives_each_service_its_own_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUENORTH_NATS_USER", "someone-else")
    monkeypatch.setenv("TRUENORTH_NATS_PASSWORD", "theirs")
    supervisor = Supervisor(data_dir=tmp_path, ports=dict.fromkeys(SERVICE_USERS, 1))
    supervisor.nats = EmbeddedNats(tmp_path, port=4222)
    supervisor.nats_passwords = {u: f"pw-{u}" for u in ALL_USERS}
    for service in SERVICE_USERS:
        env = supervisor._env(service)
        assert env["TRUENORTH_NATS_USER"] == service
        assert env["TRUENORTH_NATS_PASSWORD"] == f"pw-{service}"
        assert env["TRUENORTH_NATS_PROVISIONER_USER"] == PROVISIONER
        assert env["TRUENORTH_NATS_PROVISIONER_PASSWORD"] == f"pw-{PROVISIONER}"
    supervisor._write_credentials()
    assert supervisor.credentials_path.stat().st_mode & 0o777 == 0o600
    # without NATS auth no credentials are passed (and none leak from the caller's env)
    supervisor.nats_passwords = {}
    env = supervisor._env("metrics")
    assert "TRUENORTH_NATS_USER" not in env and "TRUENORTH_NATS_PASSWORD" not in env


def test_settings_pairs_and_tls() -> None:
    with pytest.raises(ValueError, match="PROVISIONER"):
        SharedSettings(nats_provisioner_user="provisioner")
    with pytest.raises(ValueError, match="TLS_KEY"):
        SharedSettings(nats_tls_cert=Path("c.pem"))
    assert SharedSettings(nats_url="tls://nats:4222").nats_tls
    assert not SharedSettings().nats_tls
    assert SharedSettings(auth="Required").auth == "required"


def test_every_user_receives_only_on_its_own_inbox_prefix() -> None:
    for user, permissions in USERS.items():
        if user == LOCAL:
            continue  # the operator reads everything by design
        assert permissions.subscribe == (f"_INBOX_{user}.>",), user
    assert SharedSettings(nats_user="intake").nats_user == "intake"


def test_the_durables_named_for_isolation_are_the_services_own() -> None:
    from truenorth.alignment.consumers import durable_name
    from truenorth.alignment.replay import SOURCE_STREAMS
    from truenorth.bus.permissions import DURABLES
    from truenorth.campaigns.intake import DURABLE as CAMPAIGNS_DURABLE
    from truenorth.metrics.intake import DURABLE as METRICS_DURABLE

    expected = {
        ("INTAKE", METRICS_DURABLE): "metrics",
        ("INTAKE", CAMPAIGNS_DURABLE): "campaigns",
        **{(s.name, durable_name(s.name)): "alignment" for s in SOURCE_STREAMS},
    }
    assert expected == DURABLES
