"""Check-ins: an objective owner's confidence and story, kept beside the data, never mixed in.

Pure. `checkin_data` turns a command's raw values into the event data or refuses them with
every field problem at once (422 naming each field)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from truenorth.contract.strategy import ObjectiveCheckedIn, ObjectiveCheckedInData
from truenorth.strategy.domain.errors import FieldError, InvariantViolated, validation_errors


@dataclass(frozen=True)
class CheckIn:
    objective_id: str
    confidence: str
    narrative: str
    corrected_value: float | None
    source: str | None
    actor: str
    at: datetime
    event_id: uuid.UUID

    @classmethod
    def of(cls, event: ObjectiveCheckedIn) -> CheckIn:
        data = event.data
        return cls(
            objective_id=data.objective_id,
            confidence=data.confidence,
            narrative=data.narrative,
            corrected_value=data.corrected_value,
            source=data.source,
            actor=event.actor,
            at=event.occurred_at,
            event_id=event.event_id,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "narrative": self.narrative,
            "corrected_value": self.corrected_value,
            "source": self.source,
            "actor": self.actor,
            "at": self.at.isoformat(),
        }


def checkin_data(
    objective_id: str,
    confidence: str,
    narrative: str,
    corrected_value: float | None = None,
    source: str | None = None,
) -> ObjectiveCheckedInData:
    """Every problem is reported, each under its field's name."""
    source = source.strip() if source else None
    errors: list[FieldError] = []
    if not narrative.strip():
        errors.append(FieldError("narrative", "say in a sentence why you feel this way"))
    if corrected_value is not None and not source:
        errors.append(
            FieldError("source", "a corrected_value needs its source (where the figure comes from)")
        )
    try:
        data = ObjectiveCheckedInData(
            objective_id=objective_id,
            confidence=confidence,
            narrative=narrative,
            corrected_value=corrected_value,
            source=source,
        )
    except ValidationError as error:
        found = [e for e in validation_errors(error) if e.path]  # model-level ones are above
        raise InvariantViolated.from_errors(_unique(errors + found)) from None
    if errors:
        raise InvariantViolated.from_errors(errors)
    return data


def _unique(errors: list[FieldError]) -> list[FieldError]:
    seen: set[str] = set()
    kept = []
    for error in errors:
        if error.path not in seen:
            seen.add(error.path)
            kept.append(error)
    return kept
