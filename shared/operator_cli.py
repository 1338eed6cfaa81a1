"""What an operator reaches for: `truenorth objectives`, `drifts`, `ack`, `campaigns`.

They read the services' HTTP APIs (the alignment read API, the strategy inbox, the campaigns
and metrics services). Each service URL comes from `--url`, its `TRUENORTH_<SERVICE>_URL`
variable, the URLs `truenorth up` recorded in the data dir, or the default port, in that order.
An unreachable service is one line and exit code 2, within a few seconds.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from truenorth.endpoints import service_url
from truenorth.settings import DEFAULT_PORTS

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)
TIMEOUT = httpx.Timeout(10.0, connect=2.5)

Workspace = Annotated[
    str | None, typer.Option(help="workspace (default: TRUENORTH_WORKSPACE or 'default')")
]
Url = Annotated[str | None, typer.Option("--url", help="the service's base URL")]
Json = Annotated[bool, typer.Option("--json", help="print the API's JSON answer")]


class ServiceError(Exception):
    pass


def _workspace(workspace: str | None) -> str:
    return workspace or os.environ.get("TRUENORTH_WORKSPACE") or "default"


def _base(service: str, url: str | None) -> str:
    return (url or service_url(service, f"http://127.0.0.1:{DEFAULT_PORTS[service]}")).rstrip("/")


def call(service: str, url: str | None, method: str, path: str, **options: Any) -> dict[str, Any]:
    base = _base(service, url)
    try:
        response = httpx.request(method, base + path, timeout=TIMEOUT, **options)
    except httpx.HTTPError as exc:
        raise ServiceError(
            f"cannot reach the {service} service at {base} ({type(exc).__name__}): "
            "is `truenorth up` running? (--data-dir, --url)"
        ) from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise ServiceError(f"{service} service: {response.status_code} {detail}")
    return response.json()


def _fail(exc: ServiceError) -> None:
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
    raise typer.Exit(2)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def objectives_command(workspace: Workspace = None, url: Url = None, as_json: Json = False) -> None:
    """Objectives with actual / target, progress against expected, pace and status."""
    ws = _workspace(workspace)
    try:
        body = call("alignment", url, "GET", f"/v1/workspaces/{ws}/objectives")
    except ServiceError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    objectives = body.get("objectives", [])
    if not objectives:
        console.print(f"no objectives in workspace {ws!r} yet: `truenorth apply STRATEGY.yaml`")
        return
    table = Table(title=f"objectives in {ws} (as of {body.get('as_of', '')[:19]})")
    for column in ("strategy", "objective", "kpi", "actual", "target", "progress", "expected"):
        table.add_column(column, justify="right" if column in ("actual", "target") else "left")
    table.add_column("pace", justify="right")
    table.add_column("status")
    table.add_column("owner's check-in")
    for o in objectives:
        pace = o.get("pace")
        table.add_row(
            escape(o["strategy_id"]),
            escape(o["objective_id"]),
            escape(o["kpi"]),
            f"{o['actual']:,.2f}",
            f"{o['target']:,.2f}",
            _pct(o.get("progress")),
            _pct(o.get("expected")),
            "-" if pace is None else f"{pace:.2f}",
            escape(str(o.get("status", ""))),
            _checkin(o.get("checkin")),
        )
    console.print(table)


def _checkin(checkin: dict[str, Any] | None) -> str:
    """The latest check-in's confidence and day, beside the data's status."""
    if not checkin:
        return "-"
    figure = checkin.get("corrected_value")
    said = "" if figure is None else f", says {figure:,.2f}"
    return escape(f"{checkin['confidence']}{said} ({str(checkin.get('at', ''))[:10]})")


def drifts_command(
    open_only: Annotated[bool, typer.Option("--open", help="only open drifts")] = False,
    workspace: Workspace = None,
    url: Url = None,
    as_json: Json = False,
) -> None:
    """Drifts alignment raised: open and resolved (or only open with --open)."""
    ws = _workspace(workspace)
    status = "open" if open_only else "all"
    try:
        body = call(
            "alignment", url, "GET", f"/v1/workspaces/{ws}/drifts", params={"status": status}
        )
    except ServiceError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    drifts = body.get("drifts", [])
    if not drifts:
        console.print(f"no {'open ' if open_only else ''}drifts in workspace {ws!r}")
        return
    console.print(f"[bold]drifts in {escape(ws)}[/bold] ({len(drifts)})")
    for d in drifts:
        colour = "red" if d["severity"] == "critical" else "yellow"
        state = "green" if d["status"] == "resolved" else colour
        console.print(
            f"[{state}]{d['status']:<8}[/{state}] [{colour}]{d['severity']:<8}[/{colour}] "
            f"{escape(d['drift_id'])}  objective {escape(d.get('objective_id') or '-')}  "
            f"since {d.get('since', '')[:16]}",
            highlight=False,
        )
        console.print(f"         {escape(d.get('explanation', ''))}", highlight=False)


def ack_command(
    drift: Annotated[str, typer.Argument(help="the drift id (`truenorth drifts`)")],
    note: Annotated[str, typer.Option("--note", help="why it is acknowledged")],
    workspace: Workspace = None,
    actor: Annotated[str | None, typer.Option(help="who (default: your login)")] = None,
    alignment_url: Annotated[str | None, typer.Option(help="alignment service URL")] = None,
    strategy_url: Annotated[str | None, typer.Option(help="strategy service URL")] = None,
) -> None:
    """Acknowledge a drift in its strategy's inbox, with a note (recorded as an event)."""
    ws = _workspace(workspace)
    try:
        body = call(
            "alignment",
            alignment_url,
            "GET",
            f"/v1/workspaces/{ws}/drifts",
            params={"status": "all"},
        )
        found = next((d for d in body.get("drifts", []) if d["drift_id"] == drift), None)
        if found is None:
            raise ServiceError(f"no drift {drift!r} in workspace {ws!r} (see `truenorth drifts`)")
        if not found.get("strategy_id"):
            raise ServiceError(f"drift {drift!r} belongs to no strategy: nothing to acknowledge")
        path = f"/v1/workspaces/{ws}/strategies/{found['strategy_id']}/drifts/{drift}/acknowledge"
        answer = call(
            "strategy",
            strategy_url,
            "POST",
            path,
            json={"note": note},
            headers={"X-Actor": actor or getpass.getuser()},
        )
    except ServiceError as exc:
        _fail(exc)
        return
    console.print(
        f"acknowledged {escape(drift)} in strategy {escape(found['strategy_id'])} "
        f"(version {answer.get('version')})",
        highlight=False,
    )


