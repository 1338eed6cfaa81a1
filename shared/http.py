"""What every service's HTTP side shares: health, /metrics, error shapes, size limits."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Annotated, Any
from urllib.parse import parse_qs

import nats.errors
import orjson
import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from truenorth.auth import (
    ADMIN,
    METRICS_SCRAPE,
    READ,
    SCOPES,
    Authenticator,
    AuthUnavailable,
    Principal,
)
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
    """413 from Content-Length before any body is read; chunked bodies are cut off too.

    A chunked body is only found too large while the route reads it; FastAPI turns any error
    raised by the body read into a 400, so the answer the app sends then is replaced by the
    413 here."""

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
        too_large = False
        answered = False

        async def limited_receive() -> Any:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def answer_413() -> None:
            nonlocal answered
            if not answered:
                answered = True
                response = problem(413, f"request body larger than {self.max_bytes} bytes")
                await response(scope, receive, send)

        async def guarded_send(message: Any) -> None:
            nonlocal answered
            if too_large:
                await answer_413()  # instead of whatever the app answers to the cut-off body
                return
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            await answer_413()


MAX_JSON_NESTING = 64
"""No truenorth request body nests deeper; Python's json parser (FastAPI's) fails at ~1 000."""
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


def nesting_depth(value: Any, limit: int) -> int:
    """Depth of nested lists/dicts, level by level (no recursion); stops once past `limit`."""
    depth = 0
    level = [value]
    while depth <= limit:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            break
        depth += 1
        level = [
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        ]
    return depth


def json_body_problem(body: bytes) -> str | None:
    """What is wrong with a JSON request body, in words naming the encoding or the nesting;
    None when it is well-formed UTF-8 JSON of reasonable depth (the route validates the rest)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "UTF-8" in text:
            return f"the body is not UTF-8 (JSON must be UTF-8: re-encode it): {text}"
        if "depth" in text or "recursion" in text.lower():
            return f"the body nests deeper than {MAX_JSON_NESTING} levels"
        return None  # FastAPI reports ordinary syntax errors with their position
    if nesting_depth(value, MAX_JSON_NESTING) > MAX_JSON_NESTING:
        return f"the body nests deeper than {MAX_JSON_NESTING} levels"
    return None


class JsonBodyGuard:
    """422 naming the problem for JSON bodies that are not UTF-8 or nest absurdly deep, which
    FastAPI would answer with a bare 400 ("error parsing the body"). Bodies are already bounded
    by `BodySizeLimit`. Not installed where a service parses its own bodies (metrics)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or ()).get(b"content-type", b"")
        media = content_type.split(b";", 1)[0].strip().lower()
        if media != b"application/json" and not media.endswith(b"+json"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        problem_text = json_body_problem(body) if body else None
        if problem_text is not None:
            errors = [{"field": "(body)", "message": problem_text, "type": "body"}]
            await problem(422, "invalid request", errors)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")


OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
"""Answered without a token (orchestrators, the API docs) and read-only."""
SCRAPE_PATH = "/metrics"
"""Needs the `metrics` scope: it names every workspace, strategy and objective with figures."""
ACTOR_HEADER = b"x-actor"
WORKSPACE_PATH = re.compile(r"^/v1/workspaces/([^/]+)(?:/|$)")
PAGE_WORKSPACE_PATH = re.compile(r"^/ui/objectives/([^/]+)/")
"""The alignment page's detail fragments name their workspace in the path too."""
READ_METHODS = frozenset({"GET", "HEAD"})
READ_ONLY_POSTS = re.compile(r"^/v1/workspaces/[^/]+/strategies/[^/]+/whatif$")
"""POSTs that compute and write nothing (alignment's what-if): the `read` scope suffices."""


