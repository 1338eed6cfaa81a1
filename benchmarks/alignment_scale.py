"""Scale of the alignment projection: /metrics scrape time at 1 000 objectives, and resident
memory at 10 000 objectives / 100 000 campaigns.

Scrape: a projection of 100 strategies x 10 objectives, 10 000 campaigns and 100 000
observations is folded; the snapshot build and the rendering of its exposition text (both done
off the scrape path, in a thread, when the projection changes) are timed, and so is a scrape:
GET /metrics through the service's own endpoint (`truenorth.http.install_common`, with the
pipeline metrics registry), which serves the pre-rendered text.

RSS: a fresh interpreter with the service's modules imported folds 1 000 strategies x 10
objectives, 100 000 campaigns and `--observations` metric events the way the service does
(batches of 1 000 committed to a SQLite store, observations looked up in the store), runs a
drift tick as the service does (its rows and outbox committed, the outbox read back, decoded
and deleted; publishing aside), builds a snapshot and its exposition text, returns free pages
to the OS as the service does after a tick, and reports its resident memory with the store's
engine still open. The store is migrated by another process beforehand, as for a service
(re)started on an existing store: the first start on an empty store also imports alembic,
~10 MB more until the next restart.

    .venv/bin/python -m benchmarks.alignment_scale
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from benchmarks.workload import campaign_events, metric_events, strategy_events
from truenorth.alignment.domain.projection import Projection
from truenorth.alignment.domain.snapshot import build_snapshot
from truenorth.alignment.exposition import render_families
from truenorth.alignment.folding import CONSUMER, OUTBOX_KIND, ProjectionState, pending_outbox
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import decode_dict, encode
from truenorth.gzip_members import GzipMember
from truenorth.memory import trim_free_memory
from truenorth.store.db import Batch, commit_batch, make_engine, migrate

WORKSPACE = "bench"
NOW = datetime(2026, 11, 15, tzinfo=UTC)
"""Inside the workload's planning period (2026-10-01 .. 2026-12-31)."""


def fold(
    strategies: int, objectives: int, campaigns: int, observations: int, projection: Projection
) -> Projection:
    """Fold like the service does: dirty marks are dropped after every batch (committed)."""
    apply = projection.apply
    events = chain(
        strategy_events(WORKSPACE, strategies, objectives) if strategies else (),
        campaign_events(WORKSPACE, campaigns, strategies, objectives) if strategies else (),
    )
    for count, event in enumerate(events):
        apply(event)
        if count % 20_000 == 0:
            projection.clear_dirty()
    for count, event in enumerate(metric_events(WORKSPACE, observations, campaigns)):
        apply(event)
        if count % 20_000 == 0:
            projection.clear_dirty()
    projection.clear_dirty()
    return projection


def current_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def timed_scrapes(exposition: list[GzipMember], repeat: int) -> tuple[list[float], bytes]:
    """GET /metrics `repeat` times from an app wired like the alignment service's."""
    # imported here: the RSS part runs in a fresh interpreter and must not count them
    import httpx
    from fastapi import FastAPI

    from truenorth.http import install_common

    app = FastAPI()
    registry = CollectorRegistry()
    PipelineMetrics.register(registry)
    install_common(
        app,
        registry=registry,
        checks={},
        max_request_bytes=1 << 20,
        expositions=[lambda _names: exposition],
    )
    scrapes = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(repeat):
            started = time.perf_counter()
            # as Prometheus scrapes: gzip, the body taken as sent (not inflated here)
            headers = {"Accept-Encoding": "gzip"}
            async with client.stream("GET", "/metrics", headers=headers) as response:
                body = b"".join([chunk async for chunk in response.aiter_raw()])
            scrapes.append(time.perf_counter() - started)
    response.raise_for_status()
    return scrapes, body


def scrape(objectives_total: int, campaigns: int, observations: int, repeat: int) -> None:
    strategies = objectives_total // 10
    started = time.perf_counter()
    projection = fold(strategies, 10, campaigns, observations, Projection())
    print(
        f"folded {strategies * 10:,} objectives, {campaigns:,} campaigns, "
        f"{observations:,} metric events in {time.perf_counter() - started:.1f}s"
    )
    builds = []
    snapshot = build_snapshot(projection, NOW)
    for _ in range(repeat):
        started = time.perf_counter()
        snapshot = build_snapshot(projection, NOW)
        builds.append(time.perf_counter() - started)
    renders = []
    for _ in range(repeat):
        started = time.perf_counter()
        families = render_families(snapshot)
        renders.append(time.perf_counter() - started)
    scrapes, body = asyncio.run(timed_scrapes(list(families.values()), repeat))
    lines = gzip.decompress(body).count(b"\n")
    print(
        f"snapshot build: median {statistics.median(builds) * 1000:.1f} ms "
        f"(projection unchanged: per-objective caches warm)"
    )
    print(f"exposition render + gzip: median {statistics.median(renders) * 1000:.1f} ms")
    print(
        f"scrape at {len(snapshot.objectives):,} objectives ({lines:,} lines, "
        f"{len(body) / 1024:.0f} KiB gzip): median {statistics.median(scrapes) * 1000:.1f} ms, "
        f"max {max(scrapes) * 1000:.1f} ms"
    )


