"""Freshness: publish -> gauge visible at the alignment service's /metrics, at a steady rate.

An embedded nats-server and `truenorth serve alignment` (a subprocess, as deployed) run on a
fresh data dir with 10 strategies x 10 objectives and 1 000 campaigns. Metric observations
are then published at `--rate` events/s; ten times a second one of them is a probe: one lead
for a campaign linked to a dedicated objective, so `truenorth_objective_actual` of that
objective counts the probes the service has folded. A scraper polls /metrics; a probe's
latency is from just before its publish to the end of the first scrape showing it (an upper
bound: the scrape interval is printed too).

    .venv/bin/python -m benchmarks.alignment_freshness --rate 2000 --seconds 30

BENCH_PROFILE=/tmp/svc.prof runs the service under cProfile; BENCH_SERVICE_MODULE replaces
`truenorth.serve` (to try a patched service).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from nats.js.errors import APIError

from benchmarks.pipeline import pipeline_figures
from benchmarks.workload import END, START, campaign_events, metric_events, strategy_events
from truenorth.bus.atomic import append_atomic
from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.bus.eventstore import EventStore, StoreUnavailable, connect, provision, subject_of
from truenorth.contract.campaigns import CampaignLaunched, CampaignLaunchedData
from truenorth.contract.common import ObjectiveSpec
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import MetricObserved, Observation
from truenorth.contract.registry import encode
from truenorth.contract.strategy import ObjectiveAdded, ObjectiveSetData

WORKSPACE = "bench"
PROBE_OBJECTIVE = "probe"
PROBE_CAMPAIGN = "probe-c"
PROBES_PER_SECOND = 10
SERVICE_MODULE = os.environ.get("BENCH_SERVICE_MODULE", "truenorth.serve")
PROFILE = (
    ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
)
PROBE_LINE = re.compile(
    r'^truenorth_objective_actual\{[^}]*objective="' + PROBE_OBJECTIVE + r'"[^}]*\} (\S+)$',
    re.MULTILINE,
)


def setup_events(strategies: int, objectives: int, campaigns: int) -> list[EnvelopeFields]:
    events: list[EnvelopeFields] = [*strategy_events(WORKSPACE, strategies, objectives)]
    events += campaign_events(WORKSPACE, campaigns, strategies, objectives)
    events.append(
        ObjectiveAdded(
            workspace=WORKSPACE,
            aggregate_id="s0",
            data=ObjectiveSetData(
                objective=ObjectiveSpec(
                    objective_id=PROBE_OBJECTIVE,
                    name="Freshness probe",
                    kpi="leads",
                    target=1_000_000,
                    start=START,
                    deadline=END,
                )
            ),
        )
    )
    events.append(
        CampaignLaunched(
            workspace=WORKSPACE,
            aggregate_id=PROBE_CAMPAIGN,
            data=CampaignLaunchedData(
                campaign_id=PROBE_CAMPAIGN,
                objective_ids=(PROBE_OBJECTIVE,),
                channel="search",
                segment="smb",
                budget=1_000,
                start=START,
                end=END,
            ),
        )
    )
    return events


def probe(k: int) -> MetricObserved:
    day = START + timedelta(days=10)
    return MetricObserved(
        workspace=WORKSPACE,
        aggregate_id=PROBE_CAMPAIGN,
        data=Observation(
            observation_id=f"probe-{k}",
            campaign_id=PROBE_CAMPAIGN,
            metric="leads",
            value=1,
            period_start=day,
            period_end=day + timedelta(days=1),
            source="bench",
        ),
    )


PROBE_FAMILY = {"name[]": "truenorth_objective_actual"}
"""What the probe scrapes ask for: polling the whole exposition 20-50 times a second (about
10 MB/s at 100 objectives, where Prometheus takes it every 15 s) would mostly measure the
load the poller puts on the service; `--full-scrape` does it anyway."""


async def probes_visible(client: httpx.AsyncClient, full: bool = False) -> int | None:
    response = await client.get("/metrics", params=None if full else PROBE_FAMILY)
    found = PROBE_LINE.search(response.text)
    return None if found is None else round(float(found.group(1)))


async def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await predicate():
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats").start()
        port = free_port()
        env = {
            **os.environ,
            "TRUENORTH_NATS_URL": server.url,
            "TRUENORTH_DATA_DIR": str(Path(tmp) / "data"),
            "TRUENORTH_ALIGNMENT_PORT": str(port),
            "TRUENORTH_LOG_LEVEL": "WARNING",
        }
        service = subprocess.Popen(
            [sys.executable, *PROFILE, "-m", SERVICE_MODULE, "serve", "alignment"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(tmp) / "service.log", "wb"),  # noqa: SIM115
        )
        nc = None
        try:
            nc = await connect(server.url)
            js = nc.jetstream()
            await provision(js)
            for event in setup_events(args.strategies, args.objectives, args.campaigns):
                await js.publish(subject_of(event), encode(event))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

                async def ready() -> bool:
                    return await probes_visible(client) == 0

                await wait_until(ready, 60, "the service to fold the setup")
                latencies, scrapes, sent = await measure(
                    js,
                    client,
                    args.rate,
                    args.seconds,
                    args.scrape_pause,
                    args.campaigns,
                    args.publish == "atomic",
                    args.full_scrape,
                )
                pipeline = await pipeline_timings(client)
            report(latencies, scrapes, sent, args.seconds, args.rate)
            print(pipeline)
        finally:
            service.send_signal(signal.SIGINT)
            try:
                service.wait(15)
            except subprocess.TimeoutExpired:
                service.kill()
            if nc is not None:
                await nc.drain()
            server.stop()


async def measure(  # type: ignore[no-untyped-def]
    js,
    client,
    rate: int,
    seconds: float,
    scrape_pause: float,
    campaigns: int,
    atomic: bool,
    full_scrape: bool,
):
    sent_at: list[float] = []
    latencies: list[float] = []
    stored: list[float] = []
    """Probe publish -> JetStream's ack (stored, fsynced): the floor under freshness."""
    scrapes: list[float] = []
    done = asyncio.Event()

    async def scraper() -> None:
        seen = 0
        while not (done.is_set() and seen >= len(sent_at)):
            started = time.perf_counter()
            visible = await probes_visible(client, full_scrape) or 0
            finished = time.perf_counter()
            scrapes.append(finished - started)
            while seen < min(visible, len(sent_at)):
                latencies.append(finished - sent_at[seen])
                seen += 1
            if done.is_set() and finished - last_sent[0] > 10:
                break  # a probe was lost: report what was seen
            await asyncio.sleep(scrape_pause)

    last_sent = [time.perf_counter()]

    def stored_after(sent: float):  # type: ignore[no-untyped-def]
        return lambda _ack: stored.append(time.perf_counter() - sent)

    scraping = asyncio.create_task(scraper())
    background = metric_events(WORKSPACE, 10**9, campaigns, duplicate_share=0, restatement_share=0)
    tick = 0.01
    per_tick = rate * tick
    probe_every = round(1 / (PROBES_PER_SECOND * tick))
    pending: set[asyncio.Task] = set()  # type: ignore[type-arg]
    retries = [0]
    store = EventStore(js)
    began = time.perf_counter()
    owed = 0.0
    ticks = 0
    sent = 0
    while time.perf_counter() - began < seconds:
        owed += per_tick
        burst = int(owed)
        owed -= burst
        events: list[EnvelopeFields] = []
        probed = ticks % probe_every == 0 and burst
        if probed:
            events.append(probe(len(sent_at)))
        events += [next(background) for _ in range(burst - len(events))]
        started = time.perf_counter()
        if probed:
            last_sent[0] = started
            sent_at.append(started)
        for chunk in chunks(events, atomic):
            task = asyncio.create_task(append_retrying(store, chunk, retries))
            if probed:
                task.add_done_callback(stored_after(started))
                probed = False
            pending.add(task)
            task.add_done_callback(pending.discard)
        sent += len(events)
        ticks += 1
        pause = began + ticks * tick - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
    await asyncio.gather(*pending)
    done.set()
    await scraping
    print(f"atomic batches published again after a timeout: {retries[0]}")
    if GIVEN_UP:
        print(f"batches given up after {len(GIVEN_UP)} x 5 timeouts: {sum(GIVEN_UP)} events")
    print(
        f"probe publish -> stored (JetStream ack): p50 {percentile(stored, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(stored, 0.99) * 1000:.0f} ms"
    )
    return latencies, scrapes, sent


