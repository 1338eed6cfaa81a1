"""The strategy's invariants as pure functions over plain values.

Each returns FieldErrors with paths relative to the thing checked (`deadline`,
`channel_mix.tiktok`); callers nest them (`objectives[2].deadline`). The document, the
aggregate's commands and the plan all check through these, so they agree word for word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError, create_model

from truenorth.contract.common import Direction, ObjectiveSpec, PeriodPlan, kpi_kind_problems
from truenorth.contract.envelope import Frozen
from truenorth.strategy.domain.errors import FieldError, InvariantViolated, validation_errors

MIX_TOLERANCE = 0.01
"""How far from 100 % a channel mix may add up to (rounding in hand-written percentages)."""


@dataclass(frozen=True)
class Window:
    """A half-open time interval [start, end)."""

    key: str
    start: datetime
    end: datetime

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


def show_day(moment: datetime, *, inclusive_end: bool = False) -> str:
    """A UTC midnight as a date (an exclusive end as the day before), else ISO 8601."""
    utc = moment.astimezone(UTC)
    if utc.hour or utc.minute or utc.second or utc.microsecond:
        return utc.isoformat().replace("+00:00", "Z")
    day = utc.date() - timedelta(days=1) if inclusive_end else utc.date()
    return day.isoformat()


def show_window(start: datetime, end: datetime) -> str:
    return f"{show_day(start)} – {show_day(end, inclusive_end=True)}"


def objective_errors(
    *,
    start: datetime,
    deadline: datetime,
    baseline: float,
    target: float,
    direction: Direction,
    phasing: Mapping[str, float] | None,
    aggregation: str = "sum",
    numerator: str | None = None,
    denominator: str | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
) -> list[FieldError]:
    """Deadline after start; target differs from baseline, in the direction's way; phasing;
    the KPI kind's fields (a ratio names numerator and denominator)."""
    errors = deadline_errors(start, deadline)
    errors += target_errors(baseline=baseline, target=target, direction=direction)
    if phasing is not None:
        errors += phasing_errors(phasing, start, deadline)
    errors += kpi_kind_errors(aggregation, numerator, denominator, min_value, max_value)
    return errors


def kpi_kind_errors(
    aggregation: str,
    numerator: str | None,
    denominator: str | None,
    min_value: float | None = None,
    max_value: float | None = None,
) -> list[FieldError]:
    problems = kpi_kind_problems(aggregation, numerator, denominator, min_value, max_value)
    return [FieldError(field, message) for field, message in problems]


def deadline_errors(
    start: datetime, deadline: datetime, field: str = "deadline"
) -> list[FieldError]:
    if deadline > start:
        return []
    return [
        FieldError(
            field,
            f"{field} ({show_day(deadline, inclusive_end=True)}) must be after "
            f"start ({show_day(start)})",
        )
    ]


def target_errors(*, baseline: float, target: float, direction: Direction) -> list[FieldError]:
    if target == baseline:
        return [FieldError("target", f"target must differ from baseline ({baseline:g})")]
    if direction == "increase" and target < baseline:
        return [
            FieldError(
                "target",
                f"target {target:g} is below baseline {baseline:g}, but direction is 'increase'",
            )
        ]
    if direction == "decrease" and target > baseline:
        return [
            FieldError(
                "target",
                f"target {target:g} is above baseline {baseline:g}, but direction is 'decrease'",
            )
        ]
    return []


def phasing_errors(
    phasing: Mapping[str, float], start: datetime, deadline: datetime
) -> list[FieldError]:
    """Weights add up to more than zero; every month lies (at least partly) in the window."""
    errors: list[FieldError] = []
    if sum(phasing.values()) <= 0:
        errors.append(FieldError("phasing", "phasing weights must add up to more than zero"))
    window = Window("objective", start, deadline)
    for month in phasing:
        if not month_window(month).overlaps(window):
            errors.append(
                FieldError(
                    f"phasing.{month}",
                    f"month {month} lies outside the objective's window "
                    f"({show_window(start, deadline)})",
                )
            )
    return errors


def month_window(month: str) -> Window:
    year, number = (int(part) for part in month.split("-"))
    first = datetime(year, number, 1, tzinfo=UTC)
    after = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return Window(month, first, after)


