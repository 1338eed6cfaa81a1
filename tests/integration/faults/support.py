"""What the fault tests share: a nats-server of their own, the alignment service as a real
process (so it can be killed), Prometheus scraping, and the digests to compare."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from truenorth.alignment.partition import CONSUMER
from truenorth.alignment.replay import digest as stored_digest
from truenorth.alignment.replay import replay_digest as replay_log_digest
from truenorth.bus.eventstore import EventStore, connect, provision, subject_of
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import encode
from truenorth.store.db import make_engine, read_checkpoints

FULL = os.environ.get("TRUENORTH_FULL") == "1"
SOURCE = ("STRATEGY", "CAMPAIGNS", "METRICS")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def eventually(
    check: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout}s (last {last!r})")
        time.sleep(interval)


# -- the bus --------------------------------------------------------------------------------


async def publish_events(url: str, events: Iterable[EnvelopeFields], msg_id: bool = True) -> int:
    nc = await connect(url)
    js = nc.jetstream()
    await provision(js)
    pending = []
    sent = 0
    for event in events:
        headers = {"Nats-Msg-Id": str(event.event_id)} if msg_id else None
        pending.append(await js.publish_async(subject_of(event), encode(event), headers=headers))
        sent += 1
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    await nc.drain()
    return sent


async def publish_raw(url: str, messages: Iterable[tuple[str, bytes]]) -> list[int]:
    nc = await connect(url)
    js = nc.jetstream()
    await provision(js)
    sequences = [(await js.publish(subject, data)).seq for subject, data in messages]
    await nc.drain()
    return sequences


async def heads(url: str, streams: Iterable[str] = SOURCE) -> dict[str, int]:
    nc = await connect(url)
    js = nc.jetstream()
    try:
        return {name: (await js.stream_info(name)).state.last_seq for name in streams}
    finally:
        await nc.drain()


async def raw_messages(url: str, stream: str, subject: str | None = None) -> list[Any]:
    nc = await connect(url)
    try:
        return [
            m async for m in EventStore(nc.jetstream()).read_raw(stream, filter_subject=subject)
        ]
    finally:
        await nc.drain()


def replay_digest(url: str) -> str:
    async def work() -> str:
        nc = await connect(url)
        try:
            return await replay_log_digest(nc.jetstream())
        finally:
            await nc.drain()

    return run(work())


def stored_digest_at(database_url: str) -> str:
    """The digest of the projection the service stored."""
    engine = make_engine(database_url)
    try:
        return stored_digest(engine)
    finally:
        engine.dispose()


# -- the alignment service as a process ---------------------------------------------------


def start_alignment(
    nats_url: str,
    database_url: str,
    port: int,
    data_dir: Path,
    log: Path | None = None,
    **env: str,
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "TRUENORTH_NATS_URL": nats_url,
        "TRUENORTH_DATA_DIR": str(data_dir),
        "TRUENORTH_ALIGNMENT_PORT": str(port),
        "TRUENORTH_ALIGNMENT_DATABASE_URL": database_url,
        "TRUENORTH_ALIGNMENT_BATCH_SIZE": "500",
        "TRUENORTH_ALIGNMENT_TICK_SECONDS": "0.5",
        "TRUENORTH_LOG_LEVEL": "WARNING",
        **env,
    }
    output = log.open("ab") if log is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "truenorth.serve", "serve", "alignment"],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log is not None:
            output.close()  # type: ignore[union-attr]


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", re.M)


def scrape(port: int) -> dict[str, dict[str, float]] | None:
    """name -> {label string -> value}; None while the service does not answer."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    return parse(text)


def parse(text: str) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, float]] = {}
    for name, labels, value in SAMPLE.findall(text):
        samples.setdefault(name, {})[labels] = float(value)
    return samples


def per_stream(samples: dict[str, dict[str, float]] | None, name: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for labels, value in (samples or {}).get(name, {}).items():
        match = re.search(r'stream="([^"]+)"', labels)
        if match:
            found[match.group(1)] = value
    return found


def positions(database_url: str) -> dict[str, int]:
    """The alignment checkpoints as committed (what survives any crash)."""
    engine = make_engine(database_url)
    try:
        return read_checkpoints(engine, CONSUMER)
    except Exception:  # not migrated yet
        return {}
    finally:
        engine.dispose()


def caught_up(database_url: str, wanted: dict[str, int]) -> bool:
    done = positions(database_url)
    return all(done.get(stream, 0) >= head for stream, head in wanted.items())


def ready(port: int) -> tuple[int, dict[str, Any]] | None:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    except httpx.HTTPError:
        return None
    return answer.status_code, answer.json()
