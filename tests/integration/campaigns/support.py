"""Sync helpers to look at and write to the streams from a test (used by the campaigns and
metrics integration tests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import nats

from truenorth.bus.eventstore import EventStore, provision
from truenorth.contract.common import ObjectiveSpec
from truenorth.contract.strategy import (
    ObjectiveAdded,
    ObjectiveRetired,
    ObjectiveRetiredData,
    ObjectiveSetData,
)

T = TypeVar("T")


class Bus:
    """Sync access to the test nats-server: each call opens its own connection."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _run(self, work: Callable[[Any], Any]) -> Any:
        async def main() -> Any:
            nc = await nats.connect(self.url)
            try:
                js = nc.jetstream()
                await provision(js)
                return await work(js)
            finally:
                await nc.close()

        return asyncio.run(main())

    def events(self, workspace: str, context: str) -> list[Any]:
        stream = context.upper()

        async def work(js: Any) -> list[Any]:
            store = EventStore(js)
            return [
                s.event
                async for s in store.read(stream, filter_subject=f"tn.{workspace}.{context}.>")
            ]

        return self._run(work)

    def raw(self, stream: str, subject: str) -> list[tuple[dict[str, str], bytes]]:
        async def work(js: Any) -> list[tuple[dict[str, str], bytes]]:
            store = EventStore(js)
            return [
                (dict(m.headers or {}), m.data)
                async for m in store.read_raw(stream, filter_subject=subject)
            ]

        return self._run(work)

    def dead_letters(self, workspace: str, service: str) -> list[tuple[dict[str, str], bytes]]:
        return self.raw("DLQ", f"tn.{workspace}.dlq.{service}")

    def publish(self, subject: str, payload: bytes) -> None:
        async def work(js: Any) -> None:
            await js.publish(subject, payload)

        self._run(work)

    def append(self, *events: Any) -> None:
        async def work(js: Any) -> None:
            store = EventStore(js)
            for event in events:
                await store.append(event)

        self._run(work)

    def add_objective(self, workspace: str, objective_id: str, strategy: str = "s1") -> None:
        spec = ObjectiveSpec(
            objective_id=objective_id,
            name=objective_id,
            kpi="leads",
            target=100,
            start=datetime(2025, 1, 1, tzinfo=UTC),
            deadline=datetime(2025, 12, 31, tzinfo=UTC),
        )
        self.append(
            ObjectiveAdded(
                workspace=workspace, aggregate_id=strategy, data=ObjectiveSetData(objective=spec)
            )
        )

    def retire_objective(self, workspace: str, objective_id: str, strategy: str = "s1") -> None:
        self.append(
            ObjectiveRetired(
                workspace=workspace,
                aggregate_id=strategy,
                data=ObjectiveRetiredData(objective_id=objective_id),
            )
        )


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        time.sleep(interval)
