"""One place where a service is wired: settings -> broker -> event store -> FastAPI app.

Each service module provides `build(shared, settings) -> ServiceParts`; `serve` runs it with
uvicorn and drains the broker on SIGTERM/Ctrl-C.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI
from faststream.nats import NatsBroker
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from truenorth.bus.eventstore import EventStore, provision
from truenorth.clock import configure_clock
from truenorth.http import HealthCheck, install_common
from truenorth.settings import ServiceSettings, SharedSettings

log = structlog.get_logger()

Hook = Callable[["Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    """Live connections of one service process."""

    service: str
    shared: SharedSettings
    settings: ServiceSettings
    broker: NatsBroker
    registry: CollectorRegistry
    checks: dict[str, HealthCheck] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def nc(self) -> NatsClient:
        return self.broker.connection

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    @property
    def store(self) -> EventStore:
        return EventStore(self.js)

    def nats_connected(self) -> tuple[bool, str]:
        try:
            connected = self.nc.is_connected
        except Exception:  # not connected yet
            return False, "not connected"
        return connected, "connected" if connected else "disconnected"


def make_broker(shared: SharedSettings, service: str, registry: CollectorRegistry) -> NatsBroker:
    options: dict[str, Any] = {}
    if shared.nats_user:
        from faststream.security import SASLPlaintext

        options["security"] = SASLPlaintext(
            username=shared.nats_user, password=shared.nats_password or ""
        )
    return NatsBroker(
        shared.nats_url,
        name=f"truenorth-{service}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        graceful_timeout=10.0,
        middlewares=[NatsPrometheusMiddleware(registry=registry, app_name=f"truenorth-{service}")],
        **options,
    )


def build_runtime(service: str, shared: SharedSettings, settings: ServiceSettings) -> Runtime:
    configure_clock(shared)
    registry = CollectorRegistry()
    broker = make_broker(shared, service, registry)
    runtime = Runtime(service, shared, settings, broker, registry)
    runtime.checks["nats"] = runtime.nats_connected
    return runtime


def create_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    on_start: Hook | None = None,
    on_stop: Hook | None = None,
) -> FastAPI:
    """FastAPI app whose lifespan connects, provisions streams, runs hooks and drains."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.broker.connect()
        await provision(runtime.js, runtime.shared.nats_replicas)
        if on_start is not None:
            await on_start(runtime)
        await runtime.broker.start()
        log.info("service started", service=runtime.service)
        try:
            yield
        finally:
            log.info("service stopping: draining", service=runtime.service)
            if on_stop is not None:
                await on_stop(runtime)
            await runtime.broker.stop()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    install_common(
        app,
        registry=runtime.registry,
        checks=runtime.checks,
        max_request_bytes=runtime.settings.max_request_bytes,
    )
    return app
