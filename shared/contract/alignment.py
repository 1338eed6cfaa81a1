"""Alignment context events (ALIGNMENT stream, aggregate = drift_id)."""

from __future__ import annotations

from typing import Literal

from truenorth.contract.common import DriftKind, Severity
from truenorth.contract.envelope import EnvelopeFields, Frozen, LongText, Slug


class DriftData(Frozen):
    drift_id: Slug
    kind: DriftKind
    severity: Severity
    strategy_id: Slug | None = None
    objective_id: Slug | None = None
    campaign_ids: tuple[Slug, ...] = ()
    channel: Slug | None = None
    explanation: LongText
    figures: dict[str, float] = {}


class DriftDetected(EnvelopeFields):
    type: Literal["DriftDetected"] = "DriftDetected"
    schema_version: Literal[1] = 1
    data: DriftData


class DriftUpdated(EnvelopeFields):
    type: Literal["DriftUpdated"] = "DriftUpdated"
    schema_version: Literal[1] = 1
    data: DriftData


class DriftResolved(EnvelopeFields):
    type: Literal["DriftResolved"] = "DriftResolved"
    schema_version: Literal[1] = 1
    data: DriftData


ALIGNMENT_EVENTS = (DriftDetected, DriftUpdated, DriftResolved)
