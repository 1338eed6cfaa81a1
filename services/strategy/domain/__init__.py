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
    FieldError,
    InvariantViolated,
    ObjectiveAlreadyExists,
    ObjectiveNotFound,
    ObjectiveRetiredError,
    PeriodNotFound,
    StrategyAlreadyDefined,
    StrategyNotFound,
)
from truenorth.strategy.domain.plan import Plan, PlannedChange, plan_changes

__all__ = [
    "Attribution",
    "DocumentInvalid",
    "DomainError",
    "DriftAcknowledgement",
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
    "document_json_schema",
    "load_document",
    "parse_document",
    "plan_changes",
]
