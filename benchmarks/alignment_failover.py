"""Failover time of alignment partitions: kill -9 a worker, time until each of its partitions
runs on another worker.

A 3-node nats-server cluster on loopback (R3 streams, partitioned mirrors, lease buckets R3)
and 3 toy worker processes (tests/integration/cluster/toy_worker.py: the real lease loop,
`truenorth.alignment.workers`, around a toy projection in SQLite). Each round waits until the
3 live workers own every partition, kills one with SIGKILL, and records when the last of its
partitions started elsewhere; a fresh worker then replaces it. p50/p99 over the rounds.

Raw baseline in the same run: how long the server takes to drop a KV key of the same TTL
after its last write (the floor any TTL lease pays: the dead owner's last renewal can be up
to one renewal interval before its death).

    PYTHONPATH=. .venv/bin/python -m benchmarks.alignment_failover [--kills 10] [--partitions 6]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tests.integration.cluster.harness import NatsCluster, ToyWorkers, connect, provision_cluster
from tests.integration.cluster.toy_worker import create_tables
from truenorth.bus.lease import WORKERS_BUCKET, LeaseTiming
from truenorth.store.db import make_engine


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def one_failover(workers: ToyWorkers, victim: str) -> float:
    owners = workers.wait_owned(
        lambda o: len(o) == workers.partitions and len({w for w, _ in o.values()}) == 3,
        timeout=60,
        what="3 workers owning every partition",
    )
    lost = [p for p, (worker, _) in owners.items() if worker == victim]
    time.sleep(1.0)  # let renewals settle into their rhythm
    killed_at = workers.kill(victim)
    workers.wait_owned(
        lambda o: all(p in o and o[p][0] != victim for p in lost), timeout=60, what="takeover"
    )
    started = [
        e["t"]
        for e in workers.events()
        if e["event"] == "started" and e["t"] > killed_at and e["partition"] in lost
    ]
    return max(started) - killed_at


async def kv_expiry(cluster: NatsCluster, rounds: int = 3) -> list[float]:
    """Seconds from a KV write to the server dropping it (the lease TTL as the server runs it)."""
    nc = await connect(cluster)
    js = nc.jetstream(timeout=5.0)
    kv = await js.key_value(WORKERS_BUCKET)
    delays = []
    for index in range(rounds):
        key = f"baseline-{index}"
        written = time.monotonic()
        await kv.put(key, b"x")
        while True:
            try:
                await kv.get(key)
            except Exception:
                break
            await asyncio.sleep(0.02)
        delays.append(time.monotonic() - written)
    await nc.close()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    timing = LeaseTiming()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with NatsCluster(root / "cluster") as cluster:
            asyncio.run(provision_cluster(cluster, args.partitions))
            db_url = f"sqlite:///{root / 'toy.db'}"
            engine = make_engine(db_url)
            create_tables(engine)
            engine.dispose()
            workers = ToyWorkers(cluster, root, db_url, args.partitions)
            live = ["w0", "w1", "w2"]
            for name in live:
                workers.start(name)
            failovers = []
            try:
                for round_ in range(args.kills):
                    victim = live.pop(0)
                    seconds = one_failover(workers, victim)
                    failovers.append(seconds)
                    print(f"kill {round_ + 1:2d}: {victim} → partitions moved in {seconds:.2f} s")
                    replacement = f"w{round_ + 3}"
                    workers.start(replacement)
                    live.append(replacement)
                baseline = asyncio.run(kv_expiry(cluster))
            finally:
                workers.stop_all()
    print(
        f"lease ttl {timing.ttl:g} s, renewal every {timing.renew_every:g} s, "
        f"{args.partitions} partitions, 3 workers, 3-node cluster (R3)"
    )
    print(
        f"failover over {len(failovers)} kills: p50 {percentile(failovers, 0.5):.2f} s, "
        f"p99 {percentile(failovers, 0.99):.2f} s, max {max(failovers):.2f} s"
    )
    print(
        f"raw baseline, server drop of a KV key {timing.ttl:g} s after its write: "
        f"median {statistics.median(baseline):.2f} s"
    )


if __name__ == "__main__":
    main()
