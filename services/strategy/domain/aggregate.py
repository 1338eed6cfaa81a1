"""The strategy aggregate: state rebuilt from its events, and the commands that change it.

Pure: no I/O. A command checks the invariants against the current state and returns the NEW
events (not yet applied) or raises a DomainError; the caller appends them with the version it
read (optimistic concurrency) and may `apply` them. `version` counts the events applied.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias, TypeVar

from pydantic import BaseModel, ValidationError

from truenorth.contract.common import DEFAULT_GUARDRAILS, Guardrails, ObjectiveSpec, PeriodPlan
from truenorth.contract.envelope import EnvelopeFields, utcnow
from truenorth.contract.strategy import (
    BudgetPlanned,
    BudgetPlannedData,
    DriftAcknowledged,
    DriftAcknowledgedData,
    GuardrailsSet,
    GuardrailsSetData,
    ObjectiveAdded,
    ObjectiveCheckedIn,
    ObjectiveRetired,
    ObjectiveRetiredData,
    ObjectiveRevised,
    ObjectiveRevisedData,
    ObjectiveSetData,
    PeriodRemoved,
    PeriodRemovedData,
    StrategyDefined,
    StrategyDefinedData,
    StrategyDocumentFields,
    StrategyRevised,
    StrategyRevisedData,
)
from truenorth.strategy.domain.changes import FieldChange, changed_fields, diff_models
from truenorth.strategy.domain.checkins import CheckIn, checkin_data
from truenorth.strategy.domain.errors import (
    FieldError,
    InvariantViolated,
    ObjectiveAlreadyExists,
    ObjectiveNotFound,
    ObjectiveRetiredError,
    PeriodNotFound,
    StrategyAlreadyDefined,
    StrategyNotFound,
    validation_errors,
)
from truenorth.strategy.domain.invariants import (
    Window,
    build_objective,
    build_period,
    channel_mix_errors,
    objective_errors,
    overlap_errors,
    period_errors,
)

StrategyEvent: TypeAlias = (
    StrategyDefined
    | StrategyRevised
    | ObjectiveAdded
    | ObjectiveRevised
    | ObjectiveRetired
    | BudgetPlanned
    | PeriodRemoved
    | GuardrailsSet
    | DriftAcknowledged
    | ObjectiveCheckedIn
)
_E = TypeVar("_E", bound=EnvelopeFields)
SOURCE = "truenorth-strategy"


@dataclass(frozen=True)
class Attribution:
    """Who makes a change and why; every change event carries it (envelope actor + ChangeNote)."""

    actor: str
    reason: str = ""
    in_response_to: uuid.UUID | str | None = None
    """The drift this change answers, if any."""
    occurred_at: datetime | None = None
    source: str = SOURCE
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None

    def note(self) -> dict[str, Any]:
        return {"reason": self.reason, "in_response_to": self.in_response_to}


@dataclass(frozen=True)
class HistoryEntry:
    """One event in an objective's life: who, when, why, and what changed (old → new)."""

    version: int
    event_id: uuid.UUID
    event_type: str
    actor: str
    occurred_at: datetime
    reason: str
    in_response_to: str | None
    changes: tuple[FieldChange, ...]
    objective: ObjectiveSpec
    """The objective as it stood after this event."""


@dataclass(frozen=True)
class DriftAcknowledgement:
    drift_id: str
    objective_id: str | None
    note: str
    actor: str
    occurred_at: datetime
    event_id: uuid.UUID


@dataclass(frozen=True)
class DriftResponse:
    """A change that names a drift in `in_response_to`."""

    drift_id: str
    event_type: str
    event_id: uuid.UUID
    objective_id: str | None
    actor: str
    occurred_at: datetime
    reason: str


@dataclass
class ObjectiveState:
    spec: ObjectiveSpec
    retired: bool = False
    retired_at: datetime | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    checkins: list[CheckIn] = field(default_factory=list)
    """The owner's check-ins, oldest first."""

    @property
    def objective_id(self) -> str:
        return self.spec.objective_id


