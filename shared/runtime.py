"""One place where a service is wired: settings -> broker -> event store -> FastAPI app.

Each service module provides `build(shared, settings) -> ServiceParts`; `serve` runs it with
uvicorn and drains the broker on SIGTERM/Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.errors
import nats.js.errors
import structlog
from fastapi import FastAPI
from faststream.nats import NatsBroker
from faststream.nats.security import NatsSecurity, NatsUserPassword
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from truenorth.auth import ADMIN, WRITE_SCOPE, Authenticator
from truenorth.bus.eventstore import EventStore, provision
from truenorth.bus.faststream_metrics import bounded_prometheus_middleware
from truenorth.bus.permissions import LOCAL, PROVISIONER, inbox_prefix
from truenorth.bus.workspaces import StrategyWorkspaces, no_strategy_message
from truenorth.clock import configure_clock
from truenorth.http import Exposition, HealthCheck, install_common
from truenorth.settings import PRIVATE_UMASK, ServiceSettings, SharedSettings

log = structlog.get_logger()
CREDENTIALS_FILE = "nats-credentials.json"

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
    expositions: list[Exposition] = field(default_factory=list)
    """Pre-rendered Prometheus text appended to the registry's at /metrics."""
    started_at: float = field(default_factory=time.monotonic)
    state: dict[str, Any] = field(default_factory=dict)
    workspaces: StrategyWorkspaces = field(default_factory=StrategyWorkspaces)

    @property
    def nc(self) -> NatsClient:
        return self.broker.connection

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    @property
    def store(self) -> EventStore:
        return EventStore(self.js)

    @property
    def pull_inbox_prefix(self) -> bytes:
        """For faststream pull subscribers (`inbox_prefix=`): they default to ``_INBOX.``,
        not to the connection's prefix, and the server lets this user receive only on its
        own (`truenorth.bus.permissions`)."""
        prefix = reply_prefix(self.shared)
        return (prefix or "_INBOX").encode() + b"."

    async def unknown_workspace(self, workspace: str) -> str | None:
        """Why data for `workspace` is refused (it has no strategy), or None. Raises
        StoreUnavailable when STRATEGY cannot be read."""
        if not self.shared.strategy_required:
            return None
        if await self.workspaces.has_strategy(self.js, workspace):
            return None
        return no_strategy_message(workspace)

    def nats_connected(self) -> tuple[bool, str]:
        try:
            connected = self.nc.is_connected
        except Exception:  # not connected yet
            return False, "not connected"
        return connected, "connected" if connected else "disconnected"


def tls_context(shared: SharedSettings) -> ssl.SSLContext | None:
    """TLS to NATS when a CA or a client certificate is configured (or the URL is tls://)."""
    if not shared.nats_tls:
        return None
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(shared.nats_tls_ca) if shared.nats_tls_ca else None
    )
    if shared.nats_tls_cert and shared.nats_tls_key:
        context.load_cert_chain(str(shared.nats_tls_cert), str(shared.nats_tls_key))
    return context


def nats_security(shared: SharedSettings) -> NatsSecurity | None:
    """faststream's security object: user/password and/or TLS."""
    context = tls_context(shared)
    if shared.nats_user:
        return NatsUserPassword(shared.nats_user, shared.nats_password or "", ssl_context=context)
    if context is not None:
        return NatsSecurity(ssl_context=context)
    return None


def reply_prefix(shared: SharedSettings, user: str | None = None) -> str | None:
    """The inbox prefix a user may receive on (`truenorth.bus.permissions`), or None for
    nats-py's default (no credentials: a server without users)."""
    if user:
        return inbox_prefix(user)
    if shared.nats_inbox_prefix:
        return shared.nats_inbox_prefix
    return inbox_prefix(shared.nats_user) if shared.nats_user else None


def connect_options(
    shared: SharedSettings, *, user: str | None = None, password: str | None = None
) -> dict[str, Any]:
    """nats-py `connect` keyword arguments for the same credentials, inbox prefix and TLS."""
    options: dict[str, Any] = {}
    if user or shared.nats_user:
        options["user"] = user or shared.nats_user
        options["password"] = password if user else shared.nats_password
    prefix = reply_prefix(shared, user)
    if prefix is not None:
        options["inbox_prefix"] = prefix
    context = tls_context(shared)
    if context is not None:
        options["tls"] = context
    return options


CLIENT_CONNECT_SECONDS = 2.5
"""A command's NATS connection gives up after this (nats-py retries a refused connect)."""


def operator_credentials(shared: SharedSettings) -> SharedSettings:
    """Settings for an operator command: the environment's NATS user if set, else the
    operator user `truenorth up` wrote to `nats-credentials.json` in the data dir (so the
    commands work with no credential-less user on the server)."""
    if shared.nats_user:
        return shared
    try:
        body = json.loads((shared.data_dir / CREDENTIALS_FILE).read_text())
        password = body["users"][LOCAL]
    except (OSError, ValueError, KeyError, TypeError):
        return shared
    if body.get("url") not in (None, shared.nats_url):
        return shared  # another server's
    return shared.model_copy(update={"nats_user": LOCAL, "nats_password": password})


