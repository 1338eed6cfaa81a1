"""A nats-server of its own with the per-service users of `truenorth.bus.permissions`
(exactly the config `truenorth up` writes), and helpers to connect as each user."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient

from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.eventstore import provision
from truenorth.bus.permissions import (
    ALL_USERS,
    LOCAL,
    PROVISIONER,
    inbox_prefix,
    render_authorization,
)


@dataclass
class SecureNats:
    server: EmbeddedNats
    passwords: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    async def connect(self, user: str | None, password: str | None = None) -> Connection:
        """As `user` (None: without credentials, i.e. the `local` no-auth user)."""
        connection = Connection()
        options: dict[str, object] = {}
        if user is not None:
            options = {
                "user": user,
                "password": password or self.passwords[user],
                "inbox_prefix": inbox_prefix(user),
            }
        connection.nc = await nats.connect(
            self.url,
            error_cb=connection.on_error,
            max_reconnect_attempts=0,
            allow_reconnect=False,
            **options,
        )
        return connection

    def violations(self) -> str:
        return "\n".join(
            line for line in self.server.log_path.read_text().splitlines() if "Violation" in line
        )


@dataclass
class Connection:
    nc: NatsClient = field(init=False)
    errors: list[str] = field(default_factory=list)

    async def on_error(self, exc: Exception) -> None:
        self.errors.append(str(exc))

    async def close(self) -> None:
        await self.nc.close()


@pytest.fixture(scope="module")
def secure_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureNats]:
    passwords = {user: secrets.token_hex(16) for user in ALL_USERS}
    config = render_authorization(passwords, no_auth_user=LOCAL)
    server = EmbeddedNats(Path(tmp_path_factory.mktemp("secure-nats")), config_extra=config)
    server.start()
    yield SecureNats(server, passwords)
    server.stop()


@pytest.fixture(scope="module")
async def provisioned(secure_nats: SecureNats) -> AsyncIterator[SecureNats]:
    connection = await secure_nats.connect(PROVISIONER)
    await provision(connection.nc.jetstream())
    await connection.close()
    yield secure_nats
