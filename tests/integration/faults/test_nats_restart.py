"""Fault 3: nats-server restarted while the alignment consumers are idle, then while they are
busy: everything published after the restart is processed within 10 s (guards nats.py #504,
pull subscriptions that stop receiving after a reconnect). A stalled consumer — provoked
deterministically by pausing the durable consumer behind the service's back — turns /readyz
unhealthy (and `truenorth_consumer_stalled` to 1); resumed, it recovers. A consumer deleted
behind the service's back is re-created from the checkpoint.

CI: 10 000 events in the busy phase; `TRUENORTH_FULL=1`: 50 000.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.workload import campaign_events, metric_events, strategy_events
from tests.integration.faults.support import (
    FULL,
    caught_up,
    eventually,
    heads,
    per_stream,
    positions,
    publish_events,
    ready,
    replay_digest,
    run,
    scrape,
    start_alignment,
    stop,
    stored_digest_at,
)
from truenorth.alignment.consumers import durable_name
from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.bus.eventstore import connect

BUSY_EVENTS = 50_000 if FULL else 10_000
WITHIN = 10.0
STALL_SECONDS = 2.0


def setup_events(workspace: str) -> list:
    return [*strategy_events(workspace, 1, 2), *campaign_events(workspace, 20, 1, 2)]


def publish_metrics(url: str, workspace: str, count: int) -> None:
    run(publish_events(url, [*setup_events(workspace), *metric_events(workspace, count, 20)]))


def processed_within(url: str, database_url: str, seconds: float) -> float:
    """Seconds until the projection's checkpoints reach the heads as they are now."""
    started = time.monotonic()
    wanted = run(heads(url))
    eventually(lambda: caught_up(database_url, wanted), seconds, 0.05, f"heads {wanted}")
    return time.monotonic() - started


def healthy(port: int) -> bool:
    answer = ready(port)
    return answer is not None and answer[0] == 200


async def _consumer_api(url: str, stream: str, action: str, body: dict[str, object]) -> bytes:
    nc = await connect(url)
    try:
        consumer = durable_name(stream)
        if action == "DELETE":
            await nc.jetstream().delete_consumer(stream, consumer)
            return b""
        reply = await nc.request(
            f"$JS.API.CONSUMER.{action}.{stream}.{consumer}", json.dumps(body).encode(), timeout=5
        )
        return bytes(reply.data)
    finally:
        await nc.drain()


def test_restart_idle_and_busy_then_stall_is_reported_and_recovers(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()
    url = server.url
    database_url = f"sqlite:///{tmp_path / 'alignment.db'}"
    port = free_port()
    service = start_alignment(
        url,
        database_url,
        port,
        tmp_path,
        log=tmp_path / "alignment.log",
        TRUENORTH_ALIGNMENT_STALL_SECONDS=str(STALL_SECONDS),
        TRUENORTH_ALIGNMENT_TICK_SECONDS="0.25",
    )
    timings: dict[str, float] = {}
    try:
        publish_metrics(url, "warmup", 500)
        eventually(lambda: caught_up(database_url, run(heads(url))), 60, what="warm-up")

        # idle: nothing in flight when the server goes away
        server.stop()
        time.sleep(0.5)
        server.start()
        publish_metrics(url, "after-idle", 500)
        timings["idle"] = processed_within(url, database_url, WITHIN)

        # busy: a backlog being folded when the server goes away (kill -9 this time)
        publish_metrics(url, "busy", BUSY_EVENTS)
        eventually(
            lambda: 0 < positions(database_url).get("METRICS", 0) < run(heads(url))["METRICS"],
            30,
            0.01,
            "mid-backlog",
        )
        server.kill()
        time.sleep(0.5)
        server.start()
        publish_metrics(url, "after-busy", 500)
        timings["busy"] = processed_within(url, database_url, WITHIN)
        assert healthy(port)

        # a durable consumer deleted behind the service's back: re-created from the checkpoint
        run(_consumer_api(url, "METRICS", "DELETE", {}))
        publish_metrics(url, "after-delete", 200)
        timings["deleted"] = processed_within(url, database_url, WITHIN)

        # a stalled consumer: paused, so a resubscription cannot fix it; /readyz says so
        until = (datetime.now(UTC) + timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
        assert b'"paused":true' in run(
            _consumer_api(url, "METRICS", "PAUSE", {"pause_until": until})
        )
        publish_metrics(url, "while-stalled", 50)
        _status, body = eventually(
            lambda: (answer := ready(port)) and answer[0] == 503 and answer,
            STALL_SECONDS * 3 + 5,
            0.1,
            "/readyz unhealthy",
        )
        assert body["checks"]["consumers"] == {"ok": False, "detail": "stalled: METRICS"}
        assert per_stream(scrape(port), "truenorth_consumer_stalled") == {
            "STRATEGY": 0.0,
            "CAMPAIGNS": 0.0,
            "METRICS": 1.0,
        }
        run(_consumer_api(url, "METRICS", "PAUSE", {}))  # resume
        timings["stall"] = processed_within(url, database_url, WITHIN)
        eventually(lambda: healthy(port), 5, 0.1, "/readyz healthy")
        eventually(
            lambda: per_stream(scrape(port), "truenorth_consumer_stalled")["METRICS"] == 0.0,
            5,
            0.1,
            "stalled gauge back to 0",
        )
        stop(service)
        assert stored_digest_at(database_url) == replay_digest(url)
    finally:
        stop(service)  # a no-op once stopped: the server and service never outlive a failure
        server.stop()
    print("\nprocessed after:", {k: f"{v:.2f}s" for k, v in timings.items()})
