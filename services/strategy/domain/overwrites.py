"""Changes made through the API since a strategy document was last applied, and which of them
applying a document now would overwrite (`truenorth apply` warns; `--strict` refuses).

Events a document apply appends carry `source = APPLY_SOURCE`; any other change event came
through the API's one-change routes. The state right after the last apply is rebuilt from the
log, diffed with the current state, and the plan's field changes are matched against that
diff. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.strategy import (
    GuardrailsSet,
    ObjectiveCheckedIn,
    StrategyDefined,
    StrategyRevised,
)
from truenorth.strategy.domain.aggregate import Strategy
from truenorth.strategy.domain.changes import FieldChange, diff_models, show
from truenorth.strategy.domain.plan import APPLY_SOURCE, Plan

Subject = tuple[str, str]
"""(kind, key) as in a PlannedChange: ("objective", "leads-q4"), ("strategy", "acme")."""


@dataclass(frozen=True)
class ApiChange:
    field: str
    value: Any
    actor: str
    at: datetime | None


@dataclass(frozen=True)
class Overwrite:
    """A change made through the API that applying the document would undo or replace."""

    kind: str
    key: str
    field: str
    api_value: Any
    document_value: Any
    actor: str
    at: datetime | None

    def render(self) -> str:
        where = f"{self.kind} {self.key}" if self.kind != "guardrails" else "guardrails"
        when = f" at {self.at:%Y-%m-%d %H:%M} UTC" if self.at else ""
        if self.field == "*":
            return (
                f"{where} was added or changed through the API by {self.actor}{when} "
                "since the file was last applied; applying removes it"
            )
        return (
            f"{where}: {self.field} was set to {_shown(self.api_value, self.field)} through "
            f"the API by {self.actor}{when} since the file was last applied; applying sets it "
            f"to {_shown(self.document_value, self.field)}"
        )


def _shown(value: Any, field: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, ",.10g")
    return show(value, field)


def overwrites(plan: Plan, events: Sequence[EnvelopeFields], workspace: str) -> list[Overwrite]:
    """Every planned change that touches something changed through the API since the last
    apply (all of the log when the document was never applied)."""
    last_apply = max((i for i, e in enumerate(events) if e.source == APPLY_SOURCE), default=-1)
    since = list(events[last_apply + 1 :])
    if not since:
        return []
    before = Strategy.from_events(
        events[: last_apply + 1], strategy_id=plan.strategy_id, workspace=workspace
    )
    after = Strategy.from_events(events, strategy_id=plan.strategy_id, workspace=workspace)
    made = _api_changes(before, after, since)
    found: list[Overwrite] = []
    for change in plan.changes:
        touched = made.get((change.kind, change.key), {})
        if not touched:
            continue
        if change.action in ("retire", "remove"):
            first = next(iter(touched.values()))
            found.append(Overwrite(change.kind, change.key, "*", None, None, first.actor, first.at))
            continue
        for diff in change.diffs:
            api = _matching(touched, diff)
            if api is not None:
                found.append(
                    Overwrite(
                        change.kind, change.key, diff.field, api.value, diff.new, api.actor, api.at
                    )
                )
    return found


def _matching(touched: dict[str, ApiChange], diff: FieldChange) -> ApiChange | None:
    for field, api in touched.items():
        if (
            field == diff.field
            or diff.field.startswith(f"{field}.")
            or field.startswith(f"{diff.field}.")
        ):
            return api
    return None


def _api_changes(
    before: Strategy, after: Strategy, since: Sequence[EnvelopeFields]
) -> dict[Subject, dict[str, ApiChange]]:
    made: dict[Subject, dict[str, ApiChange]] = {}

    def record(subject: Subject, diffs: Iterable[FieldChange]) -> None:
        actor, at = _last_touch(subject, since)
        for diff in diffs:
            made.setdefault(subject, {})[diff.field] = ApiChange(diff.field, diff.new, actor, at)

    if after.header is not None:
        record(("strategy", after.strategy_id), _diff(before.header, after.header))
    record(("guardrails", "guardrails"), diff_models(before.guardrails, after.guardrails))
    for period_id, plan in after.periods.items():
        record(("period", period_id), _diff(before.periods.get(period_id), plan))
    for objective_id, state in after.objectives.items():
        old = before.objectives.get(objective_id)
        record(("objective", objective_id), _diff(old.spec if old else None, state.spec))
        if state.retired and not (old and old.retired):
            record(("objective", objective_id), [FieldChange("status", "active", "retired")])
    return made


def _diff(old: BaseModel | None, new: BaseModel) -> list[FieldChange]:
    if old is None:
        return [FieldChange("*", None, new)]
    return diff_models(old, new)


def _last_touch(subject: Subject, since: Sequence[EnvelopeFields]) -> tuple[str, datetime | None]:
    kind, key = subject
    for event in reversed(since):
        if _touches(event, kind, key):
            return event.actor, event.occurred_at
    return "the API", None


def _touches(event: EnvelopeFields, kind: str, key: str) -> bool:
    if isinstance(event, ObjectiveCheckedIn):
        return False  # a belief about the objective, not a change of it
    data: Any = getattr(event, "data", None)
    objective = getattr(data, "objective", None)
    period = getattr(data, "period", None)
    if kind == "objective":
        found = objective.objective_id if objective else getattr(data, "objective_id", None)
        return bool(found == key)
    if kind == "period":
        return bool((period.period_id if period else getattr(data, "period_id", None)) == key)
    if kind == "guardrails":
        return isinstance(event, GuardrailsSet) and event.data.objective_id is None
    return isinstance(event, StrategyDefined | StrategyRevised)
