"""A restart with a full drift outbox: when the service answers, when the outbox is empty.

A store is given `--drifts` opened drifts whose events were committed but never published (a
first tick at 10 000 objectives opens ~120 000; the service was killed before it sent them).
`truenorth serve alignment` then starts on it beside an embedded nats-server; the script
prints when /healthz first answered and when the outbox was empty, and counts the
detections the ALIGNMENT stream holds (each once).

    .venv/bin/python -m benchmarks.outbox_restart --drifts 120000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx

from benchmarks.service import alignment_service
from truenorth.alignment.domain.drift import Finding, reconcile
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.drift_writes import drift_events, record_transitions
from truenorth.alignment.store.drifts import last_published, open_drifts
from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.bus.eventstore import EventStore, connect, provision
from truenorth.bus.streams import ALIGNMENT
from truenorth.contract.alignment import DriftDetected
from truenorth.store.db import make_engine, migrate

WORKSPACE = "bench"


def committed_not_published(path: Path, drifts: int) -> None:
    """`drifts` stale-data drifts opened by one tick, their events left in the outbox."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    at = datetime.now(UTC)
    findings = (
        Finding(WORKSPACE, "stale_data", f"campaign:c-{n:06d}", "warning", "silent", {"h": 30})
        for n in range(drifts)
    )
    with engine.begin() as connection:
        transitions = reconcile(
            WORKSPACE,
            frozenset(),
            findings,
            to_micros(at),
            partial(open_drifts, connection, WORKSPACE),
            partial(last_published, connection, WORKSPACE),
        )
        record_transitions(connection, drift_events(list(transitions), at))
    engine.dispose()


def pending(path: Path) -> int:
    with sqlite3.connect(path, timeout=30) as connection:
        return int(connection.execute("SELECT count(*) FROM al_outbox").fetchone()[0])


async def restart(tmp: Path, database: Path, limit: float) -> dict[str, float | int]:
    server = EmbeddedNats(tmp / "nats").start()
    port = free_port()
    nc = await connect(server.url)
    await provision(nc.jetstream())
    service = alignment_service(tmp, server.url, f"sqlite:///{database}", port, subprocess.DEVNULL)
    started = time.monotonic()
    answered = emptied = float("nan")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            while emptied != emptied and time.monotonic() - started < limit:  # NaN: not yet
                await asyncio.sleep(0.25)
                if answered != answered:
                    try:
                        (await client.get("/healthz")).raise_for_status()
                        answered = time.monotonic() - started
                    except httpx.HTTPError:
                        pass
                if pending(database) == 0:
                    emptied = time.monotonic() - started
        events = EventStore(nc.jetstream()).read(ALIGNMENT.name)
        # the service's first tick then resolves them (no campaign is stale here): count
        # the events the outbox held
        ids = [str(e.event.event_id) async for e in events if isinstance(e.event, DriftDetected)]
    finally:
        service.kill()
        service.wait()
        await nc.drain()
        server.stop()
    return {"answered": answered, "emptied": emptied, "stored": len(ids), "distinct": len(set(ids))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drifts", type=int, default=120_000)
    parser.add_argument("--limit", type=float, default=600.0, help="seconds to wait at most")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        database = tmp / "alignment.db"
        committed_not_published(database, args.drifts)
        print(f"{pending(database):,} drift events committed, not published", flush=True)
        figures = asyncio.run(restart(tmp, database, args.limit))
    answered = figures["answered"]
    if answered != answered:  # NaN: not before the outbox was empty
        print("  /healthz answered            only once the outbox was empty")
    else:
        print(f"  /healthz answered after s    {answered:8.1f}")
    print(f"  outbox empty after s         {figures['emptied']:8.1f}")
    print(f"  detections in ALIGNMENT      {figures['stored']:8,}")
    print(f"  of which distinct event ids  {figures['distinct']:8,}")


if __name__ == "__main__":
    main()
