"""Operations commands of the alignment service: rebuild and digest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
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


def _engine():
    from truenorth.settings import AlignmentSettings, SharedSettings, load, sqlite_url
    from truenorth.store.db import make_engine, migrate

    shared = load(SharedSettings)
    settings = load(AlignmentSettings)
    engine = make_engine(settings.database_url or sqlite_url(shared.data_dir, "alignment"))
    migrate(engine)
    return shared, engine


def rebuild_command(
    batch_size: Annotated[int, typer.Option(min=1, help="events per transaction")] = 20_000,
) -> None:
    """Drop the alignment projection and replay every event from zero (stop the service first)."""
    from truenorth.alignment.folding import stored_digest
    from truenorth.alignment.rebuild import rebuild, stream_heads
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

            state = await rebuild(js, engine, batch_size, advance)
        await nc.drain()
        del state  # the rebuilt projection is in the store; digest what was written
        return total, time.perf_counter() - started, stored_digest(engine)

    total, seconds, digest = _run_reaching_nats(run())
    console.print(
        f"rebuilt from {total:,} events in {seconds:.1f}s ({total / max(seconds, 1e-9):,.0f}/s)"
    )
    console.print(f"digest {digest}")


def digest_command(
    replay: Annotated[
        bool, typer.Option("--replay", help="digest of a fresh in-memory replay of the log")
    ] = False,
) -> None:
    """Print a stable hash of the alignment projection (stored, or replayed from the log)."""
    if not replay:
        from truenorth.alignment.folding import stored_digest

        _shared, engine = _engine()
        typer.echo(stored_digest(engine))
        return
    from truenorth.alignment.replay import replay_projection
    from truenorth.bus.eventstore import EventStore
    from truenorth.runtime import connect_client
    from truenorth.settings import SharedSettings, load

    shared = load(SharedSettings)

    async def run() -> str:
        nc = await connect_client(shared, name="truenorth-digest")
        projection = await replay_projection(EventStore(nc.jetstream()))
        await nc.drain()
        return projection.digest()

    typer.echo(_run_reaching_nats(run()))


def register(app: typer.Typer) -> None:
    from truenorth.alignment.demo.cli import demo_command
    from truenorth.alignment.review.cli import review_command

    app.command("rebuild")(rebuild_command)
    app.command("digest")(digest_command)
    app.command("demo")(demo_command)
    app.command("review")(review_command)
