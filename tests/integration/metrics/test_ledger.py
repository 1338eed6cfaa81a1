"""The observation ledger on SQLite and a real PostgreSQL (driver-level SQL on both)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from truenorth.metrics.ledger import Ledger
from truenorth.store.db import make_engine, migrate


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    engine: Engine = make_engine(database_url)
    migrate(engine)
    yield Ledger(engine)
    engine.dispose()


def test_lookup_record_and_upsert(ledger: Ledger) -> None:
    assert ledger.lookup("w", ["a", "b"]) == {}
    ledger.record("w", [("a", 1.0, "e1"), ("b", 2.5, "e2"), ("a", 3.0, "e3")])  # last wins
    assert ledger.lookup("w", ["a", "b", "c"]) == {"a": (3.0, "e3"), "b": (2.5, "e2")}
    ledger.record("w", [("b", 4.0, "e4")])
    assert ledger.get("w", "b") == (4.0, "e4")
    assert ledger.get("other", "b") is None


def test_large_batches_are_chunked(ledger: Ledger) -> None:
    ids = [f"o{i}" for i in range(1_234)]
    ledger.record("w", [(i, float(n), f"e{n}") for n, i in enumerate(ids)])
    found = ledger.lookup("w", ids)
    assert len(found) == 1_234
    assert found["o1000"] == (1000.0, "e1000")