def campaigns_command(
    orphans: Annotated[
        bool,
        typer.Option(
            "--orphans",
            help="campaign ids that observations name but no campaign has (they count once "
            "launched)",
        ),
    ] = False,
    workspace: Workspace = None,
    url: Url = None,
    as_json: Json = False,
) -> None:
    """The workspace's campaigns (status, objectives, budget), or with --orphans the unknown
    campaign ids observations were sent for."""
    ws = _workspace(workspace)
    try:
        if orphans:
            body = call("metrics", url, "GET", f"/v1/workspaces/{ws}/metrics/unknown-campaigns")
        else:
            body = call("campaigns", url, "GET", f"/v1/workspaces/{ws}/campaigns")
    except ServiceError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    if orphans:
        _print_orphans(ws, body.get("unknown_campaigns", []))
    else:
        _print_campaigns(ws, body.get("campaigns", []))


def _print_orphans(ws: str, orphans: list[dict[str, Any]]) -> None:
    if not orphans:
        console.print(f"no observations for unknown campaigns in workspace {ws!r}")
        return
    table = Table(title=f"observations waiting for a campaign in {ws}")
    table.add_column("campaign id")
    table.add_column("metric events", justify="right")
    for orphan in orphans:
        table.add_row(escape(orphan["campaign_id"]), str(orphan["events"]))
    console.print(table)
    console.print("launch the campaign (or fix the id in the producer) and they count at once")


def _print_campaigns(ws: str, campaigns: list[dict[str, Any]]) -> None:
    if not campaigns:
        console.print(f"no campaigns in workspace {ws!r}")
        return
    table = Table(title=f"campaigns in {ws}")
    for column in ("campaign", "status", "channel", "segment", "budget", "objectives"):
        table.add_column(column, justify="right" if column == "budget" else "left")
    for c in campaigns:
        objectives = ", ".join(c.get("objective_ids", [])) or "[yellow]untethered[/yellow]"
        table.add_row(
            escape(c["campaign_id"]),
            escape(c["status"]),
            escape(c["channel"]),
            escape(c["segment"]),
            f"{c['budget']:,.2f}",
            objectives if not c.get("objective_ids") else escape(objectives),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("objectives")(objectives_command)
    app.command("drifts")(drifts_command)
    app.command("ack")(ack_command)
    app.command("campaigns")(campaigns_command)
    from truenorth import whatif_cli  # imports this module: registered once both are loaded

    whatif_cli.register(app)