@dataclass
class Strategy:
    """The write model of one strategy (aggregate id = strategy id)."""

    strategy_id: str
    workspace: str = "default"
    version: int = 0
    header: StrategyDocumentFields | None = None
    objectives: dict[str, ObjectiveState] = field(default_factory=dict)
    periods: dict[str, PeriodPlan] = field(default_factory=dict)
    guardrails: Guardrails = field(default_factory=Guardrails)
    acknowledgements: dict[str, list[DriftAcknowledgement]] = field(default_factory=dict)
    """Per acknowledged drift or incident id, every acknowledgement, oldest first."""
    responses: dict[str, list[DriftResponse]] = field(default_factory=dict)
    defined_at: datetime | None = None
    updated_at: datetime | None = None
    last_event_id: uuid.UUID | None = None

    # ---------------------------------------------------------------------------------- state

    @classmethod
    def new(cls, strategy_id: str, workspace: str = "default") -> Strategy:
        return cls(strategy_id=strategy_id, workspace=workspace)

    @classmethod
    def from_events(
        cls,
        events: Iterable[EnvelopeFields],
        *,
        strategy_id: str | None = None,
        workspace: str | None = None,
    ) -> Strategy:
        """Fold the stream; with no events, `strategy_id` names the (undefined) strategy."""
        strategy: Strategy | None = (
            None if strategy_id is None else cls.new(strategy_id, workspace or "default")
        )
        for event in events:
            if strategy is None:
                strategy = cls.new(event.aggregate_id, workspace or event.workspace)
            strategy.apply(event)
        if strategy is None:
            raise ValueError("no events and no strategy_id: cannot tell which strategy this is")
        return strategy

    @property
    def defined(self) -> bool:
        return self.header is not None

    def copy(self) -> Strategy:
        return copy.deepcopy(self)

    def applied(self, events: Iterable[EnvelopeFields]) -> Strategy:
        """A copy with `events` applied; self is untouched."""
        result = self.copy()
        for event in events:
            result.apply(event)
        return result

    def apply(self, event: EnvelopeFields) -> None:
        if event.aggregate_id != self.strategy_id:
            raise ValueError(
                f"event {event.event_id} is for strategy {event.aggregate_id}, "
                f"not {self.strategy_id}"
            )
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"{type(event).__name__} is not a strategy event")
        self.version += 1
        handler(self, event)
        self.updated_at = event.occurred_at
        self.last_event_id = event.event_id
        self._record_response(event)

    def active_objectives(self) -> list[ObjectiveState]:
        return [state for state in self.objectives.values() if not state.retired]

    def objective(self, objective_id: str) -> ObjectiveState:
        state = self.objectives.get(objective_id)
        if state is None:
            raise ObjectiveNotFound(f"no objective '{objective_id}' in strategy {self.strategy_id}")
        return state

    def history(self, objective_id: str) -> list[HistoryEntry]:
        return list(self.objective(objective_id).history)

    def effective_guardrails(self, objective_id: str | None = None) -> Guardrails:
        """The defaults (`DEFAULT_GUARDRAILS`, docs/design.md "Guardrails against noise"),
        overridden by the strategy's, overridden by the objective's."""
        merged = self.guardrails.merged_over(DEFAULT_GUARDRAILS)
        if objective_id is None:
            return merged
        override = self.objective(objective_id).spec.guardrails
        return merged if override is None else override.merged_over(merged)

    def violations(self) -> list[FieldError]:
        """Every invariant the whole state breaks (empty for any state built by commands)."""
        allowed = self.header.allowed_channels if self.header else ()
        errors = [
            error.under(f"objectives.{state.objective_id}")
            for state in self.active_objectives()
            for error in _spec_errors(state.spec)
        ]
        windows = [Window(p.period_id, p.start, p.end) for p in self.periods.values()]
        for index, period in enumerate(self.periods.values()):
            found = period_errors(
                start=period.start,
                end=period.end,
                channel_mix=period.channel_mix,
                allowed_channels=allowed,
            ) + overlap_errors(windows[index], windows[:index])
            errors += [error.under(f"periods.{period.period_id}") for error in found]
        return errors

    # ------------------------------------------------------------------------------- commands

    def define_strategy(
        self, header: StrategyDocumentFields | Mapping[str, Any], *, by: Attribution
    ) -> list[StrategyEvent]:
        if self.defined:
            raise StrategyAlreadyDefined(f"strategy {self.strategy_id} is already defined")
        fields = _validated(StrategyDocumentFields, header)
        data = StrategyDefinedData(**fields.model_dump(), **by.note())
        return [self.new_event(StrategyDefined, data, by)]

    def revise_header(
        self, changes: StrategyDocumentFields | Mapping[str, Any], *, by: Attribution
    ) -> list[StrategyEvent]:
        """Partial (a mapping) or whole (StrategyDocumentFields) revision of the header."""
        current = self._require_defined()
        updates = changes.model_dump() if isinstance(changes, BaseModel) else dict(changes)
        fields = _validated(StrategyDocumentFields, {**current.model_dump(), **updates})
        if fields == current:
            return []
        errors = self._channels_still_planned(fields.allowed_channels)
        if errors:
            raise InvariantViolated.from_errors(errors)
        data = StrategyRevisedData(**fields.model_dump(), **by.note())
        return [self.new_event(StrategyRevised, data, by)]

    def add_objective(
        self, spec: ObjectiveSpec | Mapping[str, Any], *, by: Attribution
    ) -> list[StrategyEvent]:
        self._require_defined()
        objective = build_objective(spec)
        existing = self.objectives.get(objective.objective_id)
        if existing is not None and existing.retired:
            raise ObjectiveRetiredError(
                f"objective '{objective.objective_id}' was retired; a retired objective's id "
                "cannot be used again",
                [FieldError("objective_id", "this id belongs to a retired objective")],
            )
        if existing is not None:
            raise ObjectiveAlreadyExists(
                f"objective '{objective.objective_id}' already exists",
                [FieldError("objective_id", "duplicate objective id")],
            )
        data = ObjectiveSetData(objective=objective, **by.note())
        return [self.new_event(ObjectiveAdded, data, by)]

    def revise_objective(
        self,
        objective_id: str,
        changes: ObjectiveSpec | Mapping[str, Any],
        *,
        by: Attribution,
    ) -> list[StrategyEvent]:
        """Partial changes (field -> value) or a whole spec; no change gives no event."""
        current = self._active_objective(objective_id).spec
        updates = changes.model_dump() if isinstance(changes, BaseModel) else dict(changes)
        if updates.get("objective_id", objective_id) != objective_id:
            raise InvariantViolated.from_errors(
                [FieldError("objective_id", "an objective's id cannot change")]
            )
        revised = build_objective({**current.model_dump(), **updates})
        fields = changed_fields(diff_models(current, revised))
        if not fields:
            return []
        data = ObjectiveRevisedData(objective=revised, changed_fields=fields, **by.note())
        return [self.new_event(ObjectiveRevised, data, by)]

    def retire_objective(self, objective_id: str, *, by: Attribution) -> list[StrategyEvent]:
        self._active_objective(objective_id, verb="retired again")
        data = ObjectiveRetiredData(objective_id=objective_id, **by.note())
        return [self.new_event(ObjectiveRetired, data, by)]

    def plan_budget(
        self, period: PeriodPlan | Mapping[str, Any], *, by: Attribution
    ) -> list[StrategyEvent]:
        """Add a planning period or reallocate one (same period_id)."""
        header = self._require_defined()
        plan = build_period(period, header.allowed_channels)
        others = [
            Window(p.period_id, p.start, p.end)
            for p in self.periods.values()
            if p.period_id != plan.period_id
        ]
        overlaps = overlap_errors(Window(plan.period_id, plan.start, plan.end), others)
        if overlaps:
            raise InvariantViolated.from_errors(overlaps)
        if self.periods.get(plan.period_id) == plan:
            return []
        return [self.new_event(BudgetPlanned, BudgetPlannedData(period=plan, **by.note()), by)]

    def remove_period(self, period_id: str, *, by: Attribution) -> list[StrategyEvent]:
        self._require_defined()
        if period_id not in self.periods:
            raise PeriodNotFound(f"no period '{period_id}' in strategy {self.strategy_id}")
        data = PeriodRemovedData(period_id=period_id, **by.note())
        return [self.new_event(PeriodRemoved, data, by)]

    def set_guardrails(
        self,
        guardrails: Guardrails | Mapping[str, Any],
        *,
        objective_id: str | None = None,
        by: Attribution,
    ) -> list[StrategyEvent]:
        """The strategy's defaults, or (with `objective_id`) one objective's overrides."""
        self._require_defined()
        values = _validated(Guardrails, guardrails)
        if objective_id is None:
            current = self.guardrails
        else:
            current = self._active_objective(objective_id).spec.guardrails or Guardrails()
        if values == current:
            return []
        data = GuardrailsSetData(guardrails=values, objective_id=objective_id, **by.note())
        return [self.new_event(GuardrailsSet, data, by)]

    def acknowledge_drift(
        self,
        drift_id: str,
        *,
        objective_id: str | None = None,
        note: str = "",
        by: Attribution,
    ) -> list[StrategyEvent]:
        """Record that the strategy's owners saw a drift or an incident (`drift_id` names
        either; the caller checks that it exists). Acknowledgements accumulate; repeating the
        latest one (a retry) is a no-op."""
        self._require_defined()
        if objective_id is not None:
            self.objective(objective_id)
        previous = self.acknowledgements.get(drift_id)
        latest = previous[-1] if previous else None
        if latest and (latest.objective_id, latest.note, latest.actor) == (
            objective_id,
            note,
            by.actor,
        ):
            return []
        data = _validated(
            DriftAcknowledgedData,
            {"drift_id": drift_id, "objective_id": objective_id, "note": note},
        )
        return [self.new_event(DriftAcknowledged, data, by)]

    def check_in(
        self,
        objective_id: str,
        *,
        confidence: str,
        narrative: str,
        corrected_value: float | None = None,
        source: str | None = None,
        by: Attribution,
    ) -> list[StrategyEvent]:
        """The owner's confidence and narrative on an active objective. Every call is a new
        check-in (saying the same thing again a week later is news)."""
        self._require_defined()
        state = self.objective(objective_id)
        if state.retired:
            raise ObjectiveNotFound(
                f"objective '{objective_id}' is retired: a retired objective takes no check-ins"
            )
        data = checkin_data(objective_id, confidence, narrative, corrected_value, source)
        return [self.new_event(ObjectiveCheckedIn, data, by)]

    def new_event(self, event_type: type[_E], data: BaseModel, by: Attribution) -> _E:
        """An event of this aggregate. No invariant checks: commands (or a plan) did them."""
        factory: Any = event_type  # every concrete event adds a typed `data`
        return factory(
            workspace=self.workspace,
            aggregate_id=self.strategy_id,
            occurred_at=by.occurred_at or utcnow(),
            source=by.source,
            actor=by.actor,
            correlation_id=by.correlation_id,
            causation_id=by.causation_id,
            data=data,
        )

    # -------------------------------------------------------------------------------- helpers

    def _require_defined(self) -> StrategyDocumentFields:
        if self.header is None:
            raise StrategyNotFound(f"strategy {self.strategy_id} is not defined")
        return self.header

    def _active_objective(self, objective_id: str, verb: str = "revised") -> ObjectiveState:
        self._require_defined()
        state = self.objective(objective_id)
        if state.retired:
            raise ObjectiveRetiredError(
                f"objective '{objective_id}' is retired: a retired objective cannot be {verb}"
            )
        return state

    def _channels_still_planned(self, allowed: tuple[str, ...]) -> list[FieldError]:
        return [
            FieldError(
                "allowed_channels",
                f"period '{period.period_id}' still plans budget for channel "
                f"'{error.path.split('.')[-1]}'",
            )
            for period in self.periods.values()
            for error in channel_mix_errors(period.channel_mix, allowed)
            if error.path != "channel_mix"
        ]

    # ------------------------------------------------------------------------------ appliers

    def _on_defined(self, event: StrategyDefined) -> None:
        self.header = _header_of(event.data)
        self.defined_at = event.occurred_at

    def _on_revised(self, event: StrategyRevised) -> None:
        self.header = _header_of(event.data)

    def _on_objective_added(self, event: ObjectiveAdded) -> None:
        spec = event.data.objective
        state = ObjectiveState(spec=spec)
        self.objectives[spec.objective_id] = state
        self._remember(state, event, ())

    def _on_objective_revised(self, event: ObjectiveRevised) -> None:
        spec = event.data.objective
        state = self.objectives.setdefault(spec.objective_id, ObjectiveState(spec=spec))
        changes = tuple(diff_models(state.spec, spec))
        state.spec = spec
        self._remember(state, event, changes)

    def _on_objective_retired(self, event: ObjectiveRetired) -> None:
        state = self.objectives.get(event.data.objective_id)
        if state is None:
            return
        state.retired = True
        state.retired_at = event.occurred_at
        self._remember(state, event, (FieldChange("status", "active", "retired"),))

    def _on_budget_planned(self, event: BudgetPlanned) -> None:
        self.periods[event.data.period.period_id] = event.data.period

    def _on_period_removed(self, event: PeriodRemoved) -> None:
        self.periods.pop(event.data.period_id, None)

    def _on_guardrails_set(self, event: GuardrailsSet) -> None:
        values = event.data.guardrails
        if event.data.objective_id is None:
            self.guardrails = values
            return
        state = self.objectives.get(event.data.objective_id)
        if state is None:
            return
        override = values if values != Guardrails() else None
        spec = state.spec.model_copy(update={"guardrails": override})
        changes = tuple(diff_models(state.spec, spec))
        state.spec = spec
        self._remember(state, event, changes)

    def _on_drift_acknowledged(self, event: DriftAcknowledged) -> None:
        data = event.data
        self.acknowledgements.setdefault(data.drift_id, []).append(
            DriftAcknowledgement(
                drift_id=data.drift_id,
                objective_id=data.objective_id,
                note=data.note,
                actor=event.actor,
                occurred_at=event.occurred_at,
                event_id=event.event_id,
            )
        )
        state = self.objectives.get(data.objective_id or "")
        if state is not None:
            self._remember(state, event, (), reason=data.note, in_response_to=data.drift_id)

    def _on_checked_in(self, event: ObjectiveCheckedIn) -> None:
        state = self.objectives.get(event.data.objective_id)
        if state is not None:
            state.checkins.append(CheckIn.of(event))

    def _remember(
        self,
        state: ObjectiveState,
        event: EnvelopeFields,
        changes: tuple[FieldChange, ...],
        *,
        reason: str | None = None,
        in_response_to: str | None = None,
    ) -> None:
        note = getattr(event, "data", None)
        linked = getattr(note, "in_response_to", None)
        state.history.append(
            HistoryEntry(
                version=self.version,
                event_id=event.event_id,
                event_type=type(event).__name__,
                actor=event.actor,
                occurred_at=event.occurred_at,
                reason=reason if reason is not None else getattr(note, "reason", ""),
                in_response_to=in_response_to or (None if linked is None else str(linked)),
                changes=changes,
                objective=state.spec,
            )
        )

    def _record_response(self, event: EnvelopeFields) -> None:
        data = getattr(event, "data", None)
        drift = getattr(data, "in_response_to", None)
        if drift is None:
            return
        objective = getattr(data, "objective", None)
        objective_id = objective.objective_id if objective else getattr(data, "objective_id", None)
        self.responses.setdefault(str(drift), []).append(
            DriftResponse(
                drift_id=str(drift),
                event_type=type(event).__name__,
                event_id=event.event_id,
                objective_id=objective_id,
                actor=event.actor,
                occurred_at=event.occurred_at,
                reason=getattr(data, "reason", ""),
            )
        )


