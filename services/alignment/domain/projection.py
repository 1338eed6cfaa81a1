"""The alignment projection: strategy, campaign and metric events folded per workspace.

Folding is idempotent. An observation is keyed by (workspace, observation_id); a later value
for the same id (a MetricRestated, or a MetricObserved resent with another value) replaces the
previous one, so the latest value counts once. "Later" is the event's `recorded_at`: an event
recorded before the value the projection already holds is a stale redelivery and only refreshes
nothing; on equal `recorded_at` the event applied last wins. The projection keeps per-period
totals only; each observation's last value is asked of an `ObservationLog` (in memory, or the
store's rows in the service).

Changed entities are tracked so a store can write only them (`dirty_rows`), and `from_rows`
restores a projection from every row written so far.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from truenorth.alignment.domain.compact import compact
from truenorth.alignment.domain.entities import (
    CampaignState,
    ObjectiveState,
    StrategyState,
    WorkspaceState,
)
from truenorth.alignment.domain.observations import (
    InMemoryObservations,
    ObservationLog,
    ObservationRecord,
)
from truenorth.alignment.domain.series import ObservationArrays
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.contract.campaigns import (
    CampaignActivated,
    CampaignBudgetChanged,
    CampaignEnded,
    CampaignLaunched,
    CampaignPaused,
    CampaignResumed,
    ObjectiveLinked,
    ObjectiveUnlinked,
)
from truenorth.contract.common import DEFAULT_GUARDRAILS, Guardrails, ObjectiveSpec, PeriodPlan
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import MetricObserved, MetricRestated
from truenorth.contract.strategy import (
    BudgetPlanned,
    DriftAcknowledged,
    GuardrailsSet,
    ObjectiveAdded,
    ObjectiveRetired,
    ObjectiveRevised,
    PeriodRemoved,
    StrategyDefined,
    StrategyRevised,
)

Row = tuple[str, str, dict[str, Any]]
"""(kind, key, JSON-serialisable payload); key is "<workspace>/<id>"."""

STRATEGY_ROW = "strategy"
OBJECTIVE_ROW = "objective"
CAMPAIGN_ROW = "campaign"
OBSERVATION_ROW = "observation"
ACK_ROW = "ack"
ROW_KINDS = (STRATEGY_ROW, OBJECTIVE_ROW, CAMPAIGN_ROW, OBSERVATION_ROW, ACK_ROW)


def row_key(workspace: str, ident: str) -> str:
    return f"{workspace}/{ident}"


def split_key(key: str) -> tuple[str, str]:
    workspace, _, ident = key.partition("/")
    return workspace, ident


class Projection:
    """Folded state of every workspace. Not thread-safe: one writer folds, readers take a
    snapshot (`truenorth.alignment.domain.snapshot.build_snapshot`)."""

    __slots__ = (
        "_changes",
        "_dirty",
        "_guardrails_cache",
        "arrays",
        "memo",
        "observations",
        "workspaces",
    )

    def __init__(self, observations: ObservationLog | None = None) -> None:
        self.workspaces: dict[str, WorkspaceState] = {}
        self.arrays = ObservationArrays()
        self.observations: ObservationLog = (
            InMemoryObservations(self.arrays) if observations is None else observations
        )
        self._dirty: dict[tuple[str, str], dict[str, ObservationRecord | None]] = {}
        """(kind, workspace) -> {id: record} of the entities changed since `clear_dirty`: an
        observation's record as now counted (its row), None for other kinds. Grouped so that
        ordering the rows sorts plain ids (tuples sort ~5x slower)."""
        self._guardrails_cache: dict[tuple[str, str, str], Guardrails] = {}
        self._changes = 0
        self.memo: dict[Any, Any] = {}
        """Derived caches of readers (snapshot); never part of the state or the digest."""

    # -- folding -------------------------------------------------------------------------

    def apply(self, event: EnvelopeFields) -> None:
        """Fold one decoded event (any member of `truenorth.contract.registry.Event`)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def apply_all(self, events: Iterable[EnvelopeFields]) -> None:
        for event in events:
            self.apply(event)

    def workspace(self, name: str) -> WorkspaceState:
        state = self.workspaces.get(name)
        if state is None:
            state = self.workspaces[name] = WorkspaceState()
        return state

    def _mark(
        self, kind: str, workspace: str, ident: str, record: ObservationRecord | None = None
    ) -> None:
        group = self._dirty.get((kind, workspace))
        if group is None:
            group = self._dirty[(kind, workspace)] = {}
        group[ident] = record

    def _bump(self, campaign: CampaignState) -> None:
        campaign.version = self._changes

    def versions_read(self) -> None:
        """A reader compares campaign versions from now on: a campaign changed after this gets
        a version greater than any it has seen. Versions only move on when read, so every
        campaign changed between two reads shares one int (32 bytes a campaign otherwise)."""
        self._changes += 1

    def _touch_strategy(self, event: EnvelopeFields) -> StrategyState:
        """Every strategy event counts as a change of its strategy (once per event id)."""
        self._guardrails_cache.clear()
        self._changes += 1
        workspace = self.workspace(event.workspace)
        workspace.plan_version = self._changes
        strategy = workspace.strategy(event.aggregate_id)
        event_id = str(event.event_id)
        if event_id != strategy.last_event_id:
            event_type = str(getattr(event, "type", type(event).__name__))
            strategy.change_counts[event_type] = strategy.change_counts.get(event_type, 0) + 1
            strategy.last_event_id = event_id
            strategy.last_change = max(strategy.last_change, to_micros(event.occurred_at))
        self._mark(STRATEGY_ROW, event.workspace, strategy.strategy_id)
        return strategy

    def _strategy_document(self, event: StrategyDefined | StrategyRevised) -> None:
        strategy = self._touch_strategy(event)
        data = event.data
        strategy.defined = True
        strategy.name = data.name
        strategy.owner = data.owner
        strategy.target_segments = tuple(data.target_segments)
        strategy.allowed_channels = tuple(data.allowed_channels)

    def _objective_set(self, event: ObjectiveAdded | ObjectiveRevised) -> None:
        self._touch_strategy(event)
        spec = event.data.objective
        objective = self.workspace(event.workspace).objective(spec.objective_id)
        _set_spec(objective, event.aggregate_id, spec)
        self._mark(OBJECTIVE_ROW, event.workspace, objective.objective_id)

    def _objective_retired(self, event: ObjectiveRetired) -> None:
        self._touch_strategy(event)
        objective = self.workspace(event.workspace).objective(event.data.objective_id)
        objective.strategy_id = objective.strategy_id or event.aggregate_id
        objective.retired = True
        self._mark(OBJECTIVE_ROW, event.workspace, objective.objective_id)

    def _budget_planned(self, event: BudgetPlanned) -> None:
        strategy = self._touch_strategy(event)
        strategy.periods[event.data.period.period_id] = event.data.period

    def _period_removed(self, event: PeriodRemoved) -> None:
        strategy = self._touch_strategy(event)
        strategy.periods.pop(event.data.period_id, None)

    def _guardrails_set(self, event: GuardrailsSet) -> None:
        strategy = self._touch_strategy(event)
        objective_id = event.data.objective_id
        if objective_id is None:
            strategy.guardrails = event.data.guardrails
            return
        objective = self.workspace(event.workspace).objective(objective_id)
        objective.strategy_id = objective.strategy_id or event.aggregate_id
        objective.override = event.data.guardrails
        self._mark(OBJECTIVE_ROW, event.workspace, objective_id)

    def _drift_acknowledged(self, event: DriftAcknowledged) -> None:
        self._touch_strategy(event)
        workspace = self.workspace(event.workspace)
        drift_id = event.data.drift_id
        at = to_micros(event.occurred_at)
        if workspace.acknowledged.get(drift_id, at - 1) < at:
            workspace.acknowledged[drift_id] = at
            self._mark(ACK_ROW, event.workspace, drift_id)

    def _campaign(self, event: EnvelopeFields, campaign_id: str) -> CampaignState:
        self._mark(CAMPAIGN_ROW, event.workspace, campaign_id)
        campaign = self.workspace(event.workspace).campaign(campaign_id)
        self._bump(campaign)
        return campaign

    def _campaign_launched(self, event: CampaignLaunched) -> None:
        data = event.data
        campaign = self._campaign(event, data.campaign_id)
        campaign.launched = True
        campaign.name = data.name
        campaign.owner = sys.intern(data.owner)  # a team has a few owners
        campaign.channel = sys.intern(data.channel)
        campaign.segment = sys.intern(data.segment)
        campaign.budget = self.workspace(event.workspace).amounts(data.budget)
        instants = self.workspace(event.workspace).instants
        campaign.start = instants(to_micros(data.start))
        campaign.end = instants(to_micros(data.end))
        campaign.status = sys.intern(data.status)
        campaign.went_live = to_micros(event.occurred_at) if data.status == "live" else None
        campaign.stopped = None
        self.workspace(event.workspace).set_links(campaign, data.objective_ids)

    def _objective_linked(self, event: ObjectiveLinked) -> None:
        campaign = self._campaign(event, event.data.campaign_id)
        links = (*campaign.objective_ids, event.data.objective_id)
        self.workspace(event.workspace).set_links(campaign, links)

    def _objective_unlinked(self, event: ObjectiveUnlinked) -> None:
        campaign = self._campaign(event, event.data.campaign_id)
        links = tuple(o for o in campaign.objective_ids if o != event.data.objective_id)
        self.workspace(event.workspace).set_links(campaign, links)

    def _budget_changed(self, event: CampaignBudgetChanged) -> None:
        budget = self.workspace(event.workspace).amounts(event.data.budget)
        self._campaign(event, event.data.campaign_id).budget = budget

    def _went_live(self, event: CampaignActivated | CampaignResumed) -> None:
        campaign = self._campaign(event, event.data.campaign_id)
        if campaign.status != "live":
            campaign.went_live = to_micros(event.occurred_at)
            campaign.status = "live"

    def _stopped(self, event: CampaignPaused | CampaignEnded, status: str) -> None:
        campaign = self._campaign(event, event.data.campaign_id)
        if campaign.status == "live":
            campaign.stopped = to_micros(event.occurred_at)
        campaign.status = status

    def _observed(self, event: MetricObserved | MetricRestated) -> None:
        # the hot path of a replay (nearly every event): lookups inlined
        data = event.data
        name = event.workspace
        workspace = self.workspaces.get(name) or self.workspace(name)
        recorded = to_micros(event.recorded_at)
        campaign_id = data.campaign_id
        campaign = workspace.campaigns.get(campaign_id) or workspace.campaign(campaign_id)
        campaign.version = self._changes
        last_report = campaign.last_report
        if last_report is None or last_report < recorded:
            campaign.last_report = recorded
            self._mark(CAMPAIGN_ROW, name, campaign_id)
        start, end = to_micros(data.period_start), to_micros(data.period_end)
        observation_id = data.observation_id
        arrays = self.arrays
        prior = self.observations.get(name, observation_id)
        if prior is not None and recorded < prior.recorded:
            return  # a stale redelivery: a later value is already in place
        series = campaign.ensure_series(data.metric, arrays)
        metric = arrays.series_metrics[series]
        value = data.value
        if prior is None:
            arrays.add(series, value, start, end)
        elif (
            prior.campaign_id == campaign_id
            and prior.metric == metric
            and prior.start == start
            and prior.end == end
        ):
            arrays.adjust(series, value - prior.value, start, end)  # the usual restatement
        else:
            before = workspace.campaign(prior.campaign_id)
            moved_from = before.ensure_series(prior.metric, arrays)
            arrays.remove(moved_from, prior.value, prior.start, prior.end)
            if before is not campaign:
                self._bump(before)
            arrays.add(series, value, start, end)
        record = ObservationRecord(campaign_id, metric, value, start, end, recorded)
        self.observations.put(name, observation_id, record, series)
        self._mark(OBSERVATION_ROW, name, observation_id, record)

    # -- reads ---------------------------------------------------------------------------

    def effective_guardrails(self, workspace: str, objective: ObjectiveState) -> Guardrails:
        """DEFAULT_GUARDRAILS < strategy defaults < the spec's guardrails < GuardrailsSet for
        the objective."""
        key = (workspace, objective.strategy_id, objective.objective_id)
        cached = self._guardrails_cache.get(key)
        if cached is None:
            merged = self.strategy_guardrails(workspace, objective.strategy_id)
            if objective.spec is not None and objective.spec.guardrails is not None:
                merged = objective.spec.guardrails.merged_over(merged)
            if objective.override is not None:
                merged = objective.override.merged_over(merged)
            cached = self._guardrails_cache[key] = merged
        return cached

    def strategy_guardrails(self, workspace: str, strategy_id: str | None) -> Guardrails:
        key = (workspace, strategy_id or "", "")
        cached = self._guardrails_cache.get(key)
        if cached is None:
            strategies = self.workspace(workspace).strategies
            strategy = strategies.get(strategy_id) if strategy_id else None
            if strategy is not None and strategy.guardrails is not None:
                cached = strategy.guardrails.merged_over(DEFAULT_GUARDRAILS)
            else:
                cached = DEFAULT_GUARDRAILS
            self._guardrails_cache[key] = cached
        return cached

    # -- rows ----------------------------------------------------------------------------

    def dirty_rows(self) -> list[Row]:
        """Rows of the entities changed since the last `clear_dirty` (upserts only: nothing is
        ever deleted; removed periods vanish from their strategy's row)."""
        rows = []
        for kind, workspace in sorted(self._dirty):
            group = self._dirty[(kind, workspace)]
            for ident in sorted(group):
                row = self._row(kind, workspace, ident, group[ident])
                if row is not None:
                    rows.append(row)
        return rows

    def clear_dirty(self) -> None:
        self._dirty.clear()

    def rows(self) -> Iterator[Row]:
        """Every row of the current state."""
        for name, workspace in self.workspaces.items():
            yield from self._rows_of(STRATEGY_ROW, name, workspace.strategies)
            yield from self._rows_of(OBJECTIVE_ROW, name, workspace.objectives)
            yield from self._rows_of(CAMPAIGN_ROW, name, workspace.campaigns)
            yield from self._rows_of(ACK_ROW, name, workspace.acknowledged)
        observations = self.observations.everything()
        if observations is None:
            raise RuntimeError(
                "this projection's observations are in the store: digest the stored rows"
            )
        for name, ident, record in observations:
            yield OBSERVATION_ROW, f"{name}/{ident}", record.payload()

    def _rows_of(self, kind: str, workspace_name: str, idents: Iterable[str]) -> Iterator[Row]:
        for ident in idents:
            row = self._row(kind, workspace_name, ident)
            if row is not None:
                yield row

    def _row(
        self, kind: str, workspace_name: str, ident: str, record: ObservationRecord | None = None
    ) -> Row | None:
        """The row of one entity (`record`: an observation's, as marked dirty)."""
        if kind == OBSERVATION_ROW:  # by far the most frequent
            assert record is not None
            return OBSERVATION_ROW, f"{workspace_name}/{ident}", record.payload()
        workspace = self.workspaces.get(workspace_name)
        if workspace is None:
            return None
        payload: dict[str, Any] | None
        if kind == STRATEGY_ROW:
            strategy = workspace.strategies.get(ident)
            payload = None if strategy is None else _strategy_payload(strategy)
        elif kind == OBJECTIVE_ROW:
            objective = workspace.objectives.get(ident)
            payload = None if objective is None else _objective_payload(objective)
        elif kind == CAMPAIGN_ROW:
            campaign = workspace.campaigns.get(ident)
            payload = None if campaign is None else _campaign_payload(campaign)
        else:
            at = workspace.acknowledged.get(ident)
            payload = None if at is None else {"at": at}
        return None if payload is None else (kind, f"{workspace_name}/{ident}", payload)

    @classmethod
    def from_rows(
        cls, rows: Iterable[tuple[str, str, Any]], observations: ObservationLog | None = None
    ) -> Projection:
        """Restore a projection from rows (all `dirty_rows` ever written, latest per key)."""
        projection = cls(observations)
        for kind, key, payload in rows:
            restore = _RESTORERS.get(kind)
            if restore is None:
                raise ValueError(f"unknown projection row kind {kind!r}")
            workspace, ident = split_key(key)
            restore(projection, workspace, ident, payload)
        projection.arrays.relink_all()  # observations came in id order, not period
        return projection

    def _restore_strategy(self, workspace: str, ident: str, payload: dict[str, Any]) -> None:
        strategy = self.workspace(workspace).strategy(ident)
        strategy.defined = bool(payload["defined"])
        strategy.name = payload["name"]
        strategy.owner = payload["owner"]
        strategy.target_segments = tuple(payload["target_segments"])
        strategy.allowed_channels = tuple(payload["allowed_channels"])
        guardrails = payload["guardrails"]
        strategy.guardrails = None if guardrails is None else Guardrails(**guardrails)
        strategy.periods = {
            pid: PeriodPlan.model_validate(plan) for pid, plan in payload["periods"].items()
        }
        strategy.change_counts = dict(payload["change_counts"])
        strategy.last_change = int(payload["last_change"])
        strategy.last_event_id = payload["last_event_id"]

    def _restore_objective(self, workspace: str, ident: str, payload: dict[str, Any]) -> None:
        objective = self.workspace(workspace).objective(ident)
        objective.strategy_id = payload["strategy_id"]
        if payload["spec"] is not None:
            _set_spec(
                objective, objective.strategy_id, ObjectiveSpec.model_validate(payload["spec"])
            )
        objective.retired = bool(payload["retired"])
        override = payload["override"]
        objective.override = None if override is None else Guardrails(**override)

    def _restore_campaign(self, workspace: str, ident: str, payload: dict[str, Any]) -> None:
        state = self.workspace(workspace)
        campaign = state.campaign(ident)
        campaign.launched = bool(payload["launched"])
        campaign.name = payload["name"]
        campaign.owner = sys.intern(payload["owner"])
        campaign.channel = sys.intern(payload["channel"])
        campaign.segment = sys.intern(payload["segment"])
        campaign.budget = state.amounts(float(payload["budget"]))
        campaign.start = state.instants(int(payload["start"]))
        campaign.end = state.instants(int(payload["end"]))
        campaign.status = sys.intern(payload["status"])
        campaign.went_live = payload["went_live"]
        campaign.stopped = payload["stopped"]
        campaign.last_report = payload["last_report"]
        state.set_links(campaign, tuple(payload["objective_ids"]))

    def _restore_observation(self, workspace: str, ident: str, payload: dict[str, Any]) -> None:
        record = ObservationRecord.from_payload(payload)
        campaign = self.workspace(workspace).campaign(record.campaign_id)
        series = campaign.ensure_series(record.metric, self.arrays)
        self.arrays.add_unordered(series, record.value, record.start, record.end)
        self.observations.restored(workspace, ident, record, series)

    def _restore_ack(self, workspace: str, ident: str, payload: dict[str, Any]) -> None:
        self.workspace(workspace).acknowledged[ident] = int(payload["at"])

    # -- identity ------------------------------------------------------------------------

    def digest(self) -> str:
        """sha256 of the canonical folded state (`digest_rows`)."""
        return digest_rows(sorted(self.rows(), key=lambda row: (row[0], row[1])))


