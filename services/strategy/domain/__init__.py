"""The strategy domain: the strategy document, the aggregate and the plan. Pure, no I/O."""

from truenorth.strategy.domain.aggregate import (
    Attribution,
    DriftAcknowledgement,
    DriftResponse,
    HistoryEntry,
    ObjectiveState,
    Strategy,
    StrategyEvent,
)
from truenorth.strategy.domain.changes import FieldChange
from truenorth.strategy.domain.checkins import CheckIn
from truenorth.strategy.domain.document import (
    EndMoment,
    ObjectiveDocument,
    PeriodDocument,
    StartMoment,
    StrategyDocument,
    document_json_schema,
    load_document,
    parse_document,
)
from truenorth.strategy.domain.errors import (
    DocumentInvalid,
    DomainError,
    DriftNotFound,
    FieldError,
    InvariantViolated,
    ObjectiveAlreadyExists,
    ObjectiveNotFound,
    ObjectiveRetiredError,
    PeriodNotFound,
    StrategyAlreadyDefined,
    StrategyNotFound,
    UnknownDriftAnswered,
)
from truenorth.strategy.domain.overwrites import Overwrite, overwrites
from truenorth.strategy.domain.plan import APPLY_SOURCE, Plan, PlannedChange, plan_changes

__all__ = [
    "APPLY_SOURCE",
    "Attribution",
    "CheckIn",
    "DocumentInvalid",
    "DomainError",
    "DriftAcknowledgement",
    "DriftNotFound",
    "DriftResponse",
    "EndMoment",
    "FieldChange",
    "FieldError",
    "HistoryEntry",
    "InvariantViolated",
    "ObjectiveAlreadyExists",
    "ObjectiveDocument",
    "ObjectiveNotFound",
    "ObjectiveRetiredError",
    "ObjectiveState",
    "Overwrite",
    "PeriodDocument",
    "PeriodNotFound",
    "Plan",
    "PlannedChange",
    "StartMoment",
    "Strategy",
    "StrategyAlreadyDefined",
    "StrategyDocument",
    "StrategyEvent",
    "StrategyNotFound",
    "UnknownDriftAnswered",
    "document_json_schema",
    "load_document",
    "overwrites",
    "parse_document",
    "plan_changes",
]
