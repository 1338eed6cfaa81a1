"""`truenorth whatif` and `truenorth recommend apply` (docs/design.md, "What-if").

`whatif` asks the alignment service what shifting budget would do to every affected objective;
`recommend apply INCIDENT` sends the revision an off-pace incident recommends to the strategy
service, with `If-Match` (the strategy's ETag read just before) and `in_response_to` the
incident. Both talk HTTP, as the other operator commands do.
"""

from __future__ import annotations

import getpass
import json
import re
from datetime import date
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from truenorth.operator_cli import (
    TIMEOUT,
    Json,
    ServiceError,
    Url,
    Workspace,
    _base,
    _fail,
    _workspace,
    console,
    err,
)

recommend_app = typer.Typer(help="Recommendations on off-pace incidents", no_args_is_help=True)

_SHIFT = re.compile(r"^(?P<source>[^:]+):(?P<target>[^:]+):(?P<amount>[^:]+)$")


def parse_shift(text: str) -> dict[str, Any]:
    """`FROM:TO:AMOUNT`, each side a channel or `campaign=ID` (ValueError says what is wrong)."""
    match = _SHIFT.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r}: expected FROM:TO:AMOUNT, e.g. linkedin:search:5000")
    try:
        amount = float(match["amount"].replace(",", "").replace("_", ""))
    except ValueError:
        raise ValueError(f"{text!r}: amount {match['amount']!r} is not a number") from None
    return {"from": _end(match["source"]), "to": _end(match["target"]), "amount": amount}


def _end(text: str) -> dict[str, str]:
    kind, _, ident = text.partition("=")
    if ident and kind in ("campaign", "channel"):
        return {kind: ident}
    return {"channel": text}


def request(
    service: str, url: str | None, method: str, path: str, **options: Any
) -> httpx.Response:
    base = _base(service, url)
    try:
        response = httpx.request(method, base + path, timeout=TIMEOUT, **options)
    except httpx.HTTPError as exc:
        raise ServiceError(
            f"cannot reach the {service} service at {base} ({type(exc).__name__}): "
            "is `truenorth up` running? (--data-dir, --url)"
        ) from None
    if response.status_code >= 400:
        raise ServiceError(f"{service} service: {response.status_code} {_problem(response)}")
    return response


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


def whatif_command(
    strategy: Annotated[str, typer.Option("--strategy", help="the strategy id")],
    shift: Annotated[
        list[str],
        typer.Option(
            "--shift",
            help="FROM:TO:AMOUNT, a channel or campaign=ID on each side (repeatable), "
            "e.g. linkedin:search:5000",
        ),
    ],
    starting: Annotated[
        str | None, typer.Option("--from", help="the day the shift starts (default: today)")
    ] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="the planning period (default: current)")
    ] = None,
    workspace: Workspace = None,
    url: Url = None,
    as_json: Json = False,
) -> None:
    """Forecast attainment and P(hit) of every affected objective, before and after shifting
    budget between channels or campaigns."""
    ws = _workspace(workspace)
    try:
        shifts = [parse_shift(text) for text in shift]
    except ValueError as exc:
        _refuse("--shift", str(exc))
        return
    body: dict[str, Any] = {"shifts": shifts}
    if starting is not None:
        try:  # any form ISO 8601 writes a day in (20261115, 2026-W46-7), sent as the API's
            body["from"] = date.fromisoformat(starting.strip()).isoformat()
        except ValueError:
            _refuse("--from", f"{starting!r} is not a date (YYYY-MM-DD)")
    if period is not None:
        body["period_id"] = period
    path = f"/v1/workspaces/{ws}/strategies/{strategy}/whatif"
    try:
        answer = request("alignment", url, "POST", path, json=body).json()
    except ServiceError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    print_effects(answer.get("objectives", []), f"what if, in {ws}")
    for assumption in answer.get("assumptions", []):
        console.print(f"  · {escape(assumption)}", highlight=False)


def _refuse(option: str, message: str) -> None:
    err.print(f"[red]error:[/red] {option} {escape(message)}", highlight=False)
    raise typer.Exit(2)


def print_effects(objectives: list[dict[str, Any]], title: str) -> None:
    if not objectives:
        console.print("no objective is linked to a campaign these shifts change")
        return
    table = Table(title=title)
    for column in ("objective", "forecast", "attainment", "P(hit)"):
        table.add_column(column, justify="left" if column == "objective" else "right")
    for o in objectives:
        before, after = o["before"], o["after"]
        unmodelled = "" if o.get("modelled", True) else " (not modelled)"
        table.add_row(
            escape(o["objective_id"]) + unmodelled,
            f"{before['forecast']:,.2f} → {after['forecast']:,.2f}",
            f"{before['attainment'] * 100:.0f}% → {after['attainment'] * 100:.0f}%",
            f"{before['p_hit']:.2f} → {after['p_hit']:.2f}",
        )
    console.print(table)


@recommend_app.command("apply")
def apply_command(
    incident: Annotated[str, typer.Argument(help="the incident id (`truenorth drifts`)")],
    workspace: Workspace = None,
    actor: Annotated[str | None, typer.Option(help="who (default: your login)")] = None,
    alignment_url: Annotated[str | None, typer.Option(help="alignment service URL")] = None,
    strategy_url: Annotated[str | None, typer.Option(help="strategy service URL")] = None,
) -> None:
    """Apply an open incident's recommendation: the period's revised channel mix, sent to the
    strategy service with If-Match and in_response_to the incident."""
    ws = _workspace(workspace)
    try:
        found = request("alignment", alignment_url, "GET", f"/v1/workspaces/{ws}/incidents").json()
        match = next((i for i in found.get("incidents", []) if i["incident_id"] == incident), None)
        if match is None:
            raise ServiceError(f"no open incident {incident!r} in workspace {ws!r}")
        recommendation = match.get("recommendation")
        if not recommendation:
            raise ServiceError(f"incident {incident!r} has no recommendation to apply")
        revision = recommendation["revision"]
        strategy_path = revision["path"].split("/periods/", 1)[0]
        etag = request("strategy", strategy_url, "GET", strategy_path).headers.get("ETag")
        headers = {"X-Actor": actor or getpass.getuser()}
        if etag:
            headers["If-Match"] = etag
        answer = request(
            "strategy",
            strategy_url,
            revision["method"],
            revision["path"],
            json=revision["body"],
            headers=headers,
        ).json()
    except ServiceError as exc:
        _fail(exc)
        return
    console.print(
        f"applied to {escape(strategy_path.rsplit('/', 1)[-1])} (version "
        f"{answer.get('version')}), answering {escape(incident)}: "
        f"{escape(recommendation['summary'])}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("whatif")(whatif_command)
    app.add_typer(recommend_app, name="recommend")
