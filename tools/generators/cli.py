"""`truenorth dashboards …` and `truenorth rules …`.

Register with::

    from truenorth.generators.cli import dashboards_app, rules_app
    app.add_typer(dashboards_app, name="dashboards")
    app.add_typer(rules_app, name="rules")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from truenorth.contract.common import ObjectiveSpec
from truenorth.generators.dashboards import (
    DEFAULT_ALIGNMENT_API,
    build_dashboards,
    generate_dashboards,
)
from truenorth.generators.rules import (
    DEFAULT_GRAFANA_URL,
    StrategySpec,
    generate_rules,
)
from truenorth.strategy.domain.document import line_of_loc, parse_yaml

console = Console()
err = Console(stderr=True)

dashboards_app = typer.Typer(help="Grafana dashboards as code.", no_args_is_help=True)
rules_app = typer.Typer(
    help="Prometheus alert rules generated from strategies.", no_args_is_help=True
)

DASHBOARD_DIR = Path("deploy/grafana/dashboards")
RULES_DIR = Path("deploy/prometheus/rules")
FOLDER_TITLE = "truenorth"


@dashboards_app.callback()
def _dashboards() -> None:
    """Grafana dashboards as code (deploy/grafana/dashboards/)."""


@rules_app.callback()
def _rules() -> None:
    """Prometheus alert rules generated from strategies (deploy/prometheus/rules/)."""


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


# -- strategy YAML ----------------------------------------------------------------------------

OBJECTIVE_FIELDS = frozenset(ObjectiveSpec.model_fields) - {"objective_id"}


def load_strategy_specs(path: Path) -> StrategySpec:
    """Read a strategy YAML ({workspace?, id, owner, objectives: [...]}) into what
    `generate_rules` needs. Dates read as the strategy service reads them (`ObjectiveSpec`'s
    `truenorth.timeparse` types): a start date is 00:00 UTC, a deadline date the next midnight.
    YAML is read as the strategy service reads it too, with each field's line for errors."""
    try:
        document, lines, errors = parse_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if errors:
        raise ValueError(f"{path}: line {errors[0].line}: {errors[0].message}")
    if not isinstance(document, dict) or "id" not in document:
        raise ValueError(f"{path}: expected a mapping with at least `id` and `objectives`")
    objectives = []
    for index, raw in enumerate(document.get("objectives") or []):
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: objectives[{index}] is not a mapping")
        fields = {k: v for k, v in raw.items() if k in OBJECTIVE_FIELDS}
        fields["objective_id"] = raw.get("id", raw.get("objective_id"))
        try:
            objectives.append(ObjectiveSpec(**fields))
        except ValidationError as exc:
            problems = "; ".join(_problem(e, ("objectives", index), lines) for e in exc.errors())
            raise ValueError(f"{path}: objectives[{index}]: {problems}") from None
    return StrategySpec(
        workspace=str(document.get("workspace", "default")),
        strategy_id=str(document["id"]),
        owner=str(document.get("owner", "")),
        objectives=tuple(objectives),
    )


def _problem(error: Any, objective: tuple[str, int], lines: dict[Any, int]) -> str:
    field = ".".join(str(p) for p in error["loc"]) or "objective"
    line = line_of_loc(lines, (*objective, *error["loc"][:1]))
    return f"{field}{'' if line is None else f' (line {line})'}: {error['msg']}"


# -- commands ---------------------------------------------------------------------------------


@dashboards_app.command("generate")
def dashboards_generate(
    out: Annotated[Path, typer.Option(help="Directory for the dashboard JSON")] = DASHBOARD_DIR,
) -> None:
    """Write the Leadership overview, Objective detail and Pipeline health dashboards."""
    for path in generate_dashboards(out):
        console.print(f"wrote {path}")


@dashboards_app.command("publish")
def dashboards_publish(
    url: Annotated[str, typer.Option(help="Grafana base URL, e.g. http://localhost:3000")],
    token: Annotated[
        str | None, typer.Option(envvar="GRAFANA_TOKEN", help="Service account token")
    ] = None,
    basic_auth: Annotated[
        str | None,
        typer.Option(envvar="GRAFANA_BASIC_AUTH", help="user:password (instead of a token)"),
    ] = None,
    folder: Annotated[str, typer.Option(help="Folder to put the dashboards in")] = FOLDER_TITLE,
) -> None:
    """Push the dashboards to an existing Grafana (create or overwrite, by uid)."""
    try:
        from grafana_client import GrafanaApi  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        _fail("grafana-client is not installed: pip install grafana-client==5.1.4")
        return
    if bool(token) == bool(basic_auth):
        _fail("give exactly one of --token or --basic-auth user:password")
    auth: Any = token
    if basic_auth:
        user, _, password = basic_auth.partition(":")
        auth = (user, password)
    grafana = GrafanaApi.from_url(url, credential=auth)
    try:
        folder_uid = _ensure_folder(grafana, folder)
        for name, board in sorted(build_dashboards().items()):
            grafana.dashboard.update_dashboard(
                {
                    "dashboard": {**board, "id": None},
                    "folderUid": folder_uid,
                    "overwrite": True,
                    "message": "truenorth dashboards publish",
                }
            )
            console.print(f"published {name} → {url.rstrip('/')}/d/{board['uid']}")
    except Exception as exc:  # grafana-client raises several types; report them the same way
        _fail(f"publishing to {url} failed: {exc}")


def _ensure_folder(grafana: Any, title: str) -> str:
    for existing in grafana.folder.get_all_folders():
        if existing.get("title") == title:
            return str(existing["uid"])
    created = grafana.folder.create_folder(title, uid=title)
    return str(created["uid"])


@dashboards_app.command("show")
def dashboards_show(name: Annotated[str, typer.Argument(help="e.g. leadership-overview")]) -> None:
    """Print one dashboard's JSON."""
    boards = build_dashboards()
    if name not in boards:
        _fail(f"unknown dashboard {name!r}: choose one of {', '.join(sorted(boards))}")
    console.print_json(json.dumps(boards[name]))


@rules_app.command("generate")
def rules_generate(
    strategy_yaml: Annotated[list[Path], typer.Argument(help="Strategy YAML file(s)")],
    out: Annotated[Path, typer.Option(help="Directory for the rule files")] = RULES_DIR,
    grafana_url: Annotated[
        str, typer.Option(help="Grafana base URL for dashboard links")
    ] = DEFAULT_GRAFANA_URL,
    alignment_url: Annotated[
        str, typer.Option(help="Alignment read API base URL for drift explanations")
    ] = DEFAULT_ALIGNMENT_API,
) -> None:
    """Generate burn, drift and pipeline alert rules from strategy documents."""
    try:
        strategies = [load_strategy_specs(path) for path in strategy_yaml]
        paths = generate_rules(
            strategies, out, grafana_url=grafana_url, alignment_url=alignment_url
        )
    except ValueError as exc:
        _fail(str(exc))
        return
    for path in paths:
        console.print(f"wrote {path}")
