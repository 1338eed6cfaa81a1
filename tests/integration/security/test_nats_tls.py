"""Optional TLS to NATS (TRUENORTH_NATS_TLS_CA/_CERT/_KEY): a service connects, provisions
as the provisioner and serves over a TLS-only nats-server (certificates made with openssl)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import require_installed
from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.eventstore import provision
from truenorth.bus.permissions import ALL_USERS, PROVISIONER, render_authorization
from truenorth.cli import app
from truenorth.runtime import connect_client
from truenorth.settings import SharedSettings, StrategySettings


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(directory: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem", cwd=directory,
    )  # fmt: skip
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        (directory / f"{name}.ext").write_text(extension + "\n")
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory,
        )  # fmt: skip
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
            cwd=directory,
        )  # fmt: skip


@dataclass
class TlsServer:
    server: EmbeddedNats
    certs: Path
    passwords: dict[str, str]

    def settings(self, user: str, data_dir: Path) -> SharedSettings:
        return SharedSettings(
            nats_url=self.server.url,
            data_dir=data_dir,
            nats_user=user,
            nats_password=self.passwords[user],
            nats_provisioner_user=PROVISIONER,
            nats_provisioner_password=self.passwords[PROVISIONER],
            nats_tls_ca=self.certs / "ca.pem",
            nats_tls_cert=self.certs / "client.pem",
            nats_tls_key=self.certs / "client.key",
        )


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    """A TLS-only nats-server that verifies client certificates, with per-service users."""
    require_installed(shutil.which("openssl") is not None, "openssl", "scripts/install-tools.sh")
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certificates(certs)
    passwords = {user: secrets.token_hex(12) for user in ALL_USERS}
    tls = (
        "tls {\n"
        f'  cert_file: "{certs / "server.pem"}"\n'
        f'  key_file: "{certs / "server.key"}"\n'
        f'  ca_file: "{certs / "ca.pem"}"\n'
        "  verify: true\n"  # clients must present a certificate signed by the CA
        "}\n"
    )
    server = EmbeddedNats(tmp_path / "nats", config_extra=tls + render_authorization(passwords))
    server.start()
    try:
        yield TlsServer(server, certs, passwords)
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "TLS required for client connections" in log
    assert "Violation" not in log


def test_a_service_runs_over_tls_with_its_user(tls_server: TlsServer, tmp_path: Path) -> None:
    from truenorth.strategy.app import build_app

    shared = tls_server.settings("strategy", tmp_path)
    with TestClient(build_app(shared, StrategySettings())) as client:
        assert client.get("/readyz").status_code == 200
        response = client.put(
            "/v1/workspaces/tls/strategies/s1",
            json={"name": "Acme", "target_segments": ["smb"], "allowed_channels": ["search"]},
        )
        assert response.status_code in (200, 201), response.text

    async def plain() -> None:
        await nats.connect(
            tls_server.server.url,
            user="strategy",
            password=tls_server.passwords["strategy"],
            allow_reconnect=False,
            connect_timeout=2,
        )

    with pytest.raises(Exception):  # noqa: B017 - refused: TLS is required
        asyncio.run(plain())


def test_the_operator_commands_reach_nats_over_tls(tls_server: TlsServer, tmp_path: Path) -> None:
    """digest, review and dlq list read the bus with the same TLS settings as the services."""
    shared = tls_server.settings("alignment", tmp_path)

    async def provision_streams() -> None:
        nc = await connect_client(tls_server.settings(PROVISIONER, tmp_path), name="setup")
        await provision(nc.jetstream())
        await nc.drain()

    asyncio.run(provision_streams())
    env = {
        "TRUENORTH_NATS_URL": shared.nats_url,
        "TRUENORTH_DATA_DIR": str(tmp_path),
        "TRUENORTH_NATS_USER": "alignment",
        "TRUENORTH_NATS_PASSWORD": tls_server.passwords["alignment"],
        "TRUENORTH_NATS_TLS_CA": str(tls_server.certs / "ca.pem"),
        "TRUENORTH_NATS_TLS_CERT": str(tls_server.certs / "client.pem"),
        "TRUENORTH_NATS_TLS_KEY": str(tls_server.certs / "client.key"),
    }
    for command in (["digest", "--replay"], ["dlq", "list"]):
        result = CliRunner().invoke(app, command, env=env)
        assert result.exit_code == 0, (command, result.output)
    without_tls = {k: v for k, v in env.items() if "TLS" not in k}
    refused = CliRunner().invoke(app, ["digest", "--replay"], env=without_tls)
    assert refused.exit_code == 2  # at once, not retrying forever
    assert f"cannot reach NATS at {shared.nats_url}" in refused.output