def period_errors(
    *,
    start: datetime,
    end: datetime,
    channel_mix: Mapping[str, float],
    allowed_channels: Sequence[str],
) -> list[FieldError]:
    """End after start; the mix sums to 100 % and only names allowed channels (if any are set)."""
    return deadline_errors(start, end, "end") + channel_mix_errors(channel_mix, allowed_channels)


def channel_mix_errors(
    channel_mix: Mapping[str, float], allowed_channels: Sequence[str]
) -> list[FieldError]:
    errors: list[FieldError] = []
    total = sum(channel_mix.values())
    if channel_mix and abs(total - 100) > MIX_TOLERANCE:
        errors.append(FieldError("channel_mix", f"channel mix must sum to 100 %, not {total:g} %"))
    if allowed_channels:
        allowed = ", ".join(allowed_channels)
        errors += [
            FieldError(
                f"channel_mix.{channel}",
                f"channel '{channel}' is not among the allowed channels ({allowed})",
            )
            for channel in channel_mix
            if channel not in allowed_channels
        ]
    return errors


def overlap_errors(candidate: Window, others: Iterable[Window]) -> list[FieldError]:
    """`candidate` must not overlap any of `others` (periods are half-open, so they may touch)."""
    return [
        FieldError(
            "start",
            f"period '{candidate.key}' ({show_window(candidate.start, candidate.end)}) overlaps "
            f"period '{other.key}' ({show_window(other.start, other.end)})",
        )
        for other in others
        if candidate.overlaps(other)
    ]


def duplicate_errors(
    ids: Sequence[str], what: str, places: Sequence[str], field: str = "id"
) -> dict[int, FieldError]:
    """Position of every repeat -> its error (the first occurrence is the one that stands);
    `places[i]` names where ids[i] was written, for the message."""
    first: dict[str, int] = {}
    errors: dict[int, FieldError] = {}
    for index, key in enumerate(ids):
        if key in first:
            errors[index] = FieldError(
                field, f"duplicate {what} id '{key}' (first at {places[first[key]]})"
            )
        else:
            first[key] = index
    return errors


# --------------------------------------------------------------------------------------------
# Builders: shape first (pydantic, with paths), then invariants (with paths), then the contract
# type. The contract's own validators would raise path-less errors, so they run last.


def _shape_of(model: type[BaseModel]) -> type[BaseModel]:
    fields: dict[str, Any] = {name: (f.annotation, f) for name, f in model.model_fields.items()}
    return create_model(f"{model.__name__}Shape", __base__=Frozen, **fields)


_OBJECTIVE_SHAPE = _shape_of(ObjectiveSpec)
_PERIOD_SHAPE = _shape_of(PeriodPlan)


def build_objective(values: Mapping[str, Any] | ObjectiveSpec) -> ObjectiveSpec:
    """An ObjectiveSpec from plain values, or InvariantViolated listing every problem."""
    shape = _validate_shape(_OBJECTIVE_SHAPE, values)
    errors = objective_errors(
        start=shape.start,
        deadline=shape.deadline,
        baseline=shape.baseline,
        target=shape.target,
        direction=shape.direction,
        phasing=shape.phasing,
        aggregation=shape.aggregation,
        numerator=shape.numerator,
        denominator=shape.denominator,
        min_value=shape.min_value,
        max_value=shape.max_value,
    )
    if errors:
        raise InvariantViolated.from_errors(errors)
    return ObjectiveSpec.model_validate(shape.model_dump())


def build_period(
    values: Mapping[str, Any] | PeriodPlan, allowed_channels: Sequence[str]
) -> PeriodPlan:
    """A PeriodPlan from plain values, or InvariantViolated listing every problem."""
    shape = _validate_shape(_PERIOD_SHAPE, values)
    errors = period_errors(
        start=shape.start,
        end=shape.end,
        channel_mix=shape.channel_mix,
        allowed_channels=allowed_channels,
    )
    if errors:
        raise InvariantViolated.from_errors(errors)
    return PeriodPlan.model_validate(shape.model_dump())


def _validate_shape(shape: type[BaseModel], values: Mapping[str, Any] | BaseModel) -> Any:
    raw = values.model_dump() if isinstance(values, BaseModel) else dict(values)
    try:
        return shape.model_validate(raw)
    except ValidationError as error:
        raise InvariantViolated.from_errors(validation_errors(error)) from None
