"""`truenorth brief --week`: the weekly brief, from the event log (and the alignment service's
recommendations when it can be reached), as Markdown or HTML, optionally posted to a
Slack-compatible incoming webhook.

Registered by the `truenorth` CLI (shared/cli.py): `app.command("brief")(brief_command)`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class BriefFormat(StrEnum):
    md = "md"
    html = "html"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def brief_command(
    week: Annotated[
        bool, typer.Option("--week", help="the brief of the seven days ending at --as-of")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="the week ends at this date or time (a bare date: the end of that day); "
            "default: now",
        ),
    ] = None,
    workspace: Annotated[str | None, typer.Option(help="default: TRUENORTH_WORKSPACE")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="only this strategy (default: every strategy)")
    ] = None,
    output_format: Annotated[BriefFormat, typer.Option("--format", help="md or html")] = (
        BriefFormat.md
    ),
    out: Annotated[
        Path | None, typer.Option("--out", help="write here instead of standard output")
    ] = None,
    post: Annotated[
        str | None,
        typer.Option("--post", help="also POST it to this Slack-compatible incoming webhook URL"),
    ] = None,
    alignment_url: Annotated[
        str | None,
        typer.Option(
            "--alignment-url",
            help="where the incidents' recommendations are read (default: "
            "TRUENORTH_ALIGNMENT_URL or what `truenorth up` recorded)",
        ),
    ] = None,
) -> None:
    """Weekly brief: what moved, what drifted, what was answered, what needs a decision."""
    from truenorth.brief.post import PostError, post_brief, redact
    from truenorth.brief.render import render_html, render_markdown, slack_payload
    from truenorth.brief.run import BriefRequest, make_brief
    from truenorth.endpoints import service_url
    from truenorth.review.build import parse_as_of
    from truenorth.settings import SettingsError, SharedSettings, load

    if not week:
        _fail("say which brief: --week (the seven days ending at --as-of) is the one there is")
    if post is not None and not post.startswith(("http://", "https://")):
        _fail(f"--post {post!r}: a webhook URL starts with https:// (or http://)")
    try:
        moment = datetime.now(UTC) if as_of is None else parse_as_of(as_of)
        shared = load(SharedSettings)
    except (ValueError, SettingsError) as exc:
        _fail(str(exc))
        return
    request = BriefRequest(
        workspace or shared.workspace,
        strategy,
        moment,
        alignment_url or service_url("alignment", ""),
    )

    def warn(message: str) -> None:
        typer.echo(f"warning: {message}", err=True)

    try:
        brief = make_brief(shared, request, warn)
    except ConnectionError as exc:  # already names the server and the reason
        _fail(str(exc))
        return
    except LookupError as exc:
        _fail(str(exc.args[0] if exc.args else exc))
        return
    text = render_html(brief) if output_format is BriefFormat.html else render_markdown(brief)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out} (week ending {brief.week.label.split('..')[-1]})", err=True)
    if post is not None:
        try:
            post_brief(post, slack_payload(brief))
        except PostError as exc:
            _fail(str(exc))
            return
        typer.echo(f"posted to {redact(post)}", err=True)


def register(app: typer.Typer) -> None:
    app.command("brief")(brief_command)
