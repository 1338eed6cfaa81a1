"""The mapping file: which tap stream becomes which truenorth observations.

```yaml
streams:
  ads_insights:                      # the tap's stream name
    preset: facebook_ads_insights    # start from a built-in preset (presets.yaml) ...
    campaign_ids: {"23851234": spring-webinar}   # ... and override what differs
    metrics:
      leads: {actions: [lead, onsite_conversion.lead_grouped]}
```

Every error names the line of the mapping file it comes from (`mapping.yaml:7: streams.ads_insights
.metrics.leads: ...`). Streams named like a preset's tap stream are mapped without a file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

Loc = tuple[str | int, ...]
KPI_PATTERN = r"^[a-z][a-z0-9_]*$"
SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
Kpi = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=KPI_PATTERN)]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
RecordPath = Annotated[str, StringConstraints(min_length=1, max_length=200)]

DEFAULT_STREAM_PRESETS = {
    "ads_insights": "facebook_ads_insights",
    "campaign_performance_report": "google_ads_campaign_performance_report",
    "ad_analytics_by_campaign": "linkedin_ad_analytics_by_campaign",
}
"""Tap stream name → the preset used when no mapping file names that stream."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricRule(_Strict):
    """One metric of a record: a field (`path`, dotted for nested objects), or the sum of the
    `value`s of the entries of an actions list whose `action_type` is listed."""

    path: RecordPath | None = None
    actions: list[str] | None = Field(default=None, min_length=1)
    actions_field: RecordPath = "actions"
    scale: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> MetricRule:
        if (self.path is None) == (self.actions is None):
            raise ValueError("give exactly one of path or actions")
        return self


class PeriodRule(_Strict):
    """Where the reporting period is. Dates are whole days in UTC; without `end` a row covers
    one day from `start`; `end_is_inclusive_day` reads `end` as the last day of the period."""

    start: RecordPath
    end: RecordPath | None = None
    end_is_inclusive_day: bool = False


class ValueRule(_Strict):
    """A constant (`value`) or a record field (`path`, numbers optionally scaled)."""

    path: RecordPath | None = None
    value: str | float | None = None
    scale: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> ValueRule:
        if (self.path is None) == (self.value is None):
            raise ValueError("give exactly one of path or value")
        return self


class LaunchRule(_Strict):
    """A campaigns stream (e.g. tap-facebook `campaigns`) → `launch` commands."""

    name: RecordPath | None = None
    channel: ValueRule
    segment: ValueRule
    budget: ValueRule
    start: RecordPath
    end: RecordPath | None = None
    days_without_end: int = Field(default=90, ge=1, le=3660)
    """How long a campaign without an end date (an ongoing one) is planned to run."""
    objective_ids: list[Slug] = Field(default_factory=list)
    status: Literal["planned", "live"] = "live"


class StreamMapping(_Strict):
    preset: str | None = None
    kind: Literal["observations", "campaigns"] = "observations"
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    campaign_id: RecordPath
    """Record path of the platform's campaign id."""
    campaign_ids: dict[str, Slug] = Field(default_factory=dict)
    """Platform campaign id → truenorth campaign id; ids not listed pass through (with prefix)."""
    campaign_prefix: Annotated[
        str, StringConstraints(max_length=32, pattern=r"^[A-Za-z0-9_-]*$")
    ] = ""
    period: PeriodRule | None = None
    metrics: dict[Kpi, MetricRule] = Field(default_factory=dict)
    launch: LaunchRule | None = None

    @model_validator(mode="after")
    def _complete_for_its_kind(self) -> StreamMapping:
        if self.kind == "observations" and (self.period is None or not self.metrics):
            raise ValueError("an observations stream needs period and metrics")
        if self.kind == "campaigns" and self.launch is None:
            raise ValueError("a campaigns stream needs launch")
        return self


class MappingDocument(_Strict):
    streams: dict[str, StreamMapping] = Field(default_factory=dict)


@dataclass(frozen=True)
class MappingError:
    path: str
    message: str
    line: int | None = None

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line is not None else filename
        return f"{where}: {self.path or '(file)'}: {self.message}"


class MappingInvalid(Exception):
    def __init__(self, filename: str, errors: list[MappingError]) -> None:
        self.filename = filename
        self.errors = errors
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(error.render(self.filename) for error in self.errors)


