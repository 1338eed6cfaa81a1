"""`truenorth validate`, `truenorth apply` and `truenorth strategy-schema`: strategy as code."""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _read(path: Path) -> str:
    from truenorth.strategy.domain.document import decode_document

    try:
        return decode_document(path.read_bytes(), str(path))
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot read {path}: {exc.strerror}")
        raise typer.Exit(2) from None


def validate_command(
    files: Annotated[list[Path], typer.Argument(help="strategy YAML documents")],
) -> None:
    """Validate strategy documents; every error at once, each with its path and line."""
    from truenorth.strategy.domain import DocumentInvalid, load_document

    failed = False
    for path in files:
        try:
            document = load_document(_read(path), str(path))
        except DocumentInvalid as exc:
            failed = True
            err.print(exc.render(), highlight=False, soft_wrap=True, markup=False)
            continue
        console.print(
            f"{path}: ok (strategy {document.id}, {len(document.objectives)} objectives)",
            highlight=False,
        )
    if failed:
        raise typer.Exit(1)


def apply_command(
    file: Annotated[Path, typer.Argument(help="strategy YAML document")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan only")] = False,
    reason: Annotated[str, typer.Option(help="why: recorded on every change event")] = "",
    in_response_to: Annotated[
        str | None, typer.Option(help="the drift id this revision answers")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="who (default: your login)")] = None,
    workspace: Annotated[str | None, typer.Option(help="default: TRUENORTH_WORKSPACE")] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="refuse to overwrite changes made through the API since the last apply"
        ),
    ] = False,
) -> None:
    """Diff a strategy document against the state rebuilt from the stream, print the plan,
    and append only the change events. Applying the same file twice appends nothing. Warns
    when the plan would overwrite a change made through the API since the file was last
    applied (`--strict` refuses)."""
    from truenorth.bus.eventstore import ConcurrencyConflict, EventStore, provision
    from truenorth.runtime import connect_client
    from truenorth.settings import SharedSettings, load
    from truenorth.strategy.domain import (
        DocumentInvalid,
        DomainError,
        load_document,
        overwrites,
        plan_changes,
    )
    from truenorth.strategy.inbox import drift_exists
    from truenorth.strategy.repository import StrategyRepository

    try:
        document = load_document(_read(file), str(file))
    except DocumentInvalid as exc:
        err.print(exc.render(), highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(1) from None
    shared = load(SharedSettings)
    ws = workspace or shared.workspace
    who = actor or getpass.getuser()

    async def run() -> int:
        try:
            nc = await connect_client(shared, name="truenorth-apply")
        except Exception as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            return 2
        try:
            await provision(nc.jetstream(), shared.nats_replicas, shared.stream_limits())
            store = EventStore(nc.jetstream())
            if in_response_to and not await drift_exists(store, None, ws, in_response_to):
                err.print(
                    f"[red]error:[/red] --in-response-to: no drift or incident "
                    f"{in_response_to!r} in workspace {ws!r}; nothing was applied",
                    highlight=False,
                )
                return 1
            repo = StrategyRepository(store)
            loaded = await repo.load(ws, document.id)
            current = loaded.strategy if loaded.strategy.defined else None
            plan = plan_changes(
                document, current, who, reason, in_response_to=in_response_to, workspace=ws
            )
            console.print(plan.render(), highlight=False)
            overwritten = overwrites(plan, loaded.events, ws)
            for item in overwritten:
                label = "[red]refused:[/red]" if strict else "[yellow]warning:[/yellow]"
                err.print(
                    f"{label} {item.render()}", highlight=False, crop=False, overflow="ignore"
                )
            if overwritten and strict and not dry_run:
                err.print(
                    f"[red]error:[/red] {len(overwritten)} change(s) made through the API would "
                    "be overwritten (--strict); update the file or apply without --strict",
                    highlight=False,
                )
                return 1
            if dry_run or plan.is_empty:
                return 0
            saved = await repo.save(loaded, plan.events)
            console.print(
                f"Applied: {len(plan.events)} events appended; "
                f"strategy {document.id} is at version {saved.strategy.version}."
            )
            return 0
        except DomainError as exc:
            err.print(f"[red]error:[/red] {escape(exc.message)}")
            for error in exc.errors:
                err.print(f"  {error.path}: {error.message}", highlight=False, markup=False)
            return 1
        except ConcurrencyConflict:
            err.print("[red]error:[/red] the strategy changed while applying; run apply again")
            return 1
        finally:
            await nc.drain()

    code = asyncio.run(run())
    if code:
        raise typer.Exit(code)


def schema_command(
    out: Annotated[Path | None, typer.Option(help="write to this file instead of stdout")] = None,
) -> None:
    """Print the strategy document's JSON Schema (for editors' YAML language servers)."""
    from truenorth.strategy.domain import document_json_schema

    text = json.dumps(document_json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
    app.command("apply")(apply_command)
    app.command("strategy-schema")(schema_command)