def admin_credentials(shared: SharedSettings) -> SharedSettings:
    """Settings that connect as the stream administrator (the provisioner): from
    TRUENORTH_NATS_PROVISIONER_USER/_PASSWORD, else from `truenorth up`'s data dir.
    PermissionError naming both when neither is there."""
    if shared.nats_provisioner_user:
        user, password = shared.nats_provisioner_user, shared.nats_provisioner_password
    else:
        try:
            body = json.loads((shared.data_dir / CREDENTIALS_FILE).read_text())
            user, password = PROVISIONER, body["users"][PROVISIONER]
        except (OSError, ValueError, KeyError, TypeError):
            raise PermissionError(
                "this command is for the stream administrator: set "
                "TRUENORTH_NATS_PROVISIONER_USER/_PASSWORD (or run it on the data dir of "
                "`truenorth up`)"
            ) from None
    return shared.model_copy(
        update={"nats_user": user, "nats_password": password, "nats_inbox_prefix": None}
    )


async def connect_client(
    shared: SharedSettings, *, name: str, url: str | None = None
) -> NatsClient:
    """A one-shot nats-py client (for the CLIs) with the service's user and TLS settings;
    ConnectionError, naming the server, when it cannot connect."""
    target = url or shared.nats_url
    seen: list[Exception] = []

    async def remember(error: Exception) -> None:  # one line at the end, not a traceback each
        seen.append(error)

    shared = operator_credentials(shared.model_copy(update={"nats_url": target}))
    try:
        return await asyncio.wait_for(
            nats.connect(
                servers(target),
                name=name,
                allow_reconnect=False,
                max_reconnect_attempts=1,  # a refused connection fails in ~0.2 s, not forever
                reconnect_time_wait=0.2,
                connect_timeout=2,
                error_cb=remember,
                **connect_options(shared),
            ),
            CLIENT_CONNECT_SECONDS,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        last = seen[-1] if seen else exc
        reason = (
            f"no answer within {CLIENT_CONNECT_SECONDS:g}s"
            if isinstance(last, TimeoutError)
            else (last.strerror if isinstance(last, OSError) else None)
            or str(last)
            or type(last).__name__
        )
        raise ConnectionError(
            f"cannot reach NATS at {target} ({reason}): is `truenorth up` running? "
            "Give its --data-dir, or --nats-url"
        ) from None


class ProvisioningRefused(RuntimeError):
    """The streams are missing or differ and this NATS user may not create/update them."""


async def provision_streams(runtime: Runtime) -> list[str]:
    """Create or update the streams: as the provisioner on a short separate connection when
    its credentials are set, else with the service's own connection (enough when the streams
    already exist as declared: only STREAM.INFO is called then)."""
    shared = runtime.shared
    if not shared.nats_provisioner_user:
        try:
            return await provision(runtime.js, shared.nats_replicas, shared.stream_limits())
        except (nats.errors.TimeoutError, TimeoutError, nats.js.errors.APIError) as exc:
            raise ProvisioningRefused(
                f"cannot create or update the streams as NATS user {shared.nats_user!r} "
                f"({type(exc).__name__}): set TRUENORTH_NATS_PROVISIONER_USER/_PASSWORD"
            ) from exc
    nc = await nats.connect(
        servers(shared.nats_url),
        name=f"truenorth-{runtime.service}-provisioner",
        connect_timeout=5,
        max_reconnect_attempts=3,
        **connect_options(
            shared, user=shared.nats_provisioner_user, password=shared.nats_provisioner_password
        ),
    )
    try:
        changed = await provision(nc.jetstream(), shared.nats_replicas, shared.stream_limits())
    finally:
        await nc.close()
    if changed:
        log.info("streams provisioned", streams=changed, service=runtime.service)
    return changed


def servers(url: str) -> list[str]:
    """`TRUENORTH_NATS_URL` may list a cluster's nodes, comma-separated: the client starts
    from any that answers (it learns the others from the cluster too)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def make_broker(shared: SharedSettings, service: str, registry: CollectorRegistry) -> NatsBroker:
    options: dict[str, Any] = {}
    security = nats_security(shared)
    if security is not None:
        options["security"] = security
    prefix = reply_prefix(shared)
    if prefix is not None:
        options["inbox_prefix"] = prefix
    return NatsBroker(
        servers(shared.nats_url),
        name=f"truenorth-{service}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        graceful_timeout=10.0,
        middlewares=[bounded_prometheus_middleware(registry, f"truenorth-{service}")],
        **options,
    )


def build_runtime(service: str, shared: SharedSettings, settings: ServiceSettings) -> Runtime:
    os.umask(PRIVATE_UMASK)
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
    open_pages: str | None = None,
) -> FastAPI:
    """FastAPI app whose lifespan connects, provisions streams, runs hooks and drains;
    `open_pages` (a path pattern) are browser pages served without a token."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.broker.connect()
        await provision_streams(runtime)
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
    authenticator = None
    if runtime.shared.auth == "required":
        authenticator = Authenticator.from_url(
            runtime.shared.tokens_url(), ttl=runtime.shared.auth_cache_seconds
        )
    runtime.state["authenticator"] = authenticator
    install_common(
        app,
        registry=runtime.registry,
        checks=runtime.checks,
        expositions=runtime.expositions,
        max_request_bytes=runtime.settings.max_request_bytes,
        authenticator=authenticator,
        write_scope=WRITE_SCOPE.get(runtime.service, ADMIN),
        default_workspace=runtime.shared.workspace,
        guard_json=runtime.service != "metrics",  # metrics parses (and explains) its own bodies
        open_pages=open_pages,
    )
    return app
