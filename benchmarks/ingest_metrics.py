"""Sustained metric ingestion through `POST /v1/metrics`, acknowledged by JetStream, against the
raw nats-py `publish_async` rate to the same server in the same run.

    .venv/bin/python benchmarks/ingest_metrics.py [--batches 300] [--batch 1000] [--concurrency 4]

Starts an embedded nats-server (file storage, `sync_interval: always`) in a temp dir, runs the
metrics service with uvicorn in a subprocess against it, and measures:

1. raw: nats-py `publish_async` of pre-encoded MetricObserved events (same size, same
   `Nats-Msg-Id` header) into the METRICS stream, awaiting every ack — the ceiling for a Python
   producer on this machine;
2. http: `batches` 1 000-row batches of new rows POSTed by `concurrency` client tasks; an
   observation counts when its request returned 2xx (i.e. after JetStream acked every row and
   the ledger was written). Request latency p50/p99 is reported per batch;
3. raw atomic: nats-py atomic batches of 1 000 (what the service uses), for reference.

The service's CPU time is printed too: on a 2-core machine it is the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson

from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.bus.eventstore import provision

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def rows(prefix: str, start: int, count: int) -> list[dict[str, object]]:
    out = []
    for i in range(start, start + count):
        day = T0 + timedelta(days=i % 28)
        out.append(
            {
                "observation_id": f"{prefix}:{i}",
                "campaign_id": f"c{i % 16}",
                "metric": "conversions",
                "value": float(i % 97),
                "period_start": day.isoformat(),
                "period_end": (day + timedelta(days=1)).isoformat(),
                "source": "bench",
            }
        )
    return out


def sample_event(i: int) -> bytes:
    from truenorth.contract.envelope import new_event_id
    from truenorth.contract.metrics import MetricObserved, Observation
    from truenorth.contract.registry import encode

    row = rows("raw", i, 1)[0]
    return encode(
        MetricObserved(
            event_id=new_event_id(),
            workspace="bench-raw",
            aggregate_id=str(row["campaign_id"]),
            data=Observation.model_validate(row),
        )
    )


async def bench_raw(url: str, total: int, max_pending: int) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=max_pending)
    await provision(js)
    payloads = [sample_event(i) for i in range(256)]
    start = time.perf_counter()
    futures = []
    for i in range(total):
        futures.append(
            await js.publish_async(
                f"tn.bench-raw.metrics.c{i % 16}",
                payloads[i % 256],
                headers={"Nats-Msg-Id": uuid.uuid4().hex},
            )
        )
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await nc.close()
    return total / elapsed


async def bench_raw_atomic(url: str, total: int, batch: int = 1000) -> float:
    """Raw nats-py atomic batches (ADR-50) of `batch` messages, one after the other, each
    acknowledged: what the service itself uses, without HTTP, validation or the ledger."""
    from truenorth.bus.atomic import enable_atomic_publish

    nc = await nats.connect(url)
    await enable_atomic_publish(nc.jetstream(), "METRICS")
    payloads = [sample_event(i) for i in range(256)]
    start = time.perf_counter()
    for first in range(0, total, batch):
        batch_id = uuid.uuid4().hex
        size = min(batch, total - first)
        for n in range(1, size + 1):
            i = first + n
            headers = {
                "Nats-Msg-Id": uuid.uuid4().hex,
                "Nats-Batch-Id": batch_id,
                "Nats-Batch-Sequence": str(n),
            }
            if n < size:
                await nc.publish(
                    f"tn.bench-raw.metrics.c{i % 16}", payloads[i % 256], headers=headers
                )
            else:
                headers["Nats-Batch-Commit"] = "1"
                reply = await nc.request(
                    f"tn.bench-raw.metrics.c{i % 16}",
                    payloads[i % 256],
                    headers=headers,
                    timeout=10,
                )
                assert b'"error"' not in reply.data, reply.data
    elapsed = time.perf_counter() - start
    await nc.close()
    return total / elapsed


def serve(port: int) -> None:
    """Child process: run the metrics service on `port` (settings from TRUENORTH_* env)."""
    import uvicorn

    from truenorth.metrics.app import build_app
    from truenorth.settings import MetricsSettings, SharedSettings, load

    app = build_app(load(SharedSettings), load(MetricsSettings))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def wait_ready(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(base + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("metrics service did not become ready")


def cpu_seconds(pid: int) -> float:
    """user+system CPU time of a process (Linux /proc), for the CPU breakdown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench_http(base: str, batches: int, batch: int, concurrency: int) -> dict[str, Any]:
    prefix = uuid.uuid4().hex[:8]
    # Every row is new (unique observation ids); bodies are encoded before the clock starts so
    # the client spends its CPU on HTTP, not on building JSON.
    bodies = [orjson.dumps(rows(prefix, n * batch, batch)) for n in range(batches)]
    pending = iter(bodies)
    latencies: list[float] = []
    observed = 0
    errors = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal observed, errors
        for body in pending:
            t = time.perf_counter()
            response = await client.post(
                base + "/v1/metrics", content=body, headers={"content-type": "application/json"}
            )
            latencies.append(time.perf_counter() - t)
            if response.status_code == 200:
                observed += response.json()["accepted"]
            else:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        # warm-up
        await client.post(
            base + "/v1/metrics",
            content=orjson.dumps(rows("warm" + prefix, 0, batch)),
            headers={"content-type": "application/json"},
        )
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rate": observed / elapsed,
        "seconds": elapsed,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tn-bench-") as tmp:
        data = Path(tmp)
        server = EmbeddedNats(data / "nats").start()
        port = free_port()
        env = dict(os.environ)
        env.update(
            TRUENORTH_NATS_URL=server.url,
            TRUENORTH_DATA_DIR=str(data),
            TRUENORTH_WORKSPACE="bench",
            TRUENORTH_LOG_LEVEL="WARNING",
            TRUENORTH_METRICS_MAX_IN_FLIGHT_PUBLISHES=str(args.max_in_flight),
        )
        child = subprocess.Popen(
            [
                sys.executable,
                *(os.environ.get("TN_BENCH_CHILD", __file__).split()),
                *([] if "TN_BENCH_CHILD" in os.environ else ["--serve"]),
                str(port),
            ],
            env=env,
        )
        try:
            raw = await bench_raw(server.url, args.raw_messages, args.max_in_flight)
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base)
            cpu_before = {
                "service": cpu_seconds(child.pid),
                "nats-server": cpu_seconds(server.process.pid),
                "client": time.process_time(),
            }
            http = await bench_http(base, args.batches, args.batch, args.concurrency)
            cpu = {
                "service": cpu_seconds(child.pid),
                "nats-server": cpu_seconds(server.process.pid),
                "client": time.process_time(),
            }
            http["cpu"] = {k: cpu[k] - cpu_before[k] for k in cpu}
            raw_after = await bench_raw(server.url, args.raw_messages, args.max_in_flight)
            atomic = await bench_raw_atomic(server.url, args.raw_messages)
        finally:
            child.terminate()
            child.wait(15)
            server.stop()
    raw_rate = (raw + raw_after) / 2
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d}  machine: {platform.node()} "
        f"{platform.machine()} cpus={os.cpu_count()} python={platform.python_version()}"
    )
    print(
        f"raw nats-py publish_async (acked): {raw:,.0f} / {raw_after:,.0f} msg/s "
        f"(before / after), mean {raw_rate:,.0f}"
    )
    print(
        f"POST /v1/metrics (acked, ledger written): {http['rate']:,.0f} obs/s "
        f"over {http['seconds']:.1f}s, {http['requests']} requests of {args.batch} rows, "
        f"concurrency {args.concurrency}, errors {http['errors']}"
    )
    print(
        f"latency per {args.batch}-row batch: p50 {http['p50_ms']:.1f} ms, "
        f"p99 {http['p99_ms']:.1f} ms"
    )
    print(
        "CPU seconds during the HTTP run: "
        + ", ".join(f"{k} {v:.1f}" for k, v in http["cpu"].items())
    )
    print(f"raw nats-py atomic batches of 1000 (acked, sequential): {atomic:,.0f} msg/s")
    print(
        f"ratio http / raw publish_async: {http['rate'] / raw_rate:.0%}; "
        f"http / raw atomic batches: {http['rate'] / atomic:.0%}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=300, help="1 000-row requests to send")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--raw-messages", type=int, default=100_000)
    parser.add_argument("--max-in-flight", type=int, default=4096)
    asyncio.run(main(parser.parse_args()))
