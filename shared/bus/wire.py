"""The one place that reaches into nats-py's internals, each with the reason it has to.

nats-py 2.16 keeps these private; everything else in truenorth uses its public API. A nats-py
upgrade is checked here (and by `tests/integration/bus`), nowhere else.
"""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext


def connection_of(js: JetStreamContext) -> NatsClient:
    """The client a JetStream context publishes on. Atomic batches (`truenorth.bus.atomic`) and
    the bulk puller (`truenorth.bus.eventstore`) need core publish/request on the same
    connection, and nats-py's JetStreamContext exposes no accessor for it."""
    return js._nc


def api_prefix(js: JetStreamContext) -> str:
    """The JetStream API prefix (``$JS.API`` or a domain's): the bulk puller sends its own
    ``CONSUMER.MSG.NEXT`` requests (several in flight on one inbox), which nats-py's
    `pull_subscribe` cannot."""
    return js._prefix


async def write_raw(nc: NatsClient, protocol: bytes) -> None:
    """Write pre-encoded protocol commands (HPUB…) in one buffered write. nats-py's per-message
    `publish()` costs ~19 µs (header encoding, validation, a flush future per call), which was
    most of the CPU spent per observation in `benchmarks/ingest_metrics.py`; the bytes written
    are the same `publish()` would write."""
    await nc._send_command(protocol)


def can_write_raw(nc: NatsClient) -> bool:
    return hasattr(nc, "_send_command")
