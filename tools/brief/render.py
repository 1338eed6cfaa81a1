"""The brief in three skins of one story (`truenorth.brief.story`): Markdown, a self-contained
HTML page (Jinja2, autoescaped) and a Slack-compatible webhook payload (mrkdwn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from truenorth.brief import story
from truenorth.brief.build import Brief
from truenorth.review import fmt

_ENV = Environment(
    # beside this module, so the package data glob `*.html` ships it in the wheel
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=select_autoescape(("html",), default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_markdown(brief: Brief) -> str:
    lines = [f"# {fmt.md(story.title(brief))}", "", story.subtitle(brief, fmt.md), ""]
    lines += [f"**{story.headline(brief)}**", ""]
    for section in story.sections(brief, fmt.md):
        lines += [f"## {section.title}", ""]
        lines += [f"- {line}" for line in section.lines] or [f"_{section.empty}_"]
        lines.append("")
    return "\n".join(lines)


def render_html(brief: Brief) -> str:
    return _ENV.get_template("brief.html").render(
        title=story.title(brief),
        subtitle=story.subtitle(brief),
        headline=story.headline(brief),
        sections=story.sections(brief),
    )


def slack_escape(text: object) -> str:
    """Slack's mrkdwn control characters: `&`, `<` and `>` (a `<url|label>` is a link)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


MAX_BLOCK_TEXT = 3000
"""Slack refuses a section block whose text is longer."""


def slack_payload(brief: Brief) -> dict[str, Any]:
    """`{"text": …, "blocks": […]}` for a Slack-compatible incoming webhook: `text` is the
    whole brief in mrkdwn (what receivers without blocks show), `blocks` one section each."""
    sections = story.sections(brief, slack_escape)
    header = f"*{slack_escape(story.title(brief))}*\n{story.subtitle(brief, slack_escape)}"
    bodies = [
        f"*{s.title}*\n" + ("\n".join(f"• {line}" for line in s.lines) or f"_{s.empty}_")
        for s in sections
    ]
    text = "\n\n".join([header, story.headline(brief), *bodies])
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(header)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": story.headline(brief)}]},
    ]
    for body in bodies:
        blocks.append({"type": "divider"})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(body)}})
    return {"text": text, "blocks": blocks}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_BLOCK_TEXT else text[: MAX_BLOCK_TEXT - 1] + "…"
