"""Soak: metric observations through the whole pipeline at a steady rate, for a long time.

    .venv/bin/python -m benchmarks.soak [--events 1000000] [--rate 2000] [--batch 500]
                                      [--distinct N] [--database-url postgresql://...]
                                      [--data-dir DIR]

Starts `truenorth up --free-ports` (embedded nats-server, file storage, `sync_interval: always`,
the four services as processes) in a temp dir, publishes one strategy with one `leads` objective
and 20 campaigns linked to it, then POSTs `--events` new observations (`leads`, value 1) to the
metrics service with the python client at `--rate` per second, paced in batches.

With `--distinct N` the ids cycle over N and each pass restates them with a new value.
Without it every observation is new. Either way RSS should be flat once warm: the alignment
service keeps one total per campaign, metric and reported period (here 20 campaigns x 50 days),
and the store keeps the observations.

Measured and printed:

- RSS of every service process and of nats-server at start (after set-up), at the end, and the
  maximum seen (sampled every 2 s);
- projection lag (`truenorth_projection_lag_events`, summed over streams) every second while
  sending: max, p99, and the last value; the send rate actually achieved;
- after the last batch: the time until the lag is 0; then zero loss and no double count:
  every observation is in METRICS exactly once (distinct `observation_id`s == messages ==
  sent), the objective's `truenorth_objective_actual` equals the number sent, and the alignment
  checkpoint equals the stream head.

Exit code 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.pipeline import pipeline_figures
from benchmarks.workload import START, campaign_events, strategy_events
from tests.e2e.harness import RunningSystem, start_system
from truenorth.bus.eventstore import EventStore, connect, subject_of
from truenorth.client import MetricsClient, RetryPolicy
from truenorth.contract.registry import encode

WS = "soak"
CAMPAIGNS = 20
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", re.M)


def scrape(url: str) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, float]] = {}
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for name, labels, value in SAMPLE.findall(text):
        samples.setdefault(name, {})[labels] = float(value)
    return samples


def lag(url: str) -> float | None:
    try:
        values = scrape(url).get("truenorth_projection_lag_events", {})
    except httpx.HTTPError:
        return None
    return sum(values.values()) if len(values) == 3 else None


def applied_sequence(url: str) -> float:
    """The alignment checkpoint of METRICS, as exposed after each commit."""
    try:
        values = scrape(url).get("truenorth_last_applied_sequence", {})
    except httpx.HTTPError:
        return 0.0
    return sum(v for labels, v in values.items() if 'stream="METRICS"' in labels)


def objective_actual(url: str) -> float:
    values = scrape(url).get("truenorth_objective_actual", {})
    return sum(v for labels, v in values.items() if f'workspace="{WS}"' in labels)


def processes(system: RunningSystem) -> dict[str, psutil.Process]:
    found: dict[str, psutil.Process] = {}
    for child in psutil.Process(system.process.pid).children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if "serve" in cmdline:
            found[cmdline[cmdline.index("serve") + 1]] = child
        elif cmdline and cmdline[0].endswith("nats-server"):
            found["nats-server"] = child
    return found


def rss_mib(procs: dict[str, psutil.Process]) -> dict[str, float]:
    sizes = {}
    for name, proc in procs.items():
        try:
            sizes[name] = proc.memory_info().rss / 2**20
        except psutil.Error:
            sizes[name] = float("nan")
    return sizes


async def setup_strategy(nats_url: str) -> None:
    nc = await connect(nats_url)
    js = nc.jetstream()
    for event in [*strategy_events(WS, 1, 1), *campaign_events(WS, CAMPAIGNS, 1, 1)]:
        await js.publish(
            subject_of(event), encode(event), headers={"Nats-Msg-Id": str(event.event_id)}
        )
    await nc.drain()


async def metrics_head(nats_url: str) -> int:
    """The METRICS stream's last sequence (not `audit`: reading the whole stream takes seconds,
    and they counted as catch-up time)."""
    nc = await connect(nats_url)
    head = (await nc.jetstream().stream_info("METRICS")).state.last_seq
    await nc.drain()
    return int(head)


async def audit(nats_url: str) -> dict[str, int]:
    """Messages in METRICS for the workspace, and their distinct observation ids."""
    import orjson

    nc = await connect(nats_url)
    store = EventStore(nc.jetstream())
    ids: set[str] = set()
    messages = 0
    async for batch in store.read_batches("METRICS", filter_subject=f"tn.{WS}.metrics.>"):
        for msg in batch:
            ids.add(orjson.loads(msg.data)["data"]["observation_id"])
            messages += 1
    head = (await nc.jetstream().stream_info("METRICS")).state.last_seq
    await nc.drain()
    return {"messages": messages, "distinct": len(ids), "head": head}


def rows(start: int, count: int, distinct: int) -> list[dict[str, Any]]:
    """Observations start..start+count-1; with `distinct`, ids cycle over that many and every
    pass restates them with the next value (1, 2, 3, ...): the projection stops growing."""
    out = []
    for i in range(start, start + count):
        key = i % distinct if distinct else i
        day = START + timedelta(days=key % 50)
        out.append(
            {
                "observation_id": f"soak-{key}",
                "campaign_id": f"c{key % CAMPAIGNS}",
                "metric": "leads",
                "value": float(1 + i // distinct) if distinct else 1.0,
                "period_start": day.isoformat(),
                "period_end": (day + timedelta(days=1)).isoformat(),
                "source": "soak",
            }
        )
    return out


def expected_actual(sent: int, distinct: int) -> float:
    """The objective's actual: every id counted once, at its latest value."""
    if not distinct:
        return float(sent)
    return float(sum(1 + (sent - 1 - key) // distinct for key in range(min(distinct, sent))))


def print_trajectory(
    trajectory: list[tuple[int, dict[str, float]]], rss_start: dict[str, float]
) -> None:
    """RSS at every tenth of the run, and alignment's growth per observation sent."""
    if not trajectory:
        return
    names = sorted(rss_start)
    print("  RSS MiB by events sent: " + "  ".join(f"{n:>11}" for n in names))
    for sent, sizes in trajectory:
        print(f"  {sent:>22,}  " + "  ".join(f"{sizes.get(n, 0):>11.1f}" for n in names))
    if len(trajectory) >= 2 and "alignment" in rss_start:
        (first, start), (last, end) = trajectory[0], trajectory[-1]
        per_event = (end["alignment"] - start["alignment"]) * 2**20 / max(1, last - first)
        print(f"  alignment RSS growth from the first tenth to the end: {per_event:.0f} B/event")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=2000.0, help="observations per second")
    parser.add_argument("--batch", type=int, default=500, help="rows per request")
    parser.add_argument("--database-url", default=None, help="PostgreSQL for the projections")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument(
        "--distinct",
        type=int,
        default=0,
        help="cycle over this many observation ids, restating them (0: every one new)",
    )
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="truenorth-soak-"))
    system = start_system(
        data_dir,
        args.database_url,
        timeout=120,
        env={"TRUENORTH_ALIGNMENT_TICK_SECONDS": "1", "TRUENORTH_LOG_LEVEL": "WARNING"},
    )
    failures: list[str] = []
    try:
        metrics_url, alignment_url = system.urls["metrics"], system.urls["alignment"]
        asyncio.run(setup_strategy(system.nats_url))
        procs = processes(system)
        deadline = time.monotonic() + 60
        while lag(alignment_url) != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        rss_start = rss_mib(procs)
        rss_max = dict(rss_start)
        lags: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            tick = 0
            while not stop.is_set():
                value = lag(alignment_url)
                if value is not None:
                    lags.append(value)
                if tick % 2 == 0:
                    for name, size in rss_mib(procs).items():
                        rss_max[name] = max(rss_max.get(name, 0), size)
                tick += 1
                stop.wait(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        sent = 0
        trajectory: list[tuple[int, dict[str, float]]] = []
        """(sent, RSS per process) at every tenth of the run."""
        started = time.monotonic()
        retry = RetryPolicy(attempts=10, backoff=0.2, max_backoff=2)
        with MetricsClient(metrics_url, workspace=WS, batch_size=args.batch, retry=retry) as client:
            while sent < args.events:
                count = min(args.batch, args.events - sent)
                summary = client.send(rows(sent, count, args.distinct))
                if summary.accepted + summary.restated != count:
                    failures.append(f"batch at {sent}: {summary} for {count} rows")
                sent += count
                if sent * 10 // args.events > len(trajectory):
                    trajectory.append((sent, rss_mib(procs)))
                due = started + sent / args.rate
                behind = due - time.monotonic()
                if behind > 0:
                    time.sleep(behind)
                if sent % (args.batch * 200) == 0:
                    elapsed = time.monotonic() - started
                    print(
                        f"  {sent:>9,} sent in {elapsed:6.0f}s ({sent / elapsed:,.0f}/s),"
                        f" lag {lags[-1] if lags else '?'}",
                        flush=True,
                    )
        send_seconds = time.monotonic() - started
        drained_at = time.monotonic()
        head = asyncio.run(metrics_head(system.nats_url))
        while (
            applied_sequence(alignment_url) < head
            and time.monotonic() - drained_at < args.drain_timeout
        ):
            time.sleep(0.1)
        drain_seconds = time.monotonic() - drained_at
        stop.set()
        sampler.join(5)
        rss_end = rss_mib(procs)
        rss_max = {name: max(rss_max[name], rss_end[name]) for name in rss_end}
        time.sleep(1.0)  # the scrape snapshot follows the last commit
        counted = objective_actual(alignment_url)
        health = pipeline_figures(httpx.get(f"{alignment_url}/metrics", timeout=5).text)
        checked = asyncio.run(audit(system.nats_url))
    finally:
        system.stop()

    print(
        f"\nsoak: {args.events:,} observations at a target {args.rate:,.0f}/s, batch {args.batch}"
    )
    print(f"  data dir {data_dir}  projections: {args.database_url or 'SQLite'}")
    print(f"  sent in {send_seconds:.1f}s = {sent / send_seconds:,.0f}/s achieved")
    if lags:
        ordered = sorted(lags)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"  lag while sending: max {max(lags):,.0f}, p99 {p99:,.0f},"
            f" median {statistics.median(lags):,.0f} events ({len(lags)} samples)"
        )
    print(f"  caught up (checkpoint = METRICS head) {drain_seconds:.1f}s after the last batch")
    print("  RSS MiB        start      end      max")
    for name in sorted(rss_start):
        print(f"  {name:<12} {rss_start[name]:>7.1f} {rss_end[name]:>8.1f} {rss_max[name]:>8.1f}")
    print_trajectory(trajectory, rss_start)
    print(f"  alignment: {health}")
    print(
        f"  METRICS: {checked['messages']:,} messages, {checked['distinct']:,} distinct"
        f" observation ids; objective actual {counted:,.0f}"
    )
    distinct = min(sent, args.distinct) if args.distinct else sent
    if checked["messages"] != sent or checked["distinct"] != distinct:
        failures.append(f"stored {checked} for {sent} sent, {distinct} distinct")
    if counted != expected_actual(sent, args.distinct):
        failures.append(f"objective actual {counted} != {expected_actual(sent, args.distinct)}")
    if drain_seconds >= args.drain_timeout:
        failures.append("lag did not return to 0")
    for failure in failures:
        print(f"  FAIL {failure}")
    print("  zero loss, counted once" if not failures else "  FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
