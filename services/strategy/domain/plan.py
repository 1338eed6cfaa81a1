"""`terraform plan` for strategies: diff a document against the state rebuilt from the stream.

`plan_changes` returns the changes (added / revised with old → new / retired / removed) and the
events that make the state match the document. Applying those events and planning the same
document again gives an empty plan: applying a file twice appends nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from truenorth.contract.strategy import (
    BudgetPlanned,
    BudgetPlannedData,
    GuardrailsSet,
    GuardrailsSetData,
    PeriodRemoved,
    PeriodRemovedData,
    StrategyDefined,
    StrategyDefinedData,
    StrategyRevised,
    StrategyRevisedData,
)
from truenorth.strategy.domain.aggregate import Attribution, Strategy, StrategyEvent
from truenorth.strategy.domain.changes import FieldChange, diff_models
from truenorth.strategy.domain.document import StrategyDocument
from truenorth.strategy.domain.errors import InvariantViolated, ObjectiveRetiredError

Action = Literal["add", "revise", "retire", "remove"]
Kind = Literal["strategy", "guardrails", "period", "objective"]
_SYMBOL: dict[Action, str] = {"add": "+", "revise": "~", "retire": "-", "remove": "-"}
_SUFFIX: dict[Action, str] = {"retire": " (retired)", "remove": " (removed)"}


@dataclass(frozen=True)
class PlannedChange:
    action: Action
    kind: Kind
    key: str
    diffs: tuple[FieldChange, ...] = ()

    def render(self) -> str:
        title = f"{_SYMBOL[self.action]} {self.kind}"
        if self.kind != "guardrails":
            title += f" {self.key}"
        title += _SUFFIX.get(self.action, "")
        if not self.diffs:
            return title
        if len(self.diffs) == 1:
            return f"{title}: {self.diffs[0].render()}"
        return "\n".join([f"{title}:", *(f"    {diff.render()}" for diff in self.diffs)])


@dataclass(frozen=True)
class Plan:
    strategy_id: str
    base_version: int
    """The aggregate version the plan was computed against: append with it as expected version."""
    changes: tuple[PlannedChange, ...]
    events: tuple[StrategyEvent, ...]
    unchanged: int
    """Objectives and periods the document leaves as they are."""

    @property
    def is_empty(self) -> bool:
        return not self.events

    @property
    def added(self) -> int:
        return self._count("add")

    @property
    def revised(self) -> int:
        return self._count("revise")

    @property
    def retired(self) -> int:
        return self._count("retire")

    @property
    def removed(self) -> int:
        return self._count("remove")

    def _count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> str:
        text = f"Plan: {self.added} to add, {self.revised} to revise, {self.retired} to retire"
        return text + (f", {self.removed} to remove." if self.removed else ".")

    def render(self) -> str:
        if self.is_empty:
            return (
                f"No changes. Strategy {self.strategy_id} matches the document "
                f"(version {self.base_version})."
            )
        lines = [change.render() for change in self.changes]
        return "\n".join([*lines, "", self.summary()])


@dataclass
class _Planner:
    document: StrategyDocument
    working: Strategy
    by: Attribution
    changes: list[PlannedChange] = field(default_factory=list)
    events: list[StrategyEvent] = field(default_factory=list)
    unchanged: int = 0

    def emit(self, events: Sequence[StrategyEvent], change: PlannedChange | None = None) -> None:
        for event in events:
            self.working.apply(event)
        self.events += events
        if change is not None and events:
            self.changes.append(change)

    def header(self) -> None:
        fields, current = self.document.header(), self.working.header
        values = {**fields.model_dump(), **self.by.note()}
        if current is None:
            defined = self.working.new_event(
                StrategyDefined, StrategyDefinedData(**values), self.by
            )
            self.emit([defined], PlannedChange("add", "strategy", self.document.id))
        elif fields != current:
            revised = self.working.new_event(
                StrategyRevised, StrategyRevisedData(**values), self.by
            )
            diffs = tuple(diff_models(current, fields))
            self.emit([revised], PlannedChange("revise", "strategy", self.document.id, diffs))

    def guardrails(self, new_strategy: bool) -> None:
        wanted, current = self.document.guardrails, self.working.guardrails
        if wanted == current:
            return
        data = GuardrailsSetData(guardrails=wanted, **self.by.note())
        event = self.working.new_event(GuardrailsSet, data, self.by)
        diffs = tuple(diff_models(current, wanted))
        action: Action = "add" if new_strategy else "revise"
        self.emit([event], PlannedChange(action, "guardrails", "guardrails", diffs))

    def periods(self) -> None:
        wanted = {plan.period_id: plan for plan in self.document.period_plans()}
        for period_id in [p for p in self.working.periods if p not in wanted]:
            data = PeriodRemovedData(period_id=period_id, **self.by.note())
            event = self.working.new_event(PeriodRemoved, data, self.by)
            self.emit([event], PlannedChange("remove", "period", period_id))
        for period_id, plan in wanted.items():
            current = self.working.periods.get(period_id)
            if current == plan:
                self.unchanged += 1
                continue
            planned = BudgetPlannedData(period=plan, **self.by.note())
            budget_event = self.working.new_event(BudgetPlanned, planned, self.by)
            if current is None:
                self.emit([budget_event], PlannedChange("add", "period", period_id))
            else:
                diffs = tuple(diff_models(current, plan, skip=("period_id",)))
                self.emit([budget_event], PlannedChange("revise", "period", period_id, diffs))

    def objectives(self) -> None:
        specs = {spec.objective_id: spec for spec in self.document.objective_specs()}
        self._refuse_retired(list(specs))
        for state in self.working.active_objectives():
            if state.objective_id not in specs:
                events = self.working.retire_objective(state.objective_id, by=self.by)
                self.emit(events, PlannedChange("retire", "objective", state.objective_id))
        for objective_id, spec in specs.items():
            existing = self.working.objectives.get(objective_id)
            if existing is None:
                events = self.working.add_objective(spec, by=self.by)
                self.emit(events, PlannedChange("add", "objective", objective_id))
                continue
            diffs = tuple(diff_models(existing.spec, spec, skip=("objective_id",)))
            if not diffs:
                self.unchanged += 1
                continue
            events = self.working.revise_objective(objective_id, spec, by=self.by)
            self.emit(events, PlannedChange("revise", "objective", objective_id, diffs))

    def _refuse_retired(self, objective_ids: Sequence[str]) -> None:
        errors = [
            self.document.error_at(
                (*self.document.objective_loc(objective_id), "id"),
                f"objective '{objective_id}' was retired and cannot come back; "
                "give it a new id or remove it from the document",
            )
            for objective_id in objective_ids
            if (state := self.working.objectives.get(objective_id)) is not None and state.retired
        ]
        if errors:
            raise ObjectiveRetiredError(
                f"{len(errors)} objective(s) in the document are retired", errors
            )


APPLY_SOURCE = "truenorth-apply"
"""The `source` of every event a document apply appends (see `overwrites`)."""


def plan_changes(
    document: StrategyDocument,
    current: Strategy | None,
    actor: str,
    reason: str = "",
    *,
    in_response_to: uuid.UUID | str | None = None,
    occurred_at: datetime | None = None,
    workspace: str = "default",
) -> Plan:
    """The changes and events that make `current` (None: nothing yet) match `document`."""
    base = current if current is not None else Strategy.new(document.id, workspace)
    if base.strategy_id != document.id:
        message = f"the document is for {document.id}, not {base.strategy_id}"
        raise InvariantViolated.from_errors([document.error_at(("id",), message)])
    by = Attribution(
        actor=actor,
        reason=reason,
        in_response_to=in_response_to,
        occurred_at=occurred_at,
        source=APPLY_SOURCE,
    )
    planner = _Planner(document=document, working=base.copy(), by=by)
    new_strategy = not base.defined
    planner.header()
    planner.guardrails(new_strategy)
    planner.periods()
    planner.objectives()
    violations = planner.working.violations()
    if violations:
        raise InvariantViolated.from_errors(violations)
    return Plan(
        strategy_id=document.id,
        base_version=base.version,
        changes=tuple(planner.changes),
        events=tuple(planner.events),
        unchanged=planner.unchanged,
    )
