"""kill -9 the alignment service mid-batch, again and again, while events flow: after each
restart the stored projection equals a fresh replay and nothing is counted twice.

CI size: 20 000 events, 3 kills. `TRUENORTH_FULL=1` runs the issue's 100 000 events, 5 kills.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchmarks.workload import campaign_events, metric_events, strategy_events
from truenorth.alignment.replay import digest as stored_digest
from truenorth.alignment.replay import replay_digest
from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.bus.eventstore import EventStore, connect, provision, subject_of
from truenorth.contract.registry import encode
from truenorth.store.db import make_engine

FULL = os.environ.get("TRUENORTH_FULL") == "1"
EVENTS = 100_000 if FULL else 20_000
KILLS = 5 if FULL else 3


async def publish(url: str, workspace: str, count: int) -> int:
    nc = await connect(url)
    js = nc.jetstream()
    await provision(js)
    seen: set[str] = set()
    pending = []
    sent = 0
    for source in (
        strategy_events(workspace, 2, 3),
        campaign_events(workspace, 50, 2, 3),
        metric_events(workspace, count, 50),
    ):
        for event in source:
            event_id = str(event.event_id)
            headers = None if event_id in seen else {"Nats-Msg-Id": event_id}
            seen.add(event_id)
            pending.append(
                await js.publish_async(subject_of(event), encode(event), headers=headers)
            )
            sent += 1
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending = []
    await asyncio.gather(*pending)
    await nc.drain()
    return sent


def start_alignment(
    nats_url: str, database_url: str, port: int, data_dir: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TRUENORTH_NATS_URL": nats_url,
        "TRUENORTH_DATA_DIR": str(data_dir),
        "TRUENORTH_ALIGNMENT_PORT": str(port),
        "TRUENORTH_ALIGNMENT_DATABASE_URL": database_url,
        "TRUENORTH_ALIGNMENT_BATCH_SIZE": "500",
        "TRUENORTH_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "truenorth.serve", "serve", "alignment"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def applied(port: int) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    return sum(
        float(v) for v in re.findall(r"^truenorth_events_applied_total\{[^}]*\} (\S+)$", text, re.M)
    )


def lag(port: int) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    values = re.findall(r"^truenorth_projection_lag_events\{[^}]*\} (\S+)$", text, re.M)
    return sum(float(v) for v in values) if len(values) == 3 else None


def fresh_replay(nats_url: str) -> tuple[str, int]:
    """Digest of a from-zero replay, and the number of distinct events in the log."""

    async def run() -> tuple[str, int]:
        nc = await connect(nats_url)
        store = EventStore(nc.jetstream())
        replayed = await replay_digest(nc.jetstream())
        distinct: set[str] = set()
        for stream in ("STRATEGY", "CAMPAIGNS", "METRICS"):
            async for stored in store.read(stream):
                distinct.add(str(stored.event.event_id))
        await nc.drain()
        return replayed, len(distinct)

    return asyncio.run(run())


def processed_count(database_url: str) -> int:
    from sqlalchemy import func, select

    from truenorth.store.schema import processed_events

    with make_engine(database_url).connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(processed_events)).scalar_one()
        )


def test_kill_9_mid_batch_never_loses_or_double_counts(tmp_path: Path) -> None:
    # a server of its own, so the replay digest covers exactly this test's events
    server = EmbeddedNats(tmp_path / "nats").start()
    database_url = f"sqlite:///{tmp_path / 'alignment.db'}"
    port = free_port()
    try:
        asyncio.run(publish(server.url, "crash", EVENTS))
        for _ in range(KILLS):
            process = start_alignment(server.url, database_url, port, tmp_path)
            deadline = time.monotonic() + 60
            while applied(port) == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(random.uniform(0.05, 0.6))  # somewhere mid-batch
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        process = start_alignment(server.url, database_url, port, tmp_path)
        try:
            deadline = time.monotonic() + 120
            while lag(port) != 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert lag(port) == 0
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        stored = stored_digest(make_engine(database_url))
        digest, distinct_events = fresh_replay(server.url)
        assert stored == digest
        assert processed_count(database_url) == distinct_events
    finally:
        server.stop()
