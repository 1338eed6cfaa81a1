"""The compose stack runs several alignment replicas sharing the partitions."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.yml"


def test_alignment_runs_two_or_more_replicas_over_more_partitions() -> None:
    alignment = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["alignment"]
    match = re.fullmatch(
        r"\$\{TRUENORTH_ALIGNMENT_REPLICAS:-(\d+)\}", alignment["deploy"]["replicas"]
    )
    assert match, "replicas come from TRUENORTH_ALIGNMENT_REPLICAS with a default"
    replicas = int(match.group(1))
    partitions = int(alignment["environment"]["TRUENORTH_ALIGNMENT_PARTITIONS"])
    low, high = (int(port) for port in alignment["ports"][0].split(":")[0].split("-"))
    assert replicas >= 2
    assert partitions >= 2 * replicas, "enough partitions to spread and to grow"
    assert high - low + 1 >= replicas, "a host port for each replica"