@dataclass(frozen=True)
class StreamMap:
    """The streams this run maps: the file's, plus every default preset stream it leaves out."""

    streams: Mapping[str, StreamMapping]

    def for_stream(self, stream: str) -> StreamMapping | None:
        return self.streams.get(stream)


# ---------------------------------------------------------------------------------- presets


def preset_documents() -> dict[str, dict[str, Any]]:
    text = resources.files("truenorth.singer").joinpath("presets.yaml").read_text()
    return yaml.safe_load(text)


def preset(name: str) -> StreamMapping:
    return StreamMapping.model_validate(preset_documents()[name])


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`, key by key for nested mappings; a null removes the key."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


# ---------------------------------------------------------------------------------- loading


def load_mapping(text: str | None, filename: str = "<mapping>") -> StreamMap:
    """The run's mapping: the document's streams (each merged over its `preset`) plus the
    default preset for each preset stream the document does not name. Raises MappingInvalid."""
    data: Any = {}
    lines: dict[Loc, int] = {}
    if text is not None:
        data, lines = _parse(text, filename)
    return mapping_from_data(data, filename, lines)


def mapping_from_data(
    data: Any, filename: str = "<mapping>", lines: Mapping[Loc, int] | None = None
) -> StreamMap:
    lines = lines or {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MappingInvalid(filename, [MappingError("", "the mapping must be a YAML mapping", 1)])
    presets = preset_documents()
    errors: list[MappingError] = []
    resolved: dict[str, Any] = dict(data)
    streams = data.get("streams")
    if isinstance(streams, dict):
        resolved["streams"] = {}
        for stream, entry in streams.items():
            resolved["streams"][stream] = _with_preset(stream, entry, presets, lines, errors)
    if errors:
        raise MappingInvalid(filename, errors)
    try:
        document = MappingDocument.model_validate(resolved)
    except ValidationError as exc:
        raise MappingInvalid(filename, _located(exc, lines)) from None
    mapped = dict(document.streams)
    for stream, name in DEFAULT_STREAM_PRESETS.items():
        mapped.setdefault(stream, StreamMapping.model_validate(presets[name]))
    return StreamMap(mapped)


def _with_preset(
    stream: Any,
    entry: Any,
    presets: Mapping[str, Any],
    lines: Mapping[Loc, int],
    errors: list[MappingError],
) -> Any:
    if not isinstance(entry, dict) or "preset" not in entry:
        return entry
    name = entry["preset"]
    if name not in presets:
        loc: Loc = ("streams", stream, "preset")
        known = ", ".join(sorted(presets))
        errors.append(
            MappingError(
                _dotted(loc), f"unknown preset {name!r}: one of {known}", _line(lines, loc)
            )
        )
        return entry
    return _merged(presets[name], entry)


def _located(exc: ValidationError, lines: Mapping[Loc, int]) -> list[MappingError]:
    errors = []
    for item in exc.errors(include_url=False):
        loc = tuple(
            part
            for part in item["loc"]
            if part != "[key]" and not str(part).startswith("function-")
        )
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "string_pattern_mismatch":
            # the pattern literally (a terminal's markup would eat the brackets)
            pattern = item.get("ctx", {}).get("pattern", "")
            message = f"{item.get('input')!r} does not match the pattern {pattern}"
        errors.append(MappingError(_dotted(loc), message, _line(lines, loc)))
    return errors


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def _parse(text: str, filename: str) -> tuple[Any, dict[Loc, int]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise MappingInvalid(
            filename, [MappingError("", f"not valid YAML: {exc.problem or exc}", line)]
        ) from None
    except yaml.YAMLError as exc:
        raise MappingInvalid(filename, [MappingError("", f"not valid YAML: {exc}")]) from None
    if root is None:
        return data, {}
    lines: dict[Loc, int] = {(): root.start_mark.line + 1}
    errors: list[MappingError] = []
    for loc, line, duplicate in _walk((), root):
        if duplicate:
            errors.append(
                MappingError(_dotted(loc), f"duplicate key (first at line {lines[loc]})", line)
            )
        else:
            lines[loc] = line
    if errors:
        raise MappingInvalid(filename, errors)
    return data, lines


def _walk(loc: Loc, node: yaml.Node) -> Iterator[tuple[Loc, int, bool]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            child = (*loc, name)
            yield child, key.start_mark.line + 1, name in seen
            seen.add(name)
            yield from _walk(child, value)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*loc, index)
            yield child, item.start_mark.line + 1, False
            yield from _walk(child, item)