async def append_retrying(
    store: EventStore, events: list[EnvelopeFields], retries: list[int], attempts: int = 5
) -> None:
    """A batch that timed out on a loaded machine is published again, counted, instead of
    ending the run; JetStream refuses a repeat whose first try had landed after all (its
    message ids are stored: error 10201), which is then done. One that never lands is counted
    as given up (a probe in it is then reported unseen) rather than ending the run with no
    figures, as it did twice at load 5."""
    for attempt in range(attempts):
        try:
            await append_atomic(store, events)
            return
        except APIError as exc:
            if attempt and exc.err_code == DUPLICATE_IN_ATOMIC_BATCH:
                return
            raise
        except StoreUnavailable:
            retries[0] += 1
            await asyncio.sleep(0.1 * (attempt + 1))
    GIVEN_UP.append(len(events))


GIVEN_UP: list[int] = []
"""Sizes of the batches given up after every attempt timed out."""


DUPLICATE_IN_ATOMIC_BATCH = 10201


def chunks(events: list[EnvelopeFields], atomic: bool) -> list[list[EnvelopeFields]]:
    """One atomic batch per tick, as the metrics service writes; or one publish each."""
    return [events] if atomic else [[event] for event in events]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def pipeline_timings(client: httpx.AsyncClient) -> str:
    return pipeline_figures((await client.get("/metrics")).text)


def report(
    latencies: list[float], scrapes: list[float], sent: int, seconds: float, rate: int
) -> None:
    ms = [v * 1000 for v in latencies]
    print(f"published {sent:,} events in {seconds:.0f}s ({sent / seconds:,.0f}/s, target {rate:,})")
    print(f"probes seen: {len(ms)}; scrape time median {statistics.median(scrapes) * 1000:.1f} ms")
    if ms:
        print(
            f"freshness publish -> /metrics: p50 {percentile(ms, 0.5):.0f} ms, "
            f"p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--scrape-pause", type=float, default=0.02)
    parser.add_argument("--strategies", type=int, default=10)
    parser.add_argument("--objectives", type=int, default=10, help="per strategy")
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument(
        "--full-scrape", action="store_true", help="poll the whole exposition, not one family"
    )
    parser.add_argument(
        "--publish",
        choices=("atomic", "single"),
        default="atomic",
        help="each 10 ms tick's events as one atomic batch (how the metrics service writes) "
        "or one publish per event (one fsync each with sync_interval: always)",
    )
    asyncio.run(run(parser.parse_args()))
