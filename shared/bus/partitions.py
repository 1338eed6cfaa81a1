"""Alignment's input split into P partitions by workspace, computed by the server.

Each event stream alignment reads (STRATEGY, CAMPAIGNS, METRICS) gets a *partitioned mirror*:
`<STREAM>_PARTITIONED`, a JetStream mirror whose subject transform prefixes every subject with
the partition of its workspace, `tn.<ws>.<ctx>.<id>` → `p.<n>.tn.<ws>.<ctx>.<id>`, where
`n = {{partition(P,1)}}` (FNV-1a of the workspace token, mod P). A worker owning partition n
reads each mirror through a durable consumer filtered on `p.<n>.>`.

Why a mirror and not a transform on the event streams themselves: a stream transform rewrites
the *stored* subject, so reading an aggregate by `tn.<ws>.<ctx>.<id>` (and
`get_last_msg`) would find nothing, and P would be baked into every event forever (tried on
nats-server 2.15.1, see tests/integration/cluster/test_partitions.py). A mirror leaves the
event store untouched, keeps the origin's stream sequences (so checkpoints and gap reads mean
the same sequence in both), and is disposable: a re-partition deletes and recreates it
(docs/design.md, "Partitions and leases"). Its cost is a second copy of the input on disk.

`partition_of` computes the same function locally (to route reads, label gauges, test); a test
checks it against the server's placement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import NotFoundError

from truenorth.bus.streams import CAMPAIGNS, METRICS, STRATEGY, SUBJECT_ROOT, StreamSpec

PARTITIONED_STREAMS: tuple[StreamSpec, ...] = (STRATEGY, CAMPAIGNS, METRICS)
"""The event streams alignment folds; each gets a partitioned mirror."""
PARTITION_TOKEN = "p"
MIRROR_SUFFIX = "_PARTITIONED"

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
_PARTITIONS_IN_DEST = re.compile(r"\{\{\s*partition\(\s*(\d+)\s*,")


class PartitionError(RuntimeError):
    """The partitioned mirrors do not match the configured partition count."""


def partition_of(workspace: str, partitions: int) -> int:
    """The partition of a workspace: nats-server's `{{partition(P,1)}}` over the workspace
    token (32-bit FNV-1a of its UTF-8 bytes, mod P)."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    digest = _FNV32_OFFSET
    for byte in workspace.encode("utf-8"):
        digest = ((digest ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return digest % partitions


def mirror_name(spec: StreamSpec) -> str:
    return f"{spec.name}{MIRROR_SUFFIX}"


def partition_filter(partition: int) -> str:
    """The subjects of one partition in a partitioned mirror."""
    return f"{PARTITION_TOKEN}.{partition}.>"


def original_subject(partitioned_subject: str) -> str:
    """`p.<n>.tn.<ws>.<ctx>.<id>` → `tn.<ws>.<ctx>.<id>` (the event store's subject)."""
    token, _, rest = partitioned_subject.partition(".")
    number, _, subject = rest.partition(".")
    if token != PARTITION_TOKEN or not number.isdigit() or not subject:
        raise ValueError(f"not a partitioned subject: {partitioned_subject!r}")
    return subject


def partition_of_subject(partitioned_subject: str) -> int:
    token, number, *_ = partitioned_subject.split(".", 2)
    if token != PARTITION_TOKEN or not number.isdigit():
        raise ValueError(f"not a partitioned subject: {partitioned_subject!r}")
    return int(number)


def transform(spec: StreamSpec, partitions: int) -> SubjectTransform:
    return SubjectTransform(
        src=f"{SUBJECT_ROOT}.*.{spec.context}.>",
        dest=(
            f"{PARTITION_TOKEN}.{{{{partition({partitions},1)}}}}."
            f"{SUBJECT_ROOT}.{{{{wildcard(1)}}}}.{spec.context}.>"
        ),
    )


def mirror_config(spec: StreamSpec, partitions: int, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=mirror_name(spec),
        description=(
            f"truenorth {spec.context} events by alignment partition "
            f"(mirror of {spec.name}, {partitions} partitions)"
        ),
        mirror=StreamSource(name=spec.name, subject_transforms=[transform(spec, partitions)]),
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=0,
        max_msgs=-1,
        max_bytes=-1,
        deny_delete=True,
    )


def provisioned_partitions(config: StreamConfig) -> int | None:
    """The partition count a mirror was created with (None: not a partitioned mirror)."""
    source = config.mirror
    for item in (source.subject_transforms or []) if source else []:
        match = _PARTITIONS_IN_DEST.search(item.dest or "")
        if match:
            return int(match.group(1))
    return None


async def provision_partitions(
    js: JetStreamContext,
    partitions: int,
    replicas: int = 1,
    specs: Sequence[StreamSpec] = PARTITIONED_STREAMS,
) -> list[str]:
    """Create the partitioned mirrors that are missing (returns their names). An existing
    mirror with another partition count is an error: P is fixed at provisioning, changing it
    is the re-partition procedure, never an update in place (consumers and checkpoints of
    the old partitions would silently cover other workspaces)."""
    created = []
    for spec in specs:
        name = mirror_name(spec)
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(mirror_config(spec, partitions, replicas))
            created.append(name)
            continue
        existing = provisioned_partitions(info.config)
        if existing != partitions:
            raise PartitionError(
                f"TRUENORTH_ALIGNMENT_PARTITIONS={partitions} but stream {name} was "
                f"provisioned with {existing} partitions: changing the partition count is a "
                "re-partition (drain, delete the mirrors, rebuild: docs/design.md, "
                "'Partitions and leases')"
            )
    return created


def durable_name(consumer: str, spec: StreamSpec, partition: int) -> str:
    return f"{consumer}-{spec.name.lower()}-p{partition}"


def consumer_config(
    consumer: str,
    spec: StreamSpec,
    partition: int,
    *,
    start_after: int = 0,
    ack_wait: float = 5.0,
    max_ack_pending: int = 20_000,
) -> ConsumerConfig:
    """The durable pull consumer of one partition on one partitioned mirror, starting right
    after `start_after` (the partition's checkpoint: a stream sequence, the same in the
    mirror and in its origin). A new owner recreates it: the previous owner's unacknowledged
    messages would otherwise come back after newer ones."""
    config = ConsumerConfig(
        durable_name=durable_name(consumer, spec, partition),
        filter_subject=partition_filter(partition),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_ack_pending=max_ack_pending,
        deliver_policy=DeliverPolicy.ALL,
    )
    if start_after:
        config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = start_after + 1
    return config
