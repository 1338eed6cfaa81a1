"""`truenorth demo`: one command that shows the strategy-to-tactics loop working.

Light at import (the CLI registers it on every start); the work is imported when it runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

DEFAULT_SPEED = 55_000.0
DEFAULT_EXAMPLE = "b2b-tech-c-level"


def demo_command(
    seed: Annotated[
        int, typer.Option(help="same seed, same quarter: every id, value and drift")
    ] = 7,
    speed: Annotated[
        float,
        typer.Option(
            min=1.0,
            max=1e7,
            help="at most this many simulated seconds per wall second (55000: a quarter in "
            "~2.4 min; the services are waited for, so a busy machine plays slower, never "
            "differently)",
        ),
    ] = DEFAULT_SPEED,
    example: Annotated[
        str, typer.Option(help="an examples/ strategy by name, or a path to a strategy YAML")
    ] = DEFAULT_EXAMPLE,
    data_dir: Annotated[
        Path | None, typer.Option(help="an empty or new directory (default: a fresh temp dir)")
    ] = None,
    free_ports: Annotated[
        bool, typer.Option("--free-ports/--no-free-ports", help="pick free ports for every service")
    ] = False,
    review: Annotated[
        bool, typer.Option("--review/--no-review", help="print the quarterly review at the end")
    ] = True,
    hold: Annotated[
        bool, typer.Option("--hold", help="keep the system running after the quarter (Ctrl-C)")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="show the services' logs")] = False,
) -> None:
    """Start the embedded system and play a scripted quarter at accelerated time: campaigns
    launch, spend and outcomes stream in, drifts open, the strategy answers one."""
    from truenorth.demo.run import DemoError, DemoOptions, run_demo
    from truenorth.demo.scenario import ScenarioError

    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 120)
    options = DemoOptions(
        seed=seed,
        speed=speed,
        example=example,
        data_dir=data_dir,
        free_ports=free_ports,
        review=review,
        hold=hold,
        verbose=verbose,
    )
    try:
        code = run_demo(options, console)
    except (DemoError, ScenarioError) as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    raise typer.Exit(code)
