from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from truenorth.bus.embedded import EmbeddedNats


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of the test's own (file storage, sync_interval always), so digests of a
    replay cover exactly this test's events and the server can be killed."""
    server = EmbeddedNats(tmp_path / "nats").start()
    yield server
    server.kill()
