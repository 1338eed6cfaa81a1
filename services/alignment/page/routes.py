"""The page's routes. `/` and `/objectives/{ws}/{id}` answer the whole page; `/ui/live` and
`/ui/objectives/{ws}/{id}` its live part, which the page's script fetches again every few
seconds (and fetches at all, with the token, when auth is required: the page itself then
carries no figures and is served without a token)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi.params import Query
from fastapi.responses import FileResponse, HTMLResponse

from truenorth.alignment.page.context import (
    PageError,
    PageQuery,
    allowed_workspaces,
    frame,
    resolve,
)
from truenorth.alignment.page.detail import build_detail
from truenorth.alignment.page.overview import build_overview
from truenorth.alignment.page.render import render

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"page.js": "text/javascript", "page.css": "text/css"}
REFRESH_SECONDS = 3
DETAIL_REFRESH_SECONDS = 10
"""The detail view reads the objective's history: refreshed less often."""
PAGE_PATHS = r"^/(?:objectives/[^/]+/[^/]+|ui/static/[A-Za-z0-9_.-]+)?$"
"""Answered without a token when auth is required: they carry no figures then."""

Workspace = Annotated[str | None, Query(max_length=64, description="One workspace (default: all)")]
AsOf = Annotated[
    str | None,
    Query(max_length=40, description="The plan and facts as of this time (a date: its end)"),
]
KnownAt = Annotated[str | None, Query(max_length=40, description="Only what was recorded by then")]
Period = Annotated[
    str | None,
    Query(max_length=64, description="A planning period id: the plan and facts as of its end"),
]


def web_router() -> APIRouter:
    router = APIRouter(tags=["page"])

    @router.get("/", response_class=HTMLResponse, summary="Objectives, plan and incidents (HTML)")
    async def page(
        request: Request,
        workspace: Workspace = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        period: Period = None,
    ) -> HTMLResponse:
        query = PageQuery(workspace or None, as_of, known_at, period)
        return await _page(request, query, "./", None)

    @router.get("/ui/live", response_class=HTMLResponse, summary="The overview's live part")
    async def live(
        request: Request,
        workspace: Workspace = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        period: Period = None,
    ) -> HTMLResponse:
        query = PageQuery(workspace or None, as_of, known_at, period)
        return await _fragment(request, query, "./", None)

    @router.get(
        "/objectives/{workspace}/{objective_id}",
        response_class=HTMLResponse,
        summary="One objective: its path, campaigns, incidents and check-ins (HTML)",
    )
    async def detail(
        request: Request,
        workspace: str,
        objective_id: str,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        period: Period = None,
    ) -> HTMLResponse:
        query = PageQuery(workspace, as_of, known_at, period)
        return await _page(request, query, "../../", objective_id)

    @router.get(
        "/ui/objectives/{workspace}/{objective_id}",
        response_class=HTMLResponse,
        summary="The detail view's live part",
    )
    async def detail_live(
        request: Request,
        workspace: str,
        objective_id: str,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        period: Period = None,
    ) -> HTMLResponse:
        query = PageQuery(workspace, as_of, known_at, period)
        return await _fragment(request, query, "../../", objective_id)

    @router.get("/ui/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, f"no static file {name!r}")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    return router


async def _content(
    request: Request, query: PageQuery, root: str, objective_id: str | None
) -> tuple[str, int]:
    try:
        if objective_id is not None and query.workspace is not None:
            if not allowed_workspaces(request, [query.workspace]):
                raise PageError(403, f"the token may not read workspace {query.workspace!r}")
            resolved = await resolve(request, query)
            detail = await build_detail(request, resolved, query.workspace, objective_id)
            return render("detail_live.html", d=detail, root=root), 200
        resolved = await resolve(request, query)
        overview = await build_overview(request, resolved)
        return render("overview_live.html", o=overview, root=root), 200
    except PageError as exc:
        return render("error.html", status=exc.status, message=exc.message, root=root), exc.status


async def _fragment(
    request: Request, query: PageQuery, root: str, objective_id: str | None
) -> HTMLResponse:
    content, status = await _content(request, query, root, objective_id)
    return HTMLResponse(content, status_code=status)


async def _page(
    request: Request, query: PageQuery, root: str, objective_id: str | None
) -> HTMLResponse:
    settings = frame(request)
    if objective_id is None:
        live_url = f"{root}ui/live{query.params()}"
        refresh = REFRESH_SECONDS
    else:
        live_url = f"{root}ui/objectives/{query.workspace}/{objective_id}{query.moment_params()}"
        refresh = DETAIL_REFRESH_SECONDS
    past = bool(query.as_of or query.period or query.known_at)
    content, status = (None, 200)
    if not settings.auth_required:
        content, status = await _content(request, query, root, objective_id)
    html = render(
        "page.html",
        root=root,
        title="truenorth · alignment" + (f" · {query.workspace}" if query.workspace else ""),
        content=content,
        live_url=live_url,
        refresh_ms=0 if past else refresh * 1000,
        frame=settings,
        workspace=query.workspace,
    )
    return HTMLResponse(html, status_code=status)
