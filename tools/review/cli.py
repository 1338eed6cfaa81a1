"""`truenorth review`: the quarterly strategy-to-tactics review, from the event log only.

Registered by the `truenorth` CLI (shared/cli.py): `app.command("review")(review_command)`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class ReviewFormat(StrEnum):
    html = "html"
    md = "md"
    json = "json"
    pdf = "pdf"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def review_command(
    period: Annotated[
        str,
        typer.Option(
            "--period",
            help="2026-Q4, a month (2026-11), days (2026-10-01..2026-12-31) or one of the "
            "strategy's planning periods by id (winter-26)",
        ),
    ],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="review as of this date or time (a bare date means the end of that day); "
            "default: the end of the period, or now while it runs",
        ),
    ] = None,
    output_format: Annotated[
        ReviewFormat,
        typer.Option(
            "--format", help="html, md, json (the numbers) or pdf (needs --out and Chromium)"
        ),
    ] = ReviewFormat.md,
    workspace: Annotated[str | None, typer.Option(help="default: TRUENORTH_WORKSPACE")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="only this strategy (default: every strategy)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="write here instead of standard output")
    ] = None,
) -> None:
    """Review of a month, a quarter or a strategy's own period: per objective progress, pace
    and forecast, campaigns per dollar, channel mix plan vs actual, drifts and how they were
    answered, check-ins, and strategy changes."""
    from truenorth.review.build import (
        Period,
        build_review,
        default_as_of,
        dump_summary,
        is_calendar_period,
        parse_as_of,
        parse_period,
        plan_period,
    )
    from truenorth.review.pdf import PdfError, render_pdf
    from truenorth.review.render_html import render_html
    from truenorth.review.render_md import render_markdown
    from truenorth.review.source import load_events
    from truenorth.settings import SettingsError, SharedSettings, load

    if output_format is ReviewFormat.pdf and out is None:
        _fail("--format pdf writes a file: name it with --out review.pdf")
    try:
        window: Period | None = parse_period(period) if is_calendar_period(period) else None
        moment = None if as_of is None else parse_as_of(as_of)
        shared = load(SharedSettings)
    except (ValueError, SettingsError) as exc:
        _fail(str(exc))
        return
    name = workspace or shared.workspace
    try:
        events = asyncio.run(load_events(shared, name))
    except ConnectionError as exc:  # already names the server and the reason
        _fail(str(exc))
        return
    except Exception as exc:
        _fail(f"cannot read the event log at {shared.nats_url}: {exc}")
        return
    try:
        window = window or plan_period(events, period)
        if moment is None:
            moment = default_as_of(events, window, datetime.now(UTC))
        review = build_review(events, window, moment, workspace=name, strategy_id=strategy)
    except LookupError as exc:
        _fail(str(exc.args[0] if exc.args else exc))
        return
    summary = f"{len(review.objectives)} objectives, as of {review.as_of}"
    if output_format is ReviewFormat.pdf:
        assert out is not None
        try:
            size = render_pdf(render_html(review), out)
        except PdfError as exc:
            _fail(str(exc))
            return
        typer.echo(f"wrote {out} ({size:,} bytes, {summary})")
        return
    if output_format is ReviewFormat.html:
        text = render_html(review)
    elif output_format is ReviewFormat.json:
        text = dump_summary(review.summary())
    else:
        text = render_markdown(review)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out} ({summary})")


def register(app: typer.Typer) -> None:
    app.command("review")(review_command)
