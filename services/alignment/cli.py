"""Operations commands of the alignment service: rebuild and digest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(soft_wrap=True)
T = TypeVar("T")


def _run_reaching_nats(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; an unreachable NATS is one line and exit code 2."""
    try:
        return asyncio.run(work)
    except ConnectionError as exc:
        Console(stderr=True, soft_wrap=True).print(
            f"[red]error:[/red] {escape(str(exc))}", highlight=False
        )
        raise typer.Exit(2) from None


def _engine(must_exist: bool = False):
    """The alignment store of the settings; `must_exist`: exit 2 with a message when there is
    none (a digest of nothing would look like a real one)."""
    from truenorth.settings import AlignmentSettings, SharedSettings, load, sqlite_url
    from truenorth.store.db import make_engine, migrate, schema_revision

    shared = load(SharedSettings)
    settings = load(AlignmentSettings)
    url = settings.database_url or sqlite_url(shared.data_dir, "alignment")
    if (
        must_exist
        and url.startswith("sqlite")
        and not Path(url.removeprefix("sqlite:///")).exists()
    ):
        Console(stderr=True).print(
            f"[red]error:[/red] no alignment projection at {url} "
            "(run the service, or `truenorth rebuild`, first; or pass --data-dir)",
            highlight=False,
        )
        raise typer.Exit(2)
    engine = make_engine(url)
    if must_exist and schema_revision(engine) is None:
        Console(stderr=True).print(
            f"[red]error:[/red] {url} holds no alignment projection", highlight=False
        )
        raise typer.Exit(2)
    migrate(engine)
    return shared, engine


def rebuild_command(
    batch_size: Annotated[int, typer.Option(min=1, help="events per transaction")] = 20_000,
) -> None:
    """Drop the alignment projection and replay every event from zero (stop the service first)."""
    from truenorth.alignment.replay import digest, rebuild, stream_heads
    from truenorth.runtime import connect_client

    shared, engine = _engine()

    async def run() -> tuple[int, float, str]:
        nc = await connect_client(shared, name="truenorth-rebuild")
        js = nc.jetstream()
        heads = await stream_heads(js)
        total = sum(heads.values())
        started = time.perf_counter()
        with Progress(
            TextColumn("[bold]rebuild[/bold] {task.fields[stream]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>10} events/s"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("rebuild", total=total, stream="", rate="-")

            def advance(stream: str, count: int) -> None:
                done = bar.tasks[0].completed + count
                rate = done / max(time.perf_counter() - started, 1e-9)
                bar.update(task, advance=count, stream=stream, rate=f"{rate:,.0f}")

            await rebuild(js, engine, batch_size, advance, second_process=True)
        await nc.drain()
        return total, time.perf_counter() - started, digest(engine)

    total, seconds, rebuilt = _run_reaching_nats(run())
    console.print(
        f"rebuilt from {total:,} events in {seconds:.1f}s ({total / max(seconds, 1e-9):,.0f}/s)"
    )
    console.print(f"digest {rebuilt}")


def digest_command(
    replay: Annotated[
        bool,
        typer.Option("--replay", help="digest of a fresh replay of the log into a scratch store"),
    ] = False,
) -> None:
    """Print a stable hash of the alignment projection (stored, or replayed from the log)."""
    from truenorth.alignment.replay import digest

    if not replay:
        _shared, engine = _engine(must_exist=True)
        typer.echo(digest(engine))
        return
    from truenorth.alignment.replay import replay_digest
    from truenorth.runtime import connect_client
    from truenorth.settings import SharedSettings, load

    shared = load(SharedSettings)

    async def run() -> str:
        nc = await connect_client(shared, name="truenorth-digest")
        try:
            return await replay_digest(nc.jetstream())
        finally:
            await nc.drain()

    typer.echo(_run_reaching_nats(run()))


def register(app: typer.Typer) -> None:
    app.command("rebuild")(rebuild_command)
    app.command("digest")(digest_command)
