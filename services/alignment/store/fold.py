"""The one fold of the STRATEGY, CAMPAIGNS and METRICS streams into the projection's tables.

A batch is decoded, its already-processed events skipped, its effects gathered in plain dicts
(`BatchWriter`) and written in ONE transaction with the stream's checkpoint and the processed
ids; the caller acks after that commit (docs/design.md, "Guarantees"). The live projector and
the rebuild both call `fold_batch`, so they count exactly the same way.

Observations: keyed by (workspace, observation_id); a value recorded later replaces the one
counted (a restatement, or a resend with another value) and the latest counts once; a value
recorded before the one counted is a stale redelivery and changes nothing; the same value again
is a duplicate. Every value keeps its row, so `known_at` can ask what counted at any time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store import tables as t
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
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import MetricObserved, MetricRestated
from truenorth.contract.registry import decode
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
from truenorth.store.db import already_processed_in, insert_processed, move_checkpoint

IN_CHUNK = 500


@dataclass
class Poison:
    """A message that cannot be decoded: dead-lettered, never folded."""

    sequence: int
    subject: str
    payload: bytes
    error: str
    attempts: int


@dataclass
class Folded:
    applied: int
    poison: list[Poison] = field(default_factory=list)
    workspaces: set[str] = field(default_factory=set)
    """Workspaces whose rows changed."""


Message = tuple[int, str, bytes, int]
"""(stream sequence, subject, payload, delivery attempts)."""


def fold_batch(
    connection: Connection,
    consumer: str,
    stream: str,
    expected_position: int,
    messages: list[Message],
) -> Folded:
    """Fold contiguous messages that follow `expected_position` inside the caller's
    transaction; raises `CheckpointConflict` when another writer moved the checkpoint."""
    decoded: list[EnvelopeFields] = []
    poison: list[Poison] = []
    for sequence, subject, payload, attempts in messages:
        try:
            decoded.append(decode(payload))
        except ValueError as exc:
            poison.append(Poison(sequence, subject, payload, str(exc), attempts))
    fresh = fold_events(connection, consumer, decoded)
    if messages:
        move_checkpoint(connection, consumer, stream, expected_position, messages[-1][0])
    return Folded(len(fresh), poison, {event.workspace for event in fresh})


def fold_events(
    connection: Connection, consumer: str, events: Iterable[EnvelopeFields]
) -> list[EnvelopeFields]:
    """Apply the events not processed before (by event id) and record their ids; returns them."""
    listed = list(events)
    seen = already_processed_in(connection, consumer, [str(e.event_id) for e in listed])
    writer = BatchWriter(connection)
    writer.prefetch_observations(
        {
            (e.workspace, e.data.observation_id)
            for e in listed
            if isinstance(e, MetricObserved | MetricRestated)
        }
    )
    fresh = []
    for event in listed:
        event_id = str(event.event_id)
        if event_id in seen:
            continue
        seen.add(event_id)
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(writer, event)
        fresh.append(event)
    writer.flush()
    insert_processed(connection, consumer, [str(e.event_id) for e in fresh])
    return fresh


# -- gathering a batch's rows ----------------------------------------------------------------


class _Versions:
    """New versions of one kind of entity (strategy, objective, campaign) made by a batch: the
    current row of each key is read once, each event appends a whole new version."""

    def __init__(self, table: Any, key_column: str) -> None:
        self.table = table
        self.key_column = key_column
        self.current: dict[tuple[str, str], dict[str, Any]] = {}
        self.loaded: dict[tuple[str, str], int] = {}
        """key -> version current in the store when the batch started (0: none)."""
        self.new: list[dict[str, Any]] = []

    def latest(self, connection: Connection, workspace: str, ident: str) -> dict[str, Any] | None:
        key = (workspace, ident)
        if key not in self.current:
            table = self.table
            row = (
                connection.execute(
                    select(table).where(
                        table.c.workspace == workspace,
                        table.c[self.key_column] == ident,
                        table.c.current.is_(True),
                    )
                )
                .mappings()
                .first()
            )
            self.loaded[key] = 0 if row is None else int(row["version"])
            if row is None:
                return None
            self.current[key] = dict(row)
        return self.current.get(key)

    def append(self, workspace: str, ident: str, row: dict[str, Any]) -> None:
        key = (workspace, ident)
        previous = self.current.get(key)
        row["version"] = 1 if previous is None else int(previous["version"]) + 1
        row["workspace"], row[self.key_column] = workspace, ident
        self.current[key] = row
        self.new.append(row)

    def write(self, connection: Connection) -> None:
        if not self.new:
            return
        table = self.table
        retired = [k for k, version in self.loaded.items() if version and k in self._touched()]
        if retired:
            connection.execute(
                update(table)
                .where(
                    table.c.workspace == bindparam("w"),
                    table.c[self.key_column] == bindparam("i"),
                    table.c.current.is_(True),
                )
                .values(current=False),
                [{"w": w, "i": i} for w, i in retired],
            )
        newest = {(r["workspace"], r[self.key_column]): r["version"] for r in self.new}
        for row in self.new:
            row["current"] = newest[(row["workspace"], row[self.key_column])] == row["version"]
        connection.execute(table.insert(), self.new)

    def _touched(self) -> set[tuple[str, str]]:
        return {(r["workspace"], r[self.key_column]) for r in self.new}


@dataclass
class _Observation:
    version: int
    recorded_at: int
    campaign_id: str
    metric: str
    period_start: int
    period_end: int
    value: float


class BatchWriter:
    """A batch's effects, gathered in dicts and written by `flush`."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.strategies = _Versions(t.strategies, "strategy_id")
        self.objectives = _Versions(t.objectives, "objective_id")
        self.campaigns = _Versions(t.campaigns, "campaign_id")
        self.link_changes: list[tuple[str, str, tuple[str, ...], int, int]] = []
        self.acks: list[dict[str, Any]] = []
        self.observations: dict[tuple[str, str], _Observation | None] = {}
        """(workspace, observation_id) -> its counted value (None: never seen)."""
        self.new_observations: list[dict[str, Any]] = []
        self.superseded: list[dict[str, Any]] = []
        self.totals: dict[tuple[str, str, str, int, int], list[float]] = {}
        """(workspace, campaign, metric, start, end) -> [delta, last recorded_at]."""

    # -- strategy ----------------------------------------------------------------------------

    def strategy(self, event: EnvelopeFields) -> dict[str, Any]:
        """A new version of the event's strategy (every strategy event is a change of it)."""
        workspace, strategy_id = event.workspace, event.aggregate_id
        previous = self.strategies.latest(self.connection, workspace, strategy_id)
        row = dict(previous) if previous else _new_strategy()
        counts = dict(row["change_counts"])
        counts[event.type] = counts.get(event.type, 0) + 1  # type: ignore[attr-defined]
        row |= {
            "valid_from": to_micros(event.occurred_at),
            "recorded_at": to_micros(event.recorded_at),
            "change_counts": counts,
            "last_change": max(int(row["last_change"]), to_micros(event.occurred_at)),
        }
        self.strategies.append(workspace, strategy_id, row)
        return row

    def objective(self, event: EnvelopeFields, objective_id: str) -> dict[str, Any]:
        workspace = event.workspace
        previous = self.objectives.latest(self.connection, workspace, objective_id)
        row = dict(previous) if previous else _new_objective(event.aggregate_id)
        row |= {
            "valid_from": to_micros(event.occurred_at),
            "recorded_at": to_micros(event.recorded_at),
        }
        self.objectives.append(workspace, objective_id, row)
        return row

    # -- campaigns ---------------------------------------------------------------------------

    def campaign(self, event: EnvelopeFields, campaign_id: str) -> dict[str, Any]:
        workspace = event.workspace
        previous = self.campaigns.latest(self.connection, workspace, campaign_id)
        row = dict(previous) if previous else _new_campaign()
        row |= {
            "valid_from": to_micros(event.occurred_at),
            "recorded_at": to_micros(event.recorded_at),
        }
        self.campaigns.append(workspace, campaign_id, row)
        return row

    def links(self, event: EnvelopeFields, campaign_id: str, objective_ids: Iterable[str]) -> None:
        self.flush_links_of(event.workspace, campaign_id)  # keep the order of link changes
        self.link_changes.append(
            (
                event.workspace,
                campaign_id,
                tuple(sorted(set(objective_ids))),
                to_micros(event.occurred_at),
                to_micros(event.recorded_at),
            )
        )

    def linked(self, workspace: str, campaign_id: str) -> tuple[str, ...]:
        self.flush_links_of(workspace, campaign_id)
        links = t.campaign_links
        return tuple(
            sorted(
                self.connection.execute(
                    select(links.c.objective_id).where(
                        links.c.workspace == workspace,
                        links.c.campaign_id == campaign_id,
                        links.c.linked_until.is_(None),
                    )
                ).scalars()
            )
        )

    def flush_links_of(self, workspace: str, campaign_id: str) -> None:
        if any(w == workspace and c == campaign_id for w, c, *_ in self.link_changes):
            self._write_links()

    def _write_links(self) -> None:
        links = t.campaign_links
        for workspace, campaign_id, wanted, at, recorded in self.link_changes:
            held = set(
                self.connection.execute(
                    select(links.c.objective_id).where(
                        links.c.workspace == workspace,
                        links.c.campaign_id == campaign_id,
                        links.c.linked_until.is_(None),
                    )
                ).scalars()
            )
            for objective_id in sorted(held - set(wanted)):
                self.connection.execute(
                    update(links)
                    .where(
                        links.c.workspace == workspace,
                        links.c.campaign_id == campaign_id,
                        links.c.objective_id == objective_id,
                        links.c.linked_until.is_(None),
                    )
                    .values(linked_until=at, recorded_until=recorded)
                )
            added = [
                {
                    "workspace": workspace,
                    "campaign_id": campaign_id,
                    "objective_id": objective_id,
                    "linked_from": at,
                    "recorded_from": recorded,
                }
                for objective_id in sorted(set(wanted) - held)
            ]
            if added:
                self._insert_links(added)
        self.link_changes.clear()

    def _insert_links(self, added: list[dict[str, Any]]) -> None:
        """A link dropped and re-made at the same instant reopens its row."""
        links = t.campaign_links
        for row in added:
            reopened = self.connection.execute(
                update(links)
                .where(
                    links.c.workspace == row["workspace"],
                    links.c.campaign_id == row["campaign_id"],
                    links.c.objective_id == row["objective_id"],
                    links.c.linked_from == row["linked_from"],
                )
                .values(linked_until=None, recorded_until=None)
            ).rowcount
            if not reopened:
                self.connection.execute(links.insert(), row)

    # -- observations ------------------------------------------------------------------------

    def prefetch_observations(self, keys: set[tuple[str, str]]) -> None:
        """Read the counted value of the batch's observation ids, a few hundred a query.

        Plain driver SQL: SQLAlchemy compiling an expanding `IN` per query was a fifth of a
        replay's time (`benchmarks/alignment_replay.py`)."""
        by_workspace: dict[str, list[str]] = {}
        for workspace, ident in keys:
            if (workspace, ident) not in self.observations:
                self.observations[(workspace, ident)] = None
                by_workspace.setdefault(workspace, []).append(ident)
        mark = "%s" if self.connection.dialect.name == "postgresql" else "?"
        for workspace, idents in by_workspace.items():
            for start in range(0, len(idents), IN_CHUNK):
                chunk = idents[start : start + IN_CHUNK]
                rows = self.connection.exec_driver_sql(
                    _PREFETCH % (mark, ", ".join([mark] * len(chunk))), (workspace, *chunk)
                )
                for ident, *values in rows:
                    self.observations[(workspace, ident)] = _Observation(*values)

    def observe(self, event: MetricObserved | MetricRestated) -> None:
        data, workspace = event.data, event.workspace
        key = (workspace, data.observation_id)
        if key not in self.observations:
            self.prefetch_observations({key})
        prior = self.observations[key]
        recorded = to_micros(event.recorded_at)
        value = _Observation(
            0 if prior is None else prior.version + 1,
            recorded,
            data.campaign_id,
            data.metric,
            to_micros(data.period_start),
            to_micros(data.period_end),
            float(data.value),
        )
        if prior is not None:
            if recorded < prior.recorded_at:
                return  # a stale redelivery: a later value is counted already
            if _same_fact(prior, value):
                return  # a duplicate
            self.superseded.append(
                {"w": workspace, "i": data.observation_id, "v": prior.version, "at": recorded}
            )
            self._add_total(workspace, prior, -prior.value, recorded)
        self._add_total(workspace, value, value.value, recorded)
        self.observations[key] = value
        self.new_observations.append(
            {
                "workspace": workspace,
                "observation_id": data.observation_id,
                "version": value.version,
                "recorded_at": recorded,
                "superseded_at": None,
                "campaign_id": value.campaign_id,
                "metric": value.metric,
                "period_start": value.period_start,
                "period_end": value.period_end,
                "value": value.value,
            }
        )

    def _add_total(self, workspace: str, fact: _Observation, delta: float, recorded: int) -> None:
        key = (workspace, fact.campaign_id, fact.metric, fact.period_start, fact.period_end)
        entry = self.totals.get(key)
        if entry is None:
            self.totals[key] = [delta, recorded]
        else:
            entry[0] += delta
            entry[1] = max(entry[1], recorded)

    # -- writing -----------------------------------------------------------------------------

    def flush(self) -> None:
        connection = self.connection
        self._write_links()
        for versions in (self.strategies, self.objectives, self.campaigns):
            versions.write(connection)
        if self.acks:
            connection.execute(t.acknowledgements.insert(), self.acks)
        self._write_observations()

    def _write_observations(self) -> None:
        connection, obs = self.connection, t.observations
        new_rows = self.new_observations
        superseded_new = {(r["workspace"], r["observation_id"], r["version"]): r for r in new_rows}
        for s in self.superseded:
            row = superseded_new.get((s["w"], s["i"], s["v"]))
            if row is not None:
                row["superseded_at"] = s["at"]
        # a value made and superseded within the batch is written superseded; one stored
        # before the batch is updated
        stored = [s for s in self.superseded if (s["w"], s["i"], s["v"]) not in superseded_new]
        if stored:
            connection.execute(
                update(obs)
                .where(
                    and_(
                        obs.c.workspace == bindparam("w"),
                        obs.c.observation_id == bindparam("i"),
                        obs.c.version == bindparam("v"),
                    )
                )
                .values(superseded_at=bindparam("at")),
                stored,
            )
        if new_rows:
            mark = "%s" if connection.dialect.name == "postgresql" else "?"
            connection.exec_driver_sql(
                _INSERT_OBSERVATION % ", ".join([mark] * len(_OBSERVATION_COLUMNS)),
                [tuple(row[c] for c in _OBSERVATION_COLUMNS) for row in new_rows],
            )
        if self.totals:
            _upsert_totals(connection, self.totals)


