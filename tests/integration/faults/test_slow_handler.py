"""Fault 5: a handler slower than ack_wait. The first batches' commits are held past
`ack_wait`, so JetStream redelivers messages the projector is still committing; the
redeliveries are counted (`truenorth_redeliveries_total`) and recognised as already folded
(stale): the projection stays exactly equal to a fresh replay, nothing counted twice.

The slowness is injected in-process: `fold_batch` as the projector sees it is wrapped
(inside the batch's transaction).
CI: 3 000 events, 3 slow batches; `TRUENORTH_FULL=1`: 20 000 events, 6 slow batches.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from benchmarks.workload import campaign_events, metric_events, strategy_events
from tests.integration.faults.support import (
    FULL,
    caught_up,
    eventually,
    heads,
    parse,
    per_stream,
    publish_events,
    replay_digest,
    run,
    stored_digest_at,
)
from tests.integration.faults.test_two_instances import distinct_events, processed
from truenorth.alignment import batches as batches_module
from truenorth.alignment.app import build_app
from truenorth.bus.embedded import EmbeddedNats
from truenorth.settings import AlignmentSettings, SharedSettings

EVENTS = 20_000 if FULL else 3_000
SLOW_BATCHES = 6 if FULL else 3
ACK_WAIT = 0.5
DELAY = 2.5 * ACK_WAIT
WS = "slow"


def test_commits_slower_than_ack_wait_are_redelivered_counted_and_harmless(
    own_nats: EmbeddedNats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_nats.url
    real_fold = batches_module.fold_batch
    slowed: list[dict[str, Any]] = []

    def slow_fold(connection: Any, consumer: str, stream: str, expected: int, messages: Any) -> Any:
        if len(slowed) < SLOW_BATCHES:
            slowed.append({stream: (expected, messages[-1][0])})
            time.sleep(DELAY)  # the handler is still busy when ack_wait expires
        return real_fold(connection, consumer, stream, expected, messages)

    monkeypatch.setattr(batches_module, "fold_batch", slow_fold)
    run(
        publish_events(
            url,
            [
                *strategy_events(WS, 1, 2),
                *campaign_events(WS, 20, 1, 2),
                *metric_events(WS, EVENTS, 20),
            ],
            msg_id=False,
        )
    )
    database_url = f"sqlite:///{tmp_path / 'alignment.db'}"
    shared = SharedSettings(nats_url=url, data_dir=tmp_path, workspace=WS)
    settings = AlignmentSettings(
        database_url=database_url,
        port=0,
        ack_wait_seconds=ACK_WAIT,
        batch_size=250,
        tick_seconds=0.5,
    )
    with TestClient(build_app(shared, settings)) as client:
        wanted = run(heads(url))
        eventually(lambda: caught_up(database_url, wanted), 60, 0.1, "caught up")
        time.sleep(ACK_WAIT * 2)  # let late redeliveries arrive and be acked as stale
        samples = parse(client.get("/metrics").text)
    redeliveries = per_stream(samples, "truenorth_redeliveries_total")
    applied = per_stream(samples, "truenorth_events_applied_total")
    assert len(slowed) == SLOW_BATCHES
    assert sum(redeliveries.values()) > 0, redeliveries
    assert stored_digest_at(database_url) == replay_digest(url)
    distinct = distinct_events(url)
    assert processed(database_url) == distinct
    assert sum(applied.values()) == distinct  # the redelivered copies were not applied again
    print(f"\nredeliveries {redeliveries}, applied {sum(applied.values()):.0f} of {distinct}")
