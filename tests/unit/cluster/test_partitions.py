"""The partition function and the partitioned mirrors' configuration (no server)."""

from __future__ import annotations

import pytest
from nats.js.api import DeliverPolicy

from truenorth.bus.partitions import (
    consumer_config,
    mirror_config,
    original_subject,
    partition_of,
    partition_of_subject,
    provisioned_partitions,
)
from truenorth.bus.streams import METRICS


def test_the_partition_is_fnv1a_32_of_the_workspace_mod_p() -> None:
    # FNV-1a 32-bit reference values: "a" → 0xe40c292c, "foobar" → 0xbf9cf968
    assert partition_of("a", 2**31) == 0xE40C292C % 2**31
    assert partition_of("foobar", 1000) == 0xBF9CF968 % 1000
    assert partition_of("anything", 1) == 0


def test_a_partition_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        partition_of("ws", 0)


def test_a_partitioned_subject_gives_back_the_event_store_subject() -> None:
    assert original_subject("p.3.tn.acme.metrics.c-1") == "tn.acme.metrics.c-1"
    assert partition_of_subject("p.3.tn.acme.metrics.c-1") == 3
    with pytest.raises(ValueError, match="not a partitioned subject"):
        original_subject("tn.acme.metrics.c-1")


def test_the_mirror_records_its_partition_count() -> None:
    config = mirror_config(METRICS, 12, replicas=3)
    assert config.mirror is not None and config.mirror.name == "METRICS"
    assert provisioned_partitions(config) == 12
    assert config.num_replicas == 3


def test_a_partition_consumer_starts_after_its_checkpoint() -> None:
    fresh = consumer_config("alignment", METRICS, 4)
    assert fresh.filter_subject == "p.4.>"
    assert fresh.durable_name == "alignment-metrics-p4"
    assert fresh.deliver_policy == DeliverPolicy.ALL
    resumed = consumer_config("alignment", METRICS, 4, start_after=41)
    assert resumed.deliver_policy == DeliverPolicy.BY_START_SEQUENCE
    assert resumed.opt_start_seq == 42