_PREFETCH = (
    f"SELECT observation_id, version, recorded_at, campaign_id, metric, period_start, "
    f"period_end, value FROM {t.observations.name} WHERE workspace = %s AND "
    "observation_id IN (%s) AND superseded_at IS NULL"
)
_OBSERVATION_COLUMNS = tuple(c.name for c in t.observations.columns)
_INSERT_OBSERVATION = (
    f"INSERT INTO {t.observations.name} ({', '.join(_OBSERVATION_COLUMNS)}) VALUES (%s)"
)


def _upsert_totals(
    connection: Connection, totals: dict[tuple[str, str, str, int, int], list[float]]
) -> None:
    """total += delta per (campaign, metric, period): one statement, the database adds."""
    latest = "GREATEST" if connection.dialect.name == "postgresql" else "MAX"
    table = t.period_totals.name
    sql = (
        f"INSERT INTO {table} (workspace, campaign_id, metric, period_start, period_end, total, "
        "last_recorded_at) VALUES (%s) ON CONFLICT (workspace, campaign_id, metric, "
        f"period_start, period_end) DO UPDATE SET total = {table}.total + excluded.total, "
        f"last_recorded_at = {latest}({table}.last_recorded_at, excluded.last_recorded_at)"
    )
    marks = ", ".join(["%s" if connection.dialect.name == "postgresql" else "?"] * 7)
    connection.exec_driver_sql(
        sql % marks,
        [(*key, delta, int(recorded)) for key, (delta, recorded) in totals.items()],
    )


