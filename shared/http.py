"""What every service's HTTP side shares: health, /metrics, error shapes, size limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from truenorth.bus.eventstore import ConcurrencyConflict, StoreUnavailable

HealthCheck = Callable[[], tuple[bool, str]]
RETRY_AFTER_SECONDS = "2"


def field_errors(
    errors: list[Any], drop_prefix: tuple[str, ...] = ("body",)
) -> list[dict[str, Any]]:
    """pydantic errors -> [{field: "objectives[2].deadline", message, type}]."""
    result = []
    for error in errors:
        loc = list(error.get("loc", ()))
        while loc and loc[0] in drop_prefix:
            loc = loc[1:]
        result.append(
            {
                "field": dotted(loc) or "(body)",
                "message": error.get("msg", ""),
                "type": error.get("type", ""),
            }
        )
    return result


def dotted(loc: list[Any] | tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def problem(
    status: int, detail: str, errors: list[dict[str, Any]] | None = None, **headers: str
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers or None)


class BodySizeLimit:
    """413 from Content-Length before any body is read; chunked bodies are cut off too."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            response = problem(413, f"request body larger than {self.max_bytes} bytes")
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            response = problem(413, f"request body larger than {self.max_bytes} bytes")
            await response(scope, receive, send)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")


def install_common(
    app: FastAPI,
    *,
    registry: CollectorRegistry,
    checks: dict[str, HealthCheck],
    max_request_bytes: int,
) -> None:
    """Health, readiness, /metrics and the error handlers every service answers with."""

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: NATS connected, consumers flowing")
    async def readyz() -> Response:
        results = {name: check() for name, check in checks.items()}
        ready = all(ok for ok, _ in results.values())
        body = {
            "status": "ready" if ready else "unready",
            "checks": {n: {"ok": ok, "detail": d} for n, (ok, d) in results.items()},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus exposition", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, "invalid request", field_errors(list(exc.errors())))

    @app.exception_handler(ValidationError)
    async def _invalid_model(_request: Request, exc: ValidationError) -> JSONResponse:
        return problem(422, "invalid request", field_errors(list(exc.errors())))

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(_request: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return problem(409, f"concurrent change: {exc}; re-read and retry")

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_request: Request, exc: StoreUnavailable) -> JSONResponse:
        return problem(
            503, f"event store unavailable: {exc}", None, **{"Retry-After": RETRY_AFTER_SECONDS}
        )

    @app.exception_handler(nats.errors.Error)
    async def _nats_down(_request: Request, exc: nats.errors.Error) -> JSONResponse:
        return problem(
            503,
            f"event store unavailable: {type(exc).__name__}",
            None,
            **{"Retry-After": RETRY_AFTER_SECONDS},
        )

    app.add_middleware(BodySizeLimit, max_bytes=max_request_bytes)


Handler = Callable[..., Awaitable[Any]]
