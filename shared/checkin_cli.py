"""`truenorth checkin`: an objective owner's check-in from the command line.

The write goes to the strategy service (`POST …/objectives/{o}/checkins`); without
`--strategy`, the objective's strategy is found through the alignment read API. Every refusal
names the option to fix, whether this command or the service found the problem.
"""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape

from truenorth.contract.strategy import CONFIDENCE_LEVELS
from truenorth.operator_cli import (
    TIMEOUT,
    ServiceError,
    Workspace,
    _base,
    _fail,
    _workspace,
    call,
    console,
)

OPTION_OF_FIELD = {
    "confidence": "--confidence",
    "narrative": "--note",
    "corrected_value": "--value",
    "source": "--source",
    "objective_id": "OBJECTIVE",
    "actor": "--actor",
}
"""The API's body fields as this command spells them."""


def checkin_command(
    objective: Annotated[str, typer.Argument(help="the objective id (`truenorth objectives`)")],
    confidence: Annotated[
        str, typer.Option("--confidence", help="how sure you are it will be hit: low|medium|high")
    ],
    note: Annotated[str, typer.Option("--note", help="the narrative: why you feel this way")],
    value: Annotated[
        float | None,
        typer.Option("--value", help="your own reading of the KPI, when the data lags"),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="where --value comes from (required with it)")
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option("--strategy", help="the objective's strategy (default: looked up)"),
    ] = None,
    workspace: Workspace = None,
    actor: Annotated[str | None, typer.Option(help="who (default: your login)")] = None,
    alignment_url: Annotated[str | None, typer.Option(help="alignment service URL")] = None,
    strategy_url: Annotated[str | None, typer.Option(help="strategy service URL")] = None,
) -> None:
    """Check in on an objective: your confidence and narrative (and, with its source, a figure
    you know better than the data), recorded as an event beside the data-driven forecast."""
    body = checkin_body(confidence, note, value, source)
    ws = _workspace(workspace)
    try:
        strategy_id = strategy or strategy_of(ws, objective, alignment_url)
        path = f"/v1/workspaces/{ws}/strategies/{strategy_id}/objectives/{objective}/checkins"
        answer = post_checkin(strategy_url, path, body, actor or getpass.getuser())
    except ServiceError as exc:
        _fail(exc)
        return
    figure = "" if value is None else f", corrected to {value:g} ({source})"
    console.print(
        f"checked in on {escape(objective)} in strategy {escape(strategy_id)}: "
        f"{confidence}{escape(figure)} (version {answer.get('version')})",
        highlight=False,
    )


def checkin_body(
    confidence: str, note: str, value: float | None, source: str | None
) -> dict[str, Any]:
    """The request body, or a usage error naming the option (exit code 2)."""
    if confidence not in CONFIDENCE_LEVELS:
        raise typer.BadParameter(
            f"{confidence!r} is not one of {', '.join(CONFIDENCE_LEVELS)}",
            param_hint="'--confidence'",
        )
    if not note.strip():
        raise typer.BadParameter("say in a sentence why you feel this way", param_hint="'--note'")
    if value is not None and not (source or "").strip():
        raise typer.BadParameter(
            "--value needs its --source (where the figure comes from)", param_hint="'--source'"
        )
    body: dict[str, Any] = {"confidence": confidence, "narrative": note}
    if value is not None:
        body["corrected_value"] = value
    if source:
        body["source"] = source
    return body


def strategy_of(ws: str, objective: str, alignment_url: str | None) -> str:
    try:
        found = call(
            "alignment", alignment_url, "GET", f"/v1/workspaces/{ws}/objectives/{objective}"
        )
    except ServiceError as exc:
        if " 404 " in str(exc):
            raise ServiceError(
                f"no objective {objective!r} in workspace {ws!r} (see `truenorth objectives`)"
            ) from None
        raise
    return str(found["strategy_id"])


def post_checkin(url: str | None, path: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
    base = _base("strategy", url)
    try:
        response = httpx.post(base + path, json=body, headers={"X-Actor": actor}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise ServiceError(
            f"cannot reach the strategy service at {base} ({type(exc).__name__}): "
            "is `truenorth up` running? (--data-dir, --strategy-url)"
        ) from None
    if response.status_code >= 400:
        raise ServiceError(refusal(response))
    answer: dict[str, Any] = response.json()
    return answer


def refusal(response: httpx.Response) -> str:
    """The service's refusal, each field error under the option that sets it."""
    try:
        problem = response.json()
    except ValueError:
        return f"strategy service: {response.status_code} {response.text}"
    errors = problem.get("errors") or []
    if not errors:
        return f"strategy service: {response.status_code} {problem.get('detail', '')}"
    lines = []
    for error in errors:
        field = str(error.get("field", "")).split(".")[-1]
        lines.append(f"{OPTION_OF_FIELD.get(field, field)}: {error.get('message', '')}")
    return f"strategy service refused the check-in ({response.status_code}): " + "; ".join(lines)


def register(app: typer.Typer) -> None:
    app.command("checkin")(checkin_command)
