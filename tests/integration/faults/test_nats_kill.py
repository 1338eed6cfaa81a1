"""Fault 2: kill -9 nats-server (file storage, sync_interval always) while observations are
ingested through the metrics service, again and again; clients retry with the same ids.
After the last restart, every acknowledged observation is in METRICS, and none twice.

CI size: 12 000 observations, 2 kills. `TRUENORTH_FULL=1`: 60 000 observations, 5 kills.
"""

from __future__ import annotations

import functools
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson

from tests.integration.faults.support import FULL, eventually, raw_messages, run
from truenorth.bus.embedded import EmbeddedNats, free_port
from truenorth.client import MetricsClient, RetryPolicy
from truenorth.client.errors import TruenorthError

CLIENTS = 3
BATCHES = 200 if FULL else 40
BATCH = 100
KILLS = 5 if FULL else 2
DOWN_SECONDS = 1.0


def rows(client: int, batch: int) -> list[dict[str, object]]:
    return [
        {
            "observation_id": f"k{client}-{batch}-{i}",
            "campaign_id": f"c{client}",
            "metric": "leads",
            "value": float(i % 7),
            "period_start": "2026-10-01T00:00:00Z",
            "period_end": "2026-10-02T00:00:00Z",
            "source": "kill-test",
        }
        for i in range(BATCH)
    ]


def start_metrics(nats_url: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TRUENORTH_NATS_URL": nats_url,
        "TRUENORTH_DATA_DIR": str(data_dir),
        "TRUENORTH_METRICS_PORT": str(port),
        "TRUENORTH_LOG_LEVEL": "WARNING",
    }
    log = (data_dir / "metrics.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "truenorth.serve", "serve", "metrics"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process


def test_kill_9_nats_during_ingestion_loses_nothing_acknowledged_stores_nothing_twice(
    tmp_path: Path, workspace: str
) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()
    port = free_port()
    service = start_metrics(server.url, port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    acknowledged: list[str] = []
    unacknowledged: list[str] = []
    progress = [0]
    requests = [0]
    lock = threading.Lock()
    try:
        eventually(lambda: _up(base), 30, what="metrics service up")

        def produce(index: int) -> None:
            retry = RetryPolicy(attempts=40, backoff=0.1, max_backoff=1.0)

            def count(_request: httpx.Request) -> None:
                with lock:
                    requests[0] += 1

            http = httpx.Client(base_url=base, timeout=15, event_hooks={"request": [count]})
            with http, MetricsClient(workspace=workspace, retry=retry, http=http) as client:
                for b in range(BATCHES):
                    batch = rows(index, b)
                    ids = [str(r["observation_id"]) for r in batch]
                    try:
                        summary = client.send(batch)  # retried with the same ids on 503/errors
                    except TruenorthError:
                        with lock:
                            unacknowledged.extend(ids)
                        continue
                    assert summary.rejected == 0
                    assert summary.accepted + summary.duplicates == len(batch)
                    with lock:
                        acknowledged.extend(ids)
                        progress[0] += 1
                    time.sleep(0.03)

        threads = [threading.Thread(target=produce, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        total_batches = CLIENTS * BATCHES
        rng = random.Random(11)
        for kill in range(KILLS):
            # kill somewhere inside the run, with publishes in flight
            target = total_batches * (kill + 1) // (KILLS + 1) + rng.randrange(-3, 4)
            reached = functools.partial(lambda t: progress[0] >= t, target)
            eventually(reached, 120, 0.01, what=f"batch {target}")
            server.kill()
            time.sleep(DOWN_SECONDS)
            server.start()  # same data dir, same port: the streams are back
        for thread in threads:
            thread.join(300)
        assert not any(thread.is_alive() for thread in threads)
        assert len(acknowledged) + len(unacknowledged) == CLIENTS * BATCHES * BATCH
        retries = requests[0] - CLIENTS * BATCHES
        assert retries > 0, "the kills never hit a request in flight"

        stored = Counter(
            orjson.loads(m.data)["data"]["observation_id"]
            for m in run(raw_messages(server.url, "METRICS", f"tn.{workspace}.metrics.>"))
        )
        missing = set(acknowledged) - stored.keys()
        twice = {oid: n for oid, n in stored.items() if n > 1}
        assert not missing, (
            f"{len(missing)} acknowledged observations lost, e.g. {sorted(missing)[:5]}"
        )
        assert not twice, f"{len(twice)} observations stored twice, e.g. {list(twice.items())[:5]}"
        assert stored.keys() <= set(acknowledged) | set(unacknowledged)
        print(
            f"\n{len(acknowledged)} acknowledged, {len(unacknowledged)} given up by the client,"
            f" {sum(stored.values())} stored, {KILLS} kills, {retries} retried requests"
        )
    finally:
        service.terminate()
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
        server.stop()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
