"""`fold_batch` pauses the cyclic garbage collector for a batch and always gives it back."""

from __future__ import annotations

import gc

import pytest

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import day
from tests.unit.alignment.world import CONSUMER, World
from truenorth.alignment.store.fold import fold_batch
from truenorth.contract.registry import encode
from truenorth.store.db import CheckpointConflict


@pytest.mark.parametrize("enabled", [True, False])
def test_a_refused_batch_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    world = World()
    payload = encode(b.observed("c-a", "leads", 3, day(1)))
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(CheckpointConflict), world.engine.begin() as connection:
            fold_batch(connection, CONSUMER, "METRICS", 5, [(6, "", payload, 1)])
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_the_garbage_collector_is_paused_while_a_batch_folds_and_back_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from truenorth.alignment.store import fold

    seen: list[bool] = []
    real = fold.fold_events

    def watching(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(fold, "fold_events", watching)
    world = World()
    with world.engine.begin() as connection:
        folded = fold_batch(
            connection,
            CONSUMER,
            "METRICS",
            0,
            [(1, "", encode(b.observed("c-a", "leads", 3, day(1))), 1)],
        )
    assert (folded.applied, seen, gc.isenabled()) == (1, [False], True)
