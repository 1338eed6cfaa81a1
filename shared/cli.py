"""The `truenorth` command. Services are imported lazily, inside the commands that need
them, so `truenorth --help` stays fast and this is the one place where wiring happens."""

from __future__ import annotations

import importlib
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
import typer.main
from rich.console import Console
from rich.markup import escape

from truenorth.endpoints import apply_to_environment, export_lines
from truenorth.settings import SERVICE_SETTINGS, SERVICES, SettingsError, SharedSettings, load

app = typer.Typer(
    help="truenorth keeps a marketing team's tactics aligned with its strategy, live.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def shared_settings() -> SharedSettings:
    try:
        return load(SharedSettings)
    except SettingsError as exc:
        fail(str(exc))
        raise  # unreachable


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="strategy | campaigns | metrics | alignment")],
) -> None:
    """Run one service in the foreground (what docker compose runs)."""
    from truenorth.serve import run

    if service not in SERVICES:
        fail(f"unknown service {service!r}: choose one of {', '.join(SERVICES)}")
    status = run(service)
    if status:
        raise typer.Exit(status)


@app.command()
def up(
    data_dir: Annotated[
        Path | None, typer.Option(help="default: TRUENORTH_DATA_DIR or the user data dir")
    ] = None,
    free_ports: Annotated[
        bool, typer.Option("--free-ports", help="pick free ports for every service")
    ] = False,
    nats_port: Annotated[int, typer.Option(help="0 picks a free port")] = 0,
    database_url: Annotated[
        str | None, typer.Option(help="PostgreSQL URL for the projection stores")
    ] = None,
) -> None:
    """Start the embedded nats-server and all four services; Ctrl-C stops them with drain.
    With TRUENORTH_BRIEF_SCHEDULE and _WEBHOOK_URL set, it also posts the weekly brief."""
    from datetime import UTC, datetime

    from truenorth.brief.run import up_scheduler
    from truenorth.brief.settings import BriefSettings
    from truenorth.supervisor import Supervisor, SupervisorError

    shared = shared_settings()
    try:
        brief = load(BriefSettings)
    except SettingsError as exc:
        fail(str(exc))
        return
    ports = {}
    for name in SERVICES:
        try:
            configured = load(SERVICE_SETTINGS[name]).port
        except SettingsError as exc:
            fail(str(exc))
            return
        if not free_ports:
            ports[name] = configured
    supervisor = Supervisor(
        data_dir=data_dir or shared.data_dir,
        nats_port=nats_port,
        ports=ports,
        database_url=database_url,
    )
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        supervisor.start(free_ports=free_ports)
    except SupervisorError as exc:
        fail(str(exc), 1)
    assert supervisor.nats is not None
    console.print(
        f"[bold green]truenorth is up[/bold green]  nats: {supervisor.nats.url}"
        f"  data: {supervisor.data_dir}"
    )
    for line in export_lines(supervisor.nats.url, supervisor.data_dir):
        console.print(f"  {line}", highlight=False, markup=False)
    console.print(
        "  (recorded in the data dir: commands given the same --data-dir find it)",
        highlight=False,
    )
    for name, url in supervisor.urls().items():
        console.print(f"  {name:<10} {url}   (docs {url}/docs, metrics {url}/metrics)")
    scheduler = up_scheduler(
        shared,
        brief,
        nats_url=supervisor.nats.url,
        data_dir=supervisor.data_dir,
        alignment_url=supervisor.urls().get("alignment"),
        report=lambda line: err.print(f"[cyan]brief:[/cyan] {escape(line)}", highlight=False),
    )
    if scheduler is not None:
        console.print(f"  brief      posted every {scheduler.schedule}", highlight=False)
    sys.stdout.flush()
    try:
        while not stopping:
            for line in supervisor.supervise():
                err.print(f"[yellow]supervisor:[/yellow] {line}", highlight=False)
            if scheduler is not None:
                scheduler.tick(datetime.now(UTC))
            time.sleep(0.3)
    finally:
        console.print("stopping: draining services")
        supervisor.stop()
        console.print("stopped")


