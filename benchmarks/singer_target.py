"""Rows per second through `target-truenorth` against `POST /v1/metrics` with the same rows, in
the same run (issue 18: the target should reach ≥ 50 % of the HTTP rate).

    PYTHONPATH=. .venv/bin/python -m benchmarks.singer_target [--records 40000]

Starts an embedded nats-server (file storage, `sync_interval: always`) and the metrics service
(uvicorn, subprocess), writes a tap's output for Facebook `ads_insights` (SCHEMA, RECORDs, a
STATE every 10 000 records; each record becomes 5 observations), then measures:

1. http: the same observations (placed by the same preset in this process, before the clock
   starts) POSTed with `truenorth.client.MetricsClient` in requests of 5 000 rows, one client:
   the rate a hand-written producer gets;
2. target: `target-truenorth --input FILE` as a subprocess, from process start to exit (SDK
   start-up, record validation, placement, the POSTs, STATE emission), into another workspace
   so every row is new there too.

Rows/s = observations acknowledged per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.ingest_metrics import wait_ready
from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.client import MetricsClient
from truenorth.singer.mapping import load_mapping
from truenorth.singer.placing import place

STREAM = "ads_insights"
KEYS = ["campaign_id", "ad_id", "date_start"]
SCHEMA = {
    "type": "object",
    "properties": {
        "campaign_id": {"type": ["null", "string"]},
        "ad_id": {"type": ["null", "string"]},
        "date_start": {"type": ["null", "string"], "format": "date-time"},
        "date_stop": {"type": ["null", "string"], "format": "date-time"},
        "spend": {"type": ["null", "number"]},
        "impressions": {"type": ["null", "integer"]},
        "clicks": {"type": ["null", "integer"]},
        "actions": {
            "type": ["null", "array"],
            "items": {
                "type": "object",
                "properties": {
                    "action_type": {"type": ["null", "string"]},
                    "value": {"type": ["null", "number"]},
                },
            },
        },
    },
}


def record(i: int) -> dict[str, object]:
    day = date(2025, 1, 1) + timedelta(days=i % 90)
    stamp = f"{day.isoformat()}T00:00:00+0000"
    return {
        "campaign_id": f"2385{i % 40:04d}",
        "ad_id": f"ad{i // 90}",
        "date_start": stamp,
        "date_stop": stamp,
        "spend": round(10 + (i % 97) * 0.37, 2),
        "impressions": 1000 + i % 500,
        "clicks": 10 + i % 50,
        "actions": [
            {"action_type": "lead", "value": i % 7},
            {"action_type": "link_click", "value": 9},
        ],
    }


def write_tap_output(path: Path, records: int) -> None:
    with path.open("w") as out:
        out.write(
            json.dumps(
                {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": KEYS}
            )
            + "\n"
        )
        for i in range(records):
            out.write(json.dumps({"type": "RECORD", "stream": STREAM, "record": record(i)}) + "\n")
            if (i + 1) % 10_000 == 0:
                out.write(json.dumps({"type": "STATE", "value": {"done": i + 1}}) + "\n")


def placed_rows(records: int) -> list[dict[str, object]]:
    mapping = load_mapping(None).for_stream(STREAM)
    assert mapping is not None
    rows: list[dict[str, object]] = []
    for i in range(records):
        rows.extend(place(STREAM, mapping, record(i), KEYS).observations)
    return rows


def bench_http(base: str, rows: list[dict[str, object]], request_rows: int) -> tuple[float, int]:
    started = time.perf_counter()
    with MetricsClient(
        base, workspace="bench-http", batch_size=request_rows, timeout=120
    ) as client:
        summary = client.send(rows)
    seconds = time.perf_counter() - started
    assert summary.accepted == len(rows), summary
    return seconds, summary.accepted


def bench_target(base: str, tap_output: Path, folder: Path, request_rows: int) -> tuple[float, str]:
    config = folder / "target.json"
    config.write_text(
        json.dumps({"url": base, "workspace": "bench-target", "request_rows": request_rows})
    )
    target = str(Path(sys.executable).parent / "target-truenorth")
    started = time.perf_counter()
    done = subprocess.run(
        [target, "--config", str(config), "--input", str(tap_output)],
        capture_output=True,
        text=True,
        env={**os.environ, "TARGET_TRUENORTH_LOG_LEVEL": "WARNING", "LOGLEVEL": "WARNING"},
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    report = next(line for line in done.stderr.splitlines() if line.startswith("target-truenorth:"))
    return seconds, report


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tn-singer-bench-") as tmp:
        folder = Path(tmp)
        server = EmbeddedNats(folder / "nats").start()
        port = free_port()
        env = {
            **os.environ,
            "TRUENORTH_NATS_URL": server.url,
            "TRUENORTH_DATA_DIR": str(folder),
            "TRUENORTH_LOG_LEVEL": "WARNING",
        }
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.ingest_metrics", "--serve", str(port)], env=env
        )
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_ready(base))
            tap_output = folder / "tap.singer"
            write_tap_output(tap_output, args.records)
            rows = placed_rows(args.records)
            http_seconds, http_rows = bench_http(base, rows, args.request_rows)
            target_seconds, report = bench_target(base, tap_output, folder, args.request_rows)
        finally:
            child.terminate()
            child.wait(15)
            server.stop()
    http_rate = http_rows / http_seconds
    target_rate = len(rows) / target_seconds
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d}  machine: {platform.node()} {platform.machine()} "
        f"cpus={os.cpu_count()} python={platform.python_version()} "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{args.records:,} ads_insights records → {len(rows):,} observations")
    print(
        f"POST /v1/metrics (MetricsClient, {args.request_rows} rows/request): "
        f"{http_rate:,.0f} rows/s ({http_seconds:.1f}s)"
    )
    print(
        f"target-truenorth (process start to exit): {target_rate:,.0f} rows/s "
        f"({target_seconds:.1f}s)"
    )
    print(f"  {report}")
    print(f"target / HTTP: {target_rate / http_rate:.0%} (target ≥ 50 %)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=40_000, help="tap records (× 5 rows)")
    parser.add_argument("--request-rows", type=int, default=5000)
    main(parser.parse_args())