class TokenAuth:
    """`Authorization: Bearer <token>` on every route but `OPEN_PATHS` (see `truenorth.auth`).

    GET/HEAD (and `READ_ONLY_POSTS`) need the `read` scope, any other method the service's
    write scope, `/metrics` the `metrics` scope. No or a bad token: 401 with
    `WWW-Authenticate: Bearer`; a valid token without the scope, or bound to other workspaces
    than the path's (or the default one's): 403; the token store unreachable: 503.

    Identity: the token's name is the actor. `X-Actor` is set to it for the routes (strategy
    and metrics record that header); a request claiming another actor is refused (422 naming
    `X-Actor`): a token cannot write on behalf of someone else. The verified principal is put
    on `request.state.principal` (and `current_principal`, for bodies with an `actor` field).
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        write_scope: str,
        default_workspace: str = "default",
        open_pages: str | None = None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.write_scope = write_scope
        self.default_workspace = default_workspace
        self.open_pages = re.compile(open_pages) if open_pages else None
        """Browser pages served without a token: they carry no figures when auth is required
        and fetch them with the token the user gives (the alignment page)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if scope["path"] in OPEN_PATHS or (
            self.open_pages is not None and self.open_pages.match(scope["path"])
        ):
            if method in READ_METHODS:
                await self.app(scope, receive, send)
                return
            refusal = problem(
                405, "read-only endpoint: only GET is allowed", None, Allow="GET, HEAD"
            )
            await refusal(scope, receive, send)
            return
        if scope["path"] == SCRAPE_PATH:
            required = METRICS_SCRAPE
        else:
            reads = method in READ_METHODS or (
                method == "POST" and READ_ONLY_POSTS.match(scope["path"]) is not None
            )
            required = READ if reads else self.write_scope
        response = await self._check(scope, required)
        if response is None:
            response = self._attribute(scope)
        if response is not None:
            await response(scope, receive, send)
            return
        token = current_principal.set(scope["state"]["principal"])
        try:
            await self.app(scope, receive, send)
        finally:
            current_principal.reset(token)

    def _attribute(self, scope: Scope) -> Response | None:
        """Workspace binding and the actor header (see the class docstring)."""
        principal: Principal = scope["state"]["principal"]
        if scope["path"] != SCRAPE_PATH:
            workspace = self._workspace(scope)
            if not principal.may_act_in(workspace):
                return problem(
                    403,
                    f"token {principal.name!r} is bound to workspace(s) "
                    f"{', '.join(principal.workspaces)}, not {workspace!r}",
                )
        headers = [(k, v) for k, v in scope.get("headers") or () if k != ACTOR_HEADER]
        claimed = [v for k, v in scope.get("headers") or () if k == ACTOR_HEADER]
        if any(v.decode("latin-1").strip() not in ("", principal.name) for v in claimed):
            return problem(
                422,
                "invalid request",
                [
                    {
                        "field": "X-Actor",
                        "message": f"the token acts as {principal.name!r}: another actor is "
                        "refused (use a token of that actor)",
                        "type": "actor",
                    }
                ],
            )
        headers.append((ACTOR_HEADER, principal.name.encode()))
        scope["headers"] = headers
        return None

    def _workspace(self, scope: Scope) -> str:
        """The path's workspace, else a page's `?workspace=`, else the default one."""
        match = WORKSPACE_PATH.match(scope["path"]) or PAGE_WORKSPACE_PATH.match(scope["path"])
        if match:
            return match.group(1)
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("workspace")
        return asked[0] if asked and asked[0] else self.default_workspace

    async def _check(self, scope: Scope, required: str) -> Response | None:
        header = ""
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        realm = 'Bearer realm="truenorth"'
        if not header:
            return problem(
                401,
                "missing bearer token: send Authorization: Bearer <token>",
                None,
                **{"WWW-Authenticate": realm},
            )
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            return problem(
                401,
                "malformed Authorization header: expected Bearer <token>",
                None,
                **{"WWW-Authenticate": f'{realm}, error="invalid_request"'},
            )
        try:
            principal = await self.authenticator.verify(token.strip())
        except AuthUnavailable as exc:
            return problem(503, str(exc), None, **{"Retry-After": RETRY_AFTER_SECONDS})
        if principal is None:
            return problem(
                401,
                "invalid, expired or revoked token",
                None,
                **{"WWW-Authenticate": f'{realm}, error="invalid_token"'},
            )
        if required not in principal.scopes and ADMIN not in principal.scopes:
            return problem(
                403,
                f"token {principal.name!r} lacks the {required!r} scope",
                None,
                **{
                    "WWW-Authenticate": (f'{realm}, error="insufficient_scope", scope="{required}"')
                },
            )
        scope.setdefault("state", {})["principal"] = principal
        return None


current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)
"""Who the request being handled acts as (auth required), for routes whose body names an actor."""


class ActorRefused(Exception):
    """A body names another actor than the request's token."""


class FieldInvalid(ValueError):
    """One named request field (a query parameter a route parses itself) is invalid: a 422
    naming it, like pydantic's."""

    def __init__(self, field: str, message: str, kind: str = "value_error") -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.kind = field, message, kind


def attributed_actor(claimed: str, unset: str = "unknown") -> str:
    """The actor to record: the token's name when auth is required (a body naming another
    actor raises ActorRefused), else what the client said."""
    principal = current_principal.get()
    if principal is None:
        return claimed
    if claimed not in (unset, principal.name):
        raise ActorRefused(
            f"the token acts as {principal.name!r}: another actor ({claimed!r}) is refused"
        )
    return principal.name