def _same_fact(prior: _Observation, value: _Observation) -> bool:
    return (
        prior.campaign_id == value.campaign_id
        and prior.metric == value.metric
        and prior.period_start == value.period_start
        and prior.period_end == value.period_end
        and prior.value == value.value
    )


def _new_strategy() -> dict[str, Any]:
    return {
        "defined": False,
        "name": "",
        "owner": "",
        "target_segments": [],
        "allowed_channels": [],
        "guardrails": None,
        "periods": {},
        "change_counts": {},
        "last_change": 0,
    }


def _new_objective(strategy_id: str) -> dict[str, Any]:
    return {"strategy_id": strategy_id, "retired": False, "spec": None, "override": None}


def _new_campaign() -> dict[str, Any]:
    return {
        "name": "",
        "owner": "",
        "channel": "",
        "segment": "",
        "budget": 0.0,
        "start": 0,
        "end": 0,
        "status": "planned",
        "went_live": None,
        "stopped": None,
    }


# -- the event handlers ----------------------------------------------------------------------


def _strategy_document(writer: BatchWriter, event: StrategyDefined | StrategyRevised) -> None:
    data = event.data
    writer.strategy(event).update(
        defined=True,
        name=data.name,
        owner=data.owner,
        target_segments=list(data.target_segments),
        allowed_channels=list(data.allowed_channels),
    )


