"""Strategy as code: the YAML document for one strategy, its validation and JSON Schema.

`load_document(text, filename)` parses YAML (JSON is YAML too), validates the shape with
pydantic, then checks every whole-document invariant, and raises `DocumentInvalid` with every
problem at once, each with its path (`objectives[2].deadline`) and line. Dates may be written as
`YYYY-MM-DD`: a `start` is that day's 00:00 UTC, an `end`/`deadline` the end of that day (the
next day's 00:00 UTC, since windows are half-open), or as ISO 8601 datetimes with an offset.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from truenorth.contract.common import (
    Aggregation,
    Direction,
    Figure,
    Guardrails,
    Kpi,
    Money,
    MonthKey,
    ObjectiveSpec,
    PeriodPlan,
    Share,
)
from truenorth.contract.envelope import LongText, ShortText, Slug
from truenorth.contract.strategy import StrategyDocumentFields
from truenorth.strategy.domain.errors import DocumentInvalid, FieldError, dotted
from truenorth.strategy.domain.invariants import (
    Window,
    channel_mix_errors,
    deadline_errors,
    duplicate_errors,
    kpi_kind_errors,
    overlap_errors,
    phasing_errors,
    target_errors,
)
from truenorth.timeparse import IN_UTC, DayEnd, DayStart

__all__ = [
    "DocumentInvalid",
    "EndMoment",
    "ObjectiveDocument",
    "PeriodDocument",
    "StartMoment",
    "StrategyDocument",
    "document_json_schema",
    "load_document",
    "parse_document",
]

Loc = tuple[str | int, ...]
ROOT = "(document)"
SCHEMA_ID = "https://truenorth.dev/schemas/strategy-document.json"

# --------------------------------------------------------------------------------------------
# Dates: a calendar day or an aware datetime, always stored in UTC (truenorth.timeparse).

StartMoment = Annotated[DayStart, IN_UTC]
EndMoment = Annotated[DayEnd, IN_UTC]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]

# --------------------------------------------------------------------------------------------
# The document model (shape only; the invariants are checked by `_invariant_errors`).


class _DocumentModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PeriodDocument(_DocumentModel):
    """A planning period: its budget and the planned share of each channel."""

    id: Slug = Field(description="Unique within the strategy, e.g. 2026-q4")
    start: StartMoment
    end: EndMoment
    budget: Money = Field(description="Total budget of the period, in currency units")
    channel_mix: dict[Slug, Share] = Field(
        default_factory=dict,
        description="Planned percent of the budget per channel; sums to 100, allowed channels",
    )

    def to_plan(self) -> PeriodPlan:
        return PeriodPlan(
            period_id=self.id,
            start=self.start,
            end=self.end,
            budget=self.budget,
            channel_mix=dict(self.channel_mix),
        )


class ObjectiveDocument(_DocumentModel):
    """A high-level objective (docs/design.md#the-domain)."""

    id: Slug = Field(description="Unique within the strategy; campaigns link to it")
    name: Name
    kpi: Kpi = Field(description="leads, revenue, conversions, signups, awareness_pct, … or custom")
    aggregation: Aggregation = Field(
        default="sum",
        description="sum: counts added over the window (leads, revenue); latest: a level "
        "(awareness %, share); ratio: Σ numerator / Σ denominator over the window "
        "(CAC = spend / new_customers)",
    )
    numerator: Kpi | None = Field(
        default=None, description="ratio KPIs only: the metric above the line, e.g. spend"
    )
    denominator: Kpi | None = Field(
        default=None, description="ratio KPIs only: the metric below the line, e.g. new_customers"
    )
    min_value: Figure | None = Field(
        default=None,
        description="The lowest value the KPI can take; bounds forecasts (default 0 for "
        "latest and ratio KPIs)",
    )
    max_value: Figure | None = Field(
        default=None,
        description="The highest value the KPI can take, e.g. 1 for a rate or 100 for a percentage",
    )
    baseline: Figure = 0.0
    target: Figure
    direction: Direction = "increase"
    start: StartMoment
    deadline: EndMoment
    phasing: dict[MonthKey, Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = Field(
        default=None, description='Monthly weights {"YYYY-MM": weight}; default linear'
    )
    cost_per_outcome: Money | None = Field(default=None, description="Planned cost per unit")
    owner: ShortText = ""
    guardrails: Guardrails | None = Field(
        default=None, description="Overrides of the strategy's guardrails for this objective"
    )

    def to_spec(self) -> ObjectiveSpec:
        return ObjectiveSpec(
            objective_id=self.id,
            name=self.name,
            kpi=self.kpi,
            aggregation=self.aggregation,
            numerator=self.numerator,
            denominator=self.denominator,
            min_value=self.min_value,
            max_value=self.max_value,
            baseline=self.baseline,
            target=self.target,
            direction=self.direction,
            start=self.start,
            deadline=self.deadline,
            phasing=None if self.phasing is None else dict(self.phasing),
            cost_per_outcome=self.cost_per_outcome,
            owner=self.owner,
            guardrails=self.guardrails if self.guardrails != Guardrails() else None,
        )


class StrategyDocument(_DocumentModel):
    """One strategy, as code: the living strategy document."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="truenorth strategy document")

    id: Slug = Field(description="The strategy's id (stable: it names the event stream subject)")
    name: Name
    owner: ShortText = ""
    mission: LongText = ""
    value_proposition: LongText = ""
    key_messages: tuple[ShortText, ...] = ()
    target_segments: tuple[Slug, ...] = Field(
        default=(), description="Audience segments campaigns should address"
    )
    allowed_channels: tuple[Slug, ...] = Field(
        default=(), description="Channels budget may go to; empty means any channel"
    )
    periods: tuple[PeriodDocument, ...] = ()
    objectives: tuple[ObjectiveDocument, ...] = ()
    guardrails: Guardrails = Field(
        default_factory=Guardrails,
        description="Strategy-wide thresholds (docs/design.md#guardrails-against-noise)",
    )

    _filename: str = PrivateAttr(default="<document>")
    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)

    @property
    def filename(self) -> str:
        return self._filename

    def header(self) -> StrategyDocumentFields:
        return StrategyDocumentFields(
            name=self.name,
            owner=self.owner,
            mission=self.mission,
            value_proposition=self.value_proposition,
            key_messages=self.key_messages,
            target_segments=self.target_segments,
            allowed_channels=self.allowed_channels,
        )

    def objective_specs(self) -> list[ObjectiveSpec]:
        return [objective.to_spec() for objective in self.objectives]

    def period_plans(self) -> list[PeriodPlan]:
        return [period.to_plan() for period in self.periods]

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc` or of its nearest ancestor, when the document came from text."""
        return line_of_loc(self._lines, loc)

    def error_at(self, loc: Loc, message: str, type_: str = "invariant") -> FieldError:
        return FieldError(dotted(loc) or ROOT, message, type_, self.line_of(loc))

    def objective_loc(self, objective_id: str) -> Loc:
        index = next(i for i, o in enumerate(self.objectives) if o.id == objective_id)
        return ("objectives", index)


# --------------------------------------------------------------------------------------------
# Loading


MAX_YAML_NODES = 20_000
"""A strategy document has a few hundred nodes; YAML aliases can make a 400-byte document
expand to billions ("billion laughs"). Counted while the expanded tree is walked, before
anything is built from it."""


def decode_document(raw: bytes, filename: str = "<document>") -> str:
    """UTF-8 text of a document (a UTF-8 BOM is accepted); anything else is refused naming the
    encoding problem and the line, instead of being stored as replacement characters."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = (
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): save the "
            "document as UTF-8 (a Latin-1 or Windows-1252 file is not)"
        )
        raise DocumentInvalid(filename, [FieldError(ROOT, message, "encoding", line)]) from None


def load_document(text: str, filename: str = "<document>") -> StrategyDocument:
    """Parse and validate a YAML (or JSON) strategy document; DocumentInvalid lists every error."""
    data, lines, errors = parse_yaml(text)
    if errors:
        raise DocumentInvalid(filename, errors)
    return parse_document(data, filename=filename, lines=lines)


def parse_document(
    data: Any, *, filename: str = "<document>", lines: Mapping[Loc, int] | None = None
) -> StrategyDocument:
    """Validate already-parsed data (e.g. a JSON request body) as a strategy document."""
    line_map = dict(lines or {})
    if not isinstance(data, Mapping):
        message = "a strategy document is a mapping (id, name, objectives, …) at its top level"
        raise DocumentInvalid(filename, [FieldError(ROOT, message, "type", line_map.get(()))])
    document: StrategyDocument | None = None
    errors: list[FieldError] = []
    try:
        document = StrategyDocument.model_validate(data)
    except ValidationError as error:
        errors += _shape_errors(error, line_map)
    errors += [_located(loc, e, line_map) for loc, e in _invariant_errors(data)]
    if errors:
        raise DocumentInvalid(filename, _unique(errors))
    assert document is not None
    document._filename = filename
    document._lines = line_map
    return document


def document_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of the document, for editors (yaml-language-server, VS Code, …)."""
    schema = StrategyDocument.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "description": (
            "One marketing strategy as code: mission, audiences, channels, budget periods with "
            "their channel mix, objectives and guardrails. Applied with `truenorth apply`."
        ),
    }


# --------------------------------------------------------------------------------------------
# YAML with line numbers


class _Loader(yaml.SafeLoader):
    """SafeLoader with dates kept as text, so a date is read in one place
    (`truenorth.timeparse`) by what the field is (a start, an end), not by PyYAML (which turns
    2026-12-31 into a date and 2026-13-45 into an error naming no field)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_yaml(text: str) -> tuple[Any, dict[Loc, int], list[FieldError]]:
    """(data with dates as text, path -> 1-based line, YAML errors); the rule generators read
    strategy files with it too."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {(): 1}, []
        lines, errors = _line_map(node)
        return loader.construct_document(node), lines, errors
    except _TooLarge as too_large:
        return None, {}, [too_large.error]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"not valid YAML: {error.problem or error.context or error}"
        return None, {}, [FieldError(ROOT, message, "yaml", line)]
    except yaml.YAMLError as error:
        return None, {}, [FieldError(ROOT, f"not valid YAML: {error}", "yaml")]
    finally:
        loader.dispose()


def _line_map(root: yaml.Node) -> tuple[dict[Loc, int], list[FieldError]]:
    """path -> 1-based line of every key and list item; duplicate keys are errors."""
    lines: dict[Loc, int] = {(): root.start_mark.line + 1}
    errors: list[FieldError] = []
    stack: list[tuple[Loc, yaml.Node]] = [((), root)]
    while stack:
        loc, node = stack.pop()
        for child_loc, line, child in _children(loc, node):
            if len(lines) > MAX_YAML_NODES:
                message = (
                    f"the document expands to more than {MAX_YAML_NODES} nodes (YAML aliases "
                    "repeating anchors?): refused"
                )
                raise _TooLarge(FieldError(dotted(child_loc), message, "yaml", line))
            if child_loc in lines and isinstance(node, yaml.MappingNode):
                message = f"duplicate key '{child_loc[-1]}' (first at line {lines[child_loc]})"
                errors.append(FieldError(dotted(child_loc), message, "yaml", line))
                continue
            lines[child_loc] = line
            stack.append((child_loc, child))
    return lines, errors


class _TooLarge(Exception):
    def __init__(self, error: FieldError) -> None:
        super().__init__(error.message)
        self.error = error


def _children(loc: Loc, node: yaml.Node) -> Iterator[tuple[Loc, int, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield (*loc, key.value), key.start_mark.line + 1, value
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*loc, index), item.start_mark.line + 1, item


def line_of_loc(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


# --------------------------------------------------------------------------------------------
# Errors


def _shape_errors(error: ValidationError, lines: Mapping[Loc, int]) -> list[FieldError]:
    result = []
    for item in error.errors(include_url=False):
        loc: Loc = tuple(part for part in item["loc"] if part != "[key]")
        message = _friendly(item)
        line = line_of_loc(lines, loc)
        result.append(FieldError(dotted(loc) or ROOT, message, item["type"], line))
    return result


def _friendly(item: Mapping[str, Any]) -> str:
    if item["type"] == "extra_forbidden":
        return "unknown field (not part of the strategy document format)"
    if item["type"] == "missing":
        return "required field is missing"
    return str(item["msg"]).removeprefix("Value error, ")


def _located(loc: Loc, error: FieldError, lines: Mapping[Loc, int]) -> FieldError:
    full: Loc = (*loc, *error.path.split("."))
    return FieldError(dotted(full), error.message, error.type, line_of_loc(lines, full))


def _unique(errors: Sequence[FieldError]) -> list[FieldError]:
    return list(dict.fromkeys(errors))


_ADAPTERS: dict[tuple[type[BaseModel], str], TypeAdapter[Any]] = {}
Values = dict[str, Any]
"""The fields of one list item that are valid on their own (absent optional ones: defaults)."""


def _invariant_errors(data: Mapping[str, Any]) -> list[tuple[Loc, FieldError]]:
    """Whole-document rules, run on every field that is valid on its own, so one broken field
    does not hide the rule violations of its neighbours."""
    header = _field_values(StrategyDocument, data)
    objectives = _items(ObjectiveDocument, data.get("objectives"))
    periods = _items(PeriodDocument, data.get("periods"))
    return (
        [(("objectives", i), e) for i, values in objectives for e in _objective_rules(values)]
        + _period_rules(periods, header.get("allowed_channels", ()))
        + _duplicates("objectives", "objective", objectives)
        + _duplicates("periods", "period", periods)
    )


def _objective_rules(v: Values) -> list[FieldError]:
    errors: list[FieldError] = []
    if {"start", "deadline"} <= v.keys():
        errors += deadline_errors(v["start"], v["deadline"])
    if {"baseline", "target", "direction"} <= v.keys():
        errors += target_errors(
            baseline=v["baseline"], target=v["target"], direction=v["direction"]
        )
    if v.get("phasing") is not None and {"start", "deadline"} <= v.keys():
        errors += phasing_errors(v["phasing"], v["start"], v["deadline"])
    if "aggregation" in v:
        errors += kpi_kind_errors(
            v["aggregation"],
            v.get("numerator"),
            v.get("denominator"),
            v.get("min_value"),
            v.get("max_value"),
        )
    return errors


def _period_rules(
    periods: Sequence[tuple[int, Values]], allowed_channels: Sequence[str]
) -> list[tuple[Loc, FieldError]]:
    errors: list[tuple[Loc, FieldError]] = []
    seen: list[Window] = []
    for index, v in periods:
        found: list[FieldError] = []
        if "channel_mix" in v:
            found += channel_mix_errors(v["channel_mix"], allowed_channels)
        if {"start", "end"} <= v.keys():
            found += deadline_errors(v["start"], v["end"], "end")
        if {"id", "start", "end"} <= v.keys() and v["end"] > v["start"]:
            window = Window(v["id"], v["start"], v["end"])
            found += overlap_errors(window, seen)
            seen.append(window)
        errors += [(("periods", index), error) for error in found]
    return errors


def _duplicates(
    collection: str, what: str, items: Sequence[tuple[int, Values]]
) -> list[tuple[Loc, FieldError]]:
    ids = [(index, v["id"]) for index, v in items if "id" in v]
    places = [f"{collection}[{index}]" for index, _ in ids]
    repeats = duplicate_errors([key for _, key in ids], what, places)
    return [((collection, ids[position][0]), error) for position, error in repeats.items()]


def _items(model: type[BaseModel], raw: Any) -> list[tuple[int, Values]]:
    if not isinstance(raw, list):
        return []
    return [(index, _field_values(model, item)) for index, item in enumerate(raw)]


def _field_values(model: type[BaseModel], raw: Any) -> Values:
    if not isinstance(raw, Mapping):
        return {}
    values: Values = {}
    for name, info in model.model_fields.items():
        if name in raw:
            try:
                values[name] = _adapter(model, name).validate_python(raw[name])
            except ValidationError:
                continue
        elif not info.is_required():
            values[name] = info.get_default(call_default_factory=True)
    return values


def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    key = (model, name)
    if key not in _ADAPTERS:
        info = model.model_fields[name]
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        _ADAPTERS[key] = TypeAdapter(annotation)
    return _ADAPTERS[key]