@app.command()
def schemas(out: Annotated[Path, typer.Option(help="output directory")] = Path("schemas")) -> None:
    """Write the JSON Schema of every event and an AsyncAPI document."""
    from truenorth.schemas_export import write_schemas

    written = write_schemas(out)
    console.print(f"wrote {len(written)} files to {out}")


def _register_optional() -> None:
    """Sub-commands owned by services and tools/; each is wired here and nowhere else."""
    for module_name, attr, name in (
        ("truenorth.metrics.cli", "emit_app", "emit"),
        ("truenorth.generators.cli", "dashboards_app", "dashboards"),
        ("truenorth.generators.cli", "rules_app", "rules"),
        ("truenorth.tokens_cli", "tokens_app", "tokens"),
        ("truenorth.dlq", "dlq_app", "dlq"),
    ):
        module = importlib.import_module(module_name)
        app.add_typer(getattr(module, attr), name=name)
    for module_name, attr, name in (
        ("truenorth.demo.cli", "demo_command", "demo"),
        ("truenorth.review.cli", "review_command", "review"),
        ("truenorth.brief.cli", "brief_command", "brief"),
    ):
        app.command(name)(getattr(importlib.import_module(module_name), attr))
    for module_name in (
        "truenorth.strategy.cli",
        "truenorth.alignment.cli",
        "truenorth.operator_cli",
        "truenorth.checkin_cli",
    ):
        importlib.import_module(module_name).register(app)
    dlq = importlib.import_module("truenorth.dlq")
    for service in ("campaigns", "metrics"):  # `dlq replay` validates with the door's own rules
        door = importlib.import_module(f"truenorth.{service}.intake")
        dlq.register_intake_validator(service, door.validate_replay)


_register_optional()


NOT_OPERATOR_COMMANDS = frozenset(
    {"serve", "up", "demo", "schemas", "strategy-schema", "validate", "dashboards", "rules"}
)
"""Commands that start their own system or read no running one: no --nats-url/--data-dir."""


OPERATOR_FLAGS = ("--nats-url", "--data-dir")


@app.callback()
def _operator_options(
    ctx: typer.Context,
    nats_url: Annotated[
        str | None,
        typer.Option(
            "--nats-url",
            help="NATS of a running truenorth (default: TRUENORTH_NATS_URL, "
            "else the URL `truenorth up` recorded in the data dir)",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="the data dir of a `truenorth up`: its URLs are found there"
        ),
    ] = None,
) -> None:
    """Every operator command takes --nats-url and --data-dir (before or after its name)."""
    if ctx.invoked_subcommand in NOT_OPERATOR_COMMANDS:
        return
    apply_to_environment(nats_url, data_dir)


def hoist_operator_options(argv: list[str], root: object) -> list[str]:
    """Move `--nats-url`/`--data-dir` given after an operator command's name in front of it
    (where the root callback reads them), unless that command declares the option itself."""
    node, depth = root, 0
    while depth < len(argv) and argv[depth] in getattr(node, "commands", {}):
        node = node.commands[argv[depth]]  # type: ignore[attr-defined]
        depth += 1
    if depth == 0 or argv[0] in NOT_OPERATOR_COMMANDS:
        return argv
    declared = {opt for p in getattr(node, "params", ()) for opt in getattr(p, "opts", ())}
    hoisted: list[str] = []
    rest: list[str] = []
    tail = argv[depth:]
    index = 0
    while index < len(tail):
        token = tail[index]
        if token == "--":
            rest.extend(tail[index:])
            break
        flag, equals, value = token.partition("=")
        if flag in OPERATOR_FLAGS and flag not in declared:
            if equals:
                hoisted += [flag, value]
            elif index + 1 < len(tail):
                hoisted += [flag, tail[index + 1]]
                index += 1
            index += 1
            continue
        rest.append(token)
        index += 1
    return hoisted + argv[:depth] + rest


def main() -> None:
    command = typer.main.get_command(app)
    command(args=hoist_operator_options(sys.argv[1:], command), prog_name="truenorth")


if __name__ == "__main__":
    main()