def _objective_set(writer: BatchWriter, event: ObjectiveAdded | ObjectiveRevised) -> None:
    writer.strategy(event)
    spec = event.data.objective
    writer.objective(event, spec.objective_id).update(
        strategy_id=event.aggregate_id, spec=spec.model_dump(mode="json"), retired=False
    )


def _objective_retired(writer: BatchWriter, event: ObjectiveRetired) -> None:
    writer.strategy(event)
    row = writer.objective(event, event.data.objective_id)
    row["retired"] = True
    row["strategy_id"] = row["strategy_id"] or event.aggregate_id


def _budget_planned(writer: BatchWriter, event: BudgetPlanned) -> None:
    row = writer.strategy(event)
    period = event.data.period
    row["periods"] = {**row["periods"], period.period_id: period.model_dump(mode="json")}


def _period_removed(writer: BatchWriter, event: PeriodRemoved) -> None:
    row = writer.strategy(event)
    row["periods"] = {k: v for k, v in row["periods"].items() if k != event.data.period_id}


def _guardrails_set(writer: BatchWriter, event: GuardrailsSet) -> None:
    row = writer.strategy(event)
    guardrails = event.data.guardrails.model_dump(exclude_none=True)
    if event.data.objective_id is None:
        row["guardrails"] = guardrails
        return
    objective = writer.objective(event, event.data.objective_id)
    objective["override"] = guardrails


