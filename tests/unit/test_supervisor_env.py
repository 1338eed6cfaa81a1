"""What `truenorth up` puts in each service's environment besides NATS credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from truenorth.bus.embedded import EmbeddedNats
from truenorth.supervisor import MALLOC_ARENA_MAX, SERVICES, Supervisor


def supervisor(tmp_path: Path) -> Supervisor:
    running = Supervisor(data_dir=tmp_path, ports=dict.fromkeys(SERVICES, 1))
    running.nats = EmbeddedNats(tmp_path, port=4222)
    return running


def test_services_get_few_malloc_arenas_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    for name in SERVICES:
        assert supervisor(tmp_path)._env(name)["MALLOC_ARENA_MAX"] == MALLOC_ARENA_MAX


def test_an_operators_malloc_arena_setting_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert supervisor(tmp_path)._env("alignment")["MALLOC_ARENA_MAX"] == "8"


def test_the_image_sets_the_same_default() -> None:
    dockerfile = Path(__file__).parents[2] / "deploy" / "Dockerfile"
    assert f"MALLOC_ARENA_MAX={MALLOC_ARENA_MAX}" in dockerfile.read_text()
