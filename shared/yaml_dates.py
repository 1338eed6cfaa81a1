"""YAML read with dates kept as text, so a date is read in one place (`truenorth.timeparse`)
by what the field is (a start, an end), not by PyYAML (which turns 2026-12-31 into a date and
2026-13-45 into an error naming no field)."""

from __future__ import annotations

import yaml


class DatesAsText(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver."""


DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
