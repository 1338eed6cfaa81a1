"""Metric context events (METRICS stream, aggregate = campaign_id)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints, model_validator

from truenorth.contract.common import Figure, Kpi
from truenorth.contract.envelope import EnvelopeFields, Frozen, ShortText, Slug
from truenorth.timeparse import DayEnd, DayStart

ObservationId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]


class Observation(Frozen):
    """One metric observation as an ops tool sends it (docs/design.md#the-domain)."""

    observation_id: ObservationId
    campaign_id: Slug
    metric: Kpi
    value: Figure
    period_start: DayStart
    period_end: DayEnd
    source: ShortText = "unknown"

    @model_validator(mode="after")
    def _period_is_ordered(self) -> Observation:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class MetricObserved(EnvelopeFields):
    type: Literal["MetricObserved"] = "MetricObserved"
    schema_version: Literal[1] = 1
    data: Observation


class MetricRestatedData(Observation):
    previous_value: Figure


class MetricRestated(EnvelopeFields):
    """A later value for an observation_id seen before: the latest value counts, once."""

    type: Literal["MetricRestated"] = "MetricRestated"
    schema_version: Literal[1] = 1
    data: MetricRestatedData


METRIC_EVENTS = (MetricObserved, MetricRestated)