def _drift_acknowledged(writer: BatchWriter, event: DriftAcknowledged) -> None:
    writer.strategy(event)
    writer.acks.append(
        {
            "event_id": str(event.event_id),
            "workspace": event.workspace,
            "drift_id": event.data.drift_id,
            "at": to_micros(event.occurred_at),
            "recorded_at": to_micros(event.recorded_at),
            "actor": event.actor,
            "note": event.data.note,
        }
    )


def _campaign_launched(writer: BatchWriter, event: CampaignLaunched) -> None:
    data = event.data
    writer.campaign(event, data.campaign_id).update(
        name=data.name,
        owner=data.owner,
        channel=data.channel,
        segment=data.segment,
        budget=float(data.budget),
        start=to_micros(data.start),
        end=to_micros(data.end),
        status=data.status,
        went_live=to_micros(event.occurred_at) if data.status == "live" else None,
        stopped=None,
    )
    writer.links(event, data.campaign_id, data.objective_ids)


def _objective_linked(writer: BatchWriter, event: ObjectiveLinked) -> None:
    campaign_id = event.data.campaign_id
    held = writer.linked(event.workspace, campaign_id)
    writer.links(event, campaign_id, (*held, event.data.objective_id))


def _objective_unlinked(writer: BatchWriter, event: ObjectiveUnlinked) -> None:
    campaign_id = event.data.campaign_id
    held = writer.linked(event.workspace, campaign_id)
    writer.links(event, campaign_id, [o for o in held if o != event.data.objective_id])


def _budget_changed(writer: BatchWriter, event: CampaignBudgetChanged) -> None:
    writer.campaign(event, event.data.campaign_id)["budget"] = float(event.data.budget)


def _went_live(writer: BatchWriter, event: CampaignActivated | CampaignResumed) -> None:
    row = writer.campaign(event, event.data.campaign_id)
    if row["status"] != "live":
        row["went_live"] = to_micros(event.occurred_at)
        row["status"] = "live"


def _stopped(status: str) -> Callable[[BatchWriter, Any], None]:
    def handle(writer: BatchWriter, event: CampaignPaused | CampaignEnded) -> None:
        row = writer.campaign(event, event.data.campaign_id)
        if row["status"] == "live":
            row["stopped"] = to_micros(event.occurred_at)
        row["status"] = status

    return handle


_HANDLERS: dict[type, Callable[[BatchWriter, Any], None]] = {
    StrategyDefined: _strategy_document,
    StrategyRevised: _strategy_document,
    ObjectiveAdded: _objective_set,
    ObjectiveRevised: _objective_set,
    ObjectiveRetired: _objective_retired,
    BudgetPlanned: _budget_planned,
    PeriodRemoved: _period_removed,
    GuardrailsSet: _guardrails_set,
    DriftAcknowledged: _drift_acknowledged,
    CampaignLaunched: _campaign_launched,
    ObjectiveLinked: _objective_linked,
    ObjectiveUnlinked: _objective_unlinked,
    CampaignBudgetChanged: _budget_changed,
    CampaignActivated: _went_live,
    CampaignResumed: _went_live,
    CampaignPaused: _stopped("paused"),
    CampaignEnded: _stopped("ended"),
    MetricObserved: BatchWriter.observe,
    MetricRestated: BatchWriter.observe,
}