_HANDLERS: dict[type[EnvelopeFields], Callable[[Strategy, Any], None]] = {
    StrategyDefined: Strategy._on_defined,
    StrategyRevised: Strategy._on_revised,
    ObjectiveAdded: Strategy._on_objective_added,
    ObjectiveRevised: Strategy._on_objective_revised,
    ObjectiveRetired: Strategy._on_objective_retired,
    BudgetPlanned: Strategy._on_budget_planned,
    PeriodRemoved: Strategy._on_period_removed,
    GuardrailsSet: Strategy._on_guardrails_set,
    DriftAcknowledged: Strategy._on_drift_acknowledged,
    ObjectiveCheckedIn: Strategy._on_checked_in,
}

_M = TypeVar("_M", bound=BaseModel)


def _validated(model: type[_M], values: _M | Mapping[str, Any]) -> _M:
    if isinstance(values, model):
        return values
    raw = values.model_dump() if isinstance(values, BaseModel) else dict(values)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise InvariantViolated.from_errors(validation_errors(error)) from None


def _header_of(data: StrategyDefinedData | StrategyRevisedData) -> StrategyDocumentFields:
    fields = StrategyDocumentFields.model_fields
    return StrategyDocumentFields(**{name: getattr(data, name) for name in fields})


def _spec_errors(spec: ObjectiveSpec) -> list[FieldError]:
    return objective_errors(
        start=spec.start,
        deadline=spec.deadline,
        baseline=spec.baseline,
        target=spec.target,
        direction=spec.direction,
        phasing=spec.phasing,
        aggregation=spec.aggregation,
        numerator=spec.numerator,
        denominator=spec.denominator,
        min_value=spec.min_value,
        max_value=spec.max_value,
    )