def digest_rows(rows: Iterable[Row]) -> str:
    """sha256 of rows given sorted by (kind, key) (by code point), payload keys sorted: the
    same for a projection in memory and for the rows its store holds."""
    hasher = hashlib.sha256()
    for kind, key, payload in rows:
        hasher.update(kind.encode())
        hasher.update(b"\x1f")
        hasher.update(key.encode())
        hasher.update(b"\x1f")
        hasher.update(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
        hasher.update(b"\x1e")
    return hasher.hexdigest()


def _set_spec(objective: ObjectiveState, strategy_id: str, spec: ObjectiveSpec) -> None:
    objective.strategy_id = strategy_id
    objective.spec = spec = compact(spec)
    objective.retired = False
    objective.start = to_micros(spec.start)
    objective.deadline = to_micros(spec.deadline)


def _guardrails_payload(guardrails: Guardrails | None) -> dict[str, Any] | None:
    return None if guardrails is None else guardrails.model_dump(exclude_none=True)


def _strategy_payload(strategy: StrategyState) -> dict[str, Any]:
    return {
        "defined": strategy.defined,
        "name": strategy.name,
        "owner": strategy.owner,
        "target_segments": list(strategy.target_segments),
        "allowed_channels": list(strategy.allowed_channels),
        "guardrails": _guardrails_payload(strategy.guardrails),
        "periods": {pid: p.model_dump(mode="json") for pid, p in strategy.periods.items()},
        "change_counts": dict(strategy.change_counts),
        "last_change": strategy.last_change,
        "last_event_id": strategy.last_event_id,
    }


def _objective_payload(objective: ObjectiveState) -> dict[str, Any]:
    spec = objective.spec
    return {
        "strategy_id": objective.strategy_id,
        "spec": None if spec is None else spec.model_dump(mode="json"),
        "retired": objective.retired,
        "override": _guardrails_payload(objective.override),
    }


def _campaign_payload(campaign: CampaignState) -> dict[str, Any]:
    return {
        "launched": campaign.launched,
        "name": campaign.name,
        "owner": campaign.owner,
        "objective_ids": list(campaign.objective_ids),
        "channel": campaign.channel,
        "segment": campaign.segment,
        "budget": campaign.budget,
        "start": campaign.start,
        "end": campaign.end,
        "status": campaign.status,
        "went_live": campaign.went_live,
        "stopped": campaign.stopped,
        "last_report": campaign.last_report,
    }


_Handler = Callable[[Projection, Any], None]

_HANDLERS: dict[type, _Handler] = {
    StrategyDefined: Projection._strategy_document,
    StrategyRevised: Projection._strategy_document,
    ObjectiveAdded: Projection._objective_set,
    ObjectiveRevised: Projection._objective_set,
    ObjectiveRetired: Projection._objective_retired,
    BudgetPlanned: Projection._budget_planned,
    PeriodRemoved: Projection._period_removed,
    GuardrailsSet: Projection._guardrails_set,
    DriftAcknowledged: Projection._drift_acknowledged,
    CampaignLaunched: Projection._campaign_launched,
    ObjectiveLinked: Projection._objective_linked,
    ObjectiveUnlinked: Projection._objective_unlinked,
    CampaignBudgetChanged: Projection._budget_changed,
    CampaignActivated: Projection._went_live,
    CampaignResumed: Projection._went_live,
    CampaignPaused: lambda p, e: p._stopped(e, "paused"),
    CampaignEnded: lambda p, e: p._stopped(e, "ended"),
    MetricObserved: Projection._observed,
    MetricRestated: Projection._observed,
}

_Restorer = Callable[[Projection, str, str, dict[str, Any]], None]

_RESTORERS: dict[str, _Restorer] = {
    STRATEGY_ROW: Projection._restore_strategy,
    OBJECTIVE_ROW: Projection._restore_objective,
    CAMPAIGN_ROW: Projection._restore_campaign,
    OBSERVATION_ROW: Projection._restore_observation,
    ACK_ROW: Projection._restore_ack,
}
