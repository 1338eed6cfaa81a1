"""The page's Jinja2 environment: templates beside this module, every value autoescaped
(HTML and the inline SVG chart), undefined names an error rather than an empty string."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from truenorth.alignment.page.fmt import FILTERS

TEMPLATES = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(FILTERS)


def render(template: str, **values: Any) -> str:
    return environment.get_template(template).render(**values)
