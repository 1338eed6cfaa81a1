"""Fixtures: a 3-node nats-server cluster, and toy worker processes on it
(tests/integration/cluster/harness.py, toy_worker.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster.harness import NatsCluster, ToyWorkers, provision_cluster
from tests.integration.cluster.toy_worker import create_tables
from truenorth.store.db import make_engine


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster") as running:
        yield running


@pytest.fixture
def toy_workers(cluster: NatsCluster, tmp_path: Path, postgres_url: str) -> Iterator[ToyWorkers]:
    """Worker processes on the cluster, their toy projection in the embedded PostgreSQL (on
    SQLite a worker paused mid-commit holds the whole database's write lock)."""
    partitions = 6
    asyncio.run(provision_cluster(cluster, partitions))
    db_url = postgres_url
    engine = make_engine(db_url)
    create_tables(engine)
    engine.dispose()
    workers = ToyWorkers(cluster, tmp_path, db_url, partitions)
    yield workers
    workers.stop_all()