def fold_through_store(
    engine: Engine, state: ProjectionState, events: Iterable[EnvelopeFields]
) -> None:
    """Fold like the service: batches of 1 000 messages, each committed with its rows."""
    iterator = iter(events)
    while chunk := list(islice(iterator, 1_000)):
        sequence = state.positions.get("ALL", 0)
        messages = [(sequence + n, "tn", encode(e), 1) for n, e in enumerate(chunk, start=1)]
        folded = state.fold(engine, "ALL", messages)
        commit_batch(engine, folded.batch)
        state.committed(folded.batch)


def drift_tick(engine: Engine, state: ProjectionState) -> int:
    """The service's drift tick, publishing aside: evaluate, commit the drift and outbox rows,
    read the outbox back and decode each event as publishing does, delete it. Returns how
    many events were published."""
    batch = state.drift_tick(NOW)
    if batch is None:
        return 0
    commit_batch(engine, batch)
    state.clear_dirty()
    published, after = 0, ""
    while page := pending_outbox(engine, after):  # as Projector._publish_outbox
        for _key, raw in page:
            decode_dict(raw)  # the event published, let go
        commit_batch(engine, Batch(CONSUMER, deletes=[(OUTBOX_KIND, key) for key, _ in page]))
        published, after = published + len(page), page[-1][0]
    return published


def rss(objectives_total: int, campaigns: int, observations: int) -> None:
    # what the service process imports besides the fold (web app, NATS, faststream, CLI):
    # ~22 MB that a process running the fold alone would not count
    import truenorth.alignment.app  # noqa: F401

    baseline = current_rss_mb()
    gc.collect()
    strategies = objectives_total // 10
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'projection.db'}"
        migration = "import sys; from truenorth.store.db import make_engine, migrate; "
        migration += "migrate(make_engine(sys.argv[1]))"
        subprocess.run([sys.executable, "-c", migration, url], check=True)
        engine = make_engine(url)
        migrate(engine)  # at head: a check, no alembic
        plan_events = chain(
            strategy_events(WORKSPACE, strategies, 10),
            campaign_events(WORKSPACE, campaigns, strategies, 10),
        )
        state = ProjectionState.load(engine)
        fold_through_store(engine, state, plan_events)
        gc.collect()
        plan = current_rss_mb()
        fold_through_store(engine, state, metric_events(WORKSPACE, observations, campaigns))
        projection = state.projection
        gc.collect()
        folded = current_rss_mb()
        seconds = time.perf_counter() - started
        opened = drift_tick(engine, state)
        snapshot = build_snapshot(projection, NOW, state.tracker)
        exposition = render_families(snapshot)  # the service keeps both
        gc.collect()
        untrimmed = current_rss_mb()
        started = time.perf_counter()
        trim_free_memory()  # as the service does after a tick
        trim_ms = (time.perf_counter() - started) * 1000
        after = current_rss_mb()  # the engine and its pooled connections still open, as served
        engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"RSS at {strategies * 10:,} objectives / {campaigns:,} campaigns / "
        f"{observations:,} metric events, {len(projection.arrays):,} periods "
        f"(folded in {seconds:.0f}s): "
        f"{after:.0f} MB (peak {peak:.0f} MB; {untrimmed:.0f} MB before the free pages were "
        f"returned, which took {trim_ms:.0f} ms)"
    )
    print(
        f"  interpreter + imports {baseline:.0f} MB, "
        f"+ plan and campaigns {plan - baseline:.0f} MB, "
        f"+ observations {folded - plan:.0f} MB, + snapshot and its exposition "
        f"{after - folded:.0f} MB ({len(snapshot.objectives):,} objectives, "
        f"{opened:,} drift events published, "
        f"{sum(f.size for f in exposition.values()) / 2**20:.0f} MB of text held "
        f"gzip-compressed in {sum(len(f.data) for f in exposition.values()) / 2**20:.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("part", nargs="?", choices=("all", "scrape", "rss"), default="all")
    parser.add_argument("--scrape-objectives", type=int, default=1000)
    parser.add_argument("--scrape-campaigns", type=int, default=10_000)
    parser.add_argument("--scrape-observations", type=int, default=100_000)
    parser.add_argument("--objectives", type=int, default=10_000)
    parser.add_argument("--campaigns", type=int, default=100_000)
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if args.part in ("all", "scrape"):
        scrape(args.scrape_objectives, args.scrape_campaigns, args.scrape_observations, args.repeat)
    if args.part == "rss":
        rss(args.objectives, args.campaigns, args.observations)
    elif args.part == "all":
        # a fresh interpreter, so that the scrape part's memory does not count
        command = [sys.executable, "-m", "benchmarks.alignment_scale", "rss"]
        command += ["--objectives", str(args.objectives), "--campaigns", str(args.campaigns)]
        command += ["--observations", str(args.observations)]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
