"""Optional TLS to NATS (TRUENORTH_NATS_TLS_CA/_CERT/_KEY): a service connects, provisions
as the provisioner and serves over a TLS-only nats-server (certificates made with openssl)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient

from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.permissions import ALL_USERS, PROVISIONER, render_authorization
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


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_a_service_runs_over_tls_with_its_user(tmp_path: Path) -> None:
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
        shared = SharedSettings(
            nats_url=server.url,
            data_dir=tmp_path,
            nats_user="strategy",
            nats_password=passwords["strategy"],
            nats_provisioner_user=PROVISIONER,
            nats_provisioner_password=passwords[PROVISIONER],
            nats_tls_ca=certs / "ca.pem",
            nats_tls_cert=certs / "client.pem",
            nats_tls_key=certs / "client.key",
        )
        from truenorth.strategy.app import build_app

        with TestClient(build_app(shared, StrategySettings())) as client:
            assert client.get("/readyz").status_code == 200
            response = client.put(
                "/v1/workspaces/tls/strategies/s1",
                json={"name": "Acme", "target_segments": ["smb"], "allowed_channels": ["search"]},
            )
            assert response.status_code in (200, 201), response.text

        async def plain() -> None:
            await nats.connect(
                server.url,
                user="strategy",
                password=passwords["strategy"],
                allow_reconnect=False,
                connect_timeout=2,
            )

        with pytest.raises(Exception):  # noqa: B017 - refused: TLS is required
            asyncio.run(plain())
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "TLS required for client connections" in log
    assert "Violation" not in log