def document_bearer_auth(app: FastAPI) -> None:
    """Declare the bearer scheme in the OpenAPI document (the docs' "Authorize" button)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "truenorth API token (`truenorth tokens create`); scopes: "
            + ", ".join(SCOPES),
        }
        for path, operations in schema.get("paths", {}).items():
            if path in OPEN_PATHS:
                continue
            for operation in operations.values():
                if isinstance(operation, dict):
                    operation.setdefault("security", [{"bearer": []}])
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


Exposition = Callable[[frozenset[str] | None], Sequence[bytes]]
"""Pre-rendered Prometheus text served after the registry's: every family, or only the
named."""


def install_common(
    app: FastAPI,
    *,
    registry: CollectorRegistry,
    checks: dict[str, HealthCheck],
    max_request_bytes: int,
    expositions: Sequence[Exposition] = (),
    authenticator: Authenticator | None = None,
    write_scope: str = ADMIN,
    default_workspace: str = "default",
    guard_json: bool = True,
    open_pages: str | None = None,
) -> None:
    """Health, readiness, /metrics and the error handlers every service answers with; with
    an `authenticator`, bearer tokens on every other route (`TokenAuth`)."""

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
    async def metrics(
        request: Request,
        names: Annotated[
            list[str] | None,
            Query(alias="name[]", description="Only these metric families (as prometheus-client)"),
        ] = None,
    ) -> Response:
        """The registry's text and the expositions' pre-rendered families (plain text: at
        1 000 objectives ~2 MB, which compressing would cost more than it saves on loopback)."""
        wanted = frozenset(names) if names else None
        source = registry.restricted_registry(wanted) if wanted else registry
        body = b"".join(
            [generate_latest(source), *(t for render in expositions for t in render(wanted))]
        )
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, "invalid request", field_errors(list(exc.errors())))

    @app.exception_handler(ValidationError)
    async def _invalid_model(_request: Request, exc: ValidationError) -> JSONResponse:
        return problem(422, "invalid request", field_errors(list(exc.errors())))

    @app.exception_handler(ActorRefused)
    async def _actor_refused(_request: Request, exc: ActorRefused) -> JSONResponse:
        errors = [{"field": "actor", "message": str(exc), "type": "actor"}]
        return problem(422, "invalid request", errors)

    @app.exception_handler(FieldInvalid)
    async def _field_invalid(_request: Request, exc: FieldInvalid) -> JSONResponse:
        errors = [{"field": exc.field, "message": exc.message, "type": exc.kind}]
        return problem(422, str(exc), errors)

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

    if guard_json:
        app.add_middleware(JsonBodyGuard)
    app.add_middleware(BodySizeLimit, max_bytes=max_request_bytes)
    if authenticator is not None:
        # added last = outermost: a request without a valid token is refused before its
        # body is read
        app.add_middleware(
            TokenAuth,
            authenticator=authenticator,
            write_scope=write_scope,
            default_workspace=default_workspace,
            open_pages=open_pages,
        )
        document_bearer_auth(app)


Handler = Callable[..., Awaitable[Any]]


# -- the HTTP server ---------------------------------------------------------------------------


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with read deadlines, which uvicorn lacks (its keep-alive timer
    is cancelled by any byte received, so a client trickling a header byte every few seconds
    held a connection forever: issue 17, finding 12).

    - the request line and headers must arrive within `header_timeout` of the connection
      opening or of the previous response;
    - the body must arrive within `body_timeout` of the headers.
    A client missing either is disconnected."""

    header_timeout = 10.0
    body_timeout = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        previous = self.cycle
        self.loop.call_later(self.header_timeout, self._headers_due, previous)

    def _headers_due(self, previous: object) -> None:
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is previous or cycle is None:
            self._drop("request headers not received in time")
            return
        self.loop.call_later(self.body_timeout, self._body_due, cycle)

    def _body_due(self, cycle: Any) -> None:
        if self.transport.is_closing() or self.cycle is not cycle:
            return
        if cycle.more_body and not cycle.response_started:
            self._drop("request body not received in time")

    def _drop(self, reason: str) -> None:
        self.logger.info("closing a slow connection: %s", reason)
        self.transport.close()


def server_config(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    log_level: str,
    grace: float,
    keep_alive: float,
    header_timeout: float,
    body_timeout: float,
    max_concurrency: int,
) -> uvicorn.Config:
    """uvicorn's configuration for a service: keep-alive, header and body deadlines, at most
    `max_concurrency` connections and requests at once (more get 503), a bounded header size."""
    protocol = type(
        "ServiceH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=int(grace),
        timeout_keep_alive=int(keep_alive),
        limit_concurrency=max_concurrency,
        h11_max_incomplete_event_size=64 * 1024,
        http=protocol,
        access_log=False,
    )
