"""Gathering a batch's effects on strategies, objectives, campaigns, links and
acknowledgements in plain dicts, and writing them at the end of the batch (`flush`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from truenorth.alignment.domain.batching import batched
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store import tables as t
from truenorth.alignment.store.links import LinkWriter
from truenorth.alignment.store.observations import ObservationWriter
from truenorth.contract.envelope import EnvelopeFields


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

    def prefetch(self, connection: Connection, keys: Iterable[tuple[str, str]]) -> None:
        """Read the current rows of `keys`, a few hundred a query: with a query per key (and
        up to four per link event) the CAMPAIGNS stream cost ~500 µs CPU an event, read per
        batch ~75 µs (`benchmarks/fold_cpu.py`)."""
        by_workspace: dict[str, list[str]] = {}
        for workspace, ident in keys:
            if (workspace, ident) not in self.loaded:
                self.loaded[(workspace, ident)] = 0
                by_workspace.setdefault(workspace, []).append(ident)
        if not by_workspace:
            # a metric batch has none to read, and building the query cost ~0.5 ms of the
            # ~2.2 ms CPU a 40-event metric batch took (2026-12-04)
            return
        table, key = self.table, self.table.c[self.key_column]
        older = table.alias("older")
        # the newest version, found through the primary key: a filter on `current` let SQLite
        # pick ix_*_current and walk every current row of the workspace (0.75 s for 500
        # lookups at 2 000 stored campaigns, 4.4 s at 20 000)
        newest = (
            select(func.max(older.c.version))
            .where(
                older.c.workspace == table.c.workspace,
                older.c[self.key_column] == key,
            )
            .scalar_subquery()
        )
        query = select(table).where(
            table.c.workspace == bindparam("w"),
            key.in_(bindparam("ids", expanding=True)),
            table.c.version == newest,
        )
        for workspace, idents in by_workspace.items():
            for chunk in batched(idents, t.IDS_PER_QUERY):
                for row in connection.execute(query, {"w": workspace, "ids": chunk}).mappings():
                    found = (workspace, row[self.key_column])
                    self.loaded[found] = int(row["version"])
                    self.current[found] = dict(row)

    def latest(self, connection: Connection, workspace: str, ident: str) -> dict[str, Any] | None:
        if (workspace, ident) not in self.loaded:
            self.prefetch(connection, [(workspace, ident)])
        return self.current.get((workspace, ident))

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
        touched = self._touched()  # once: per loaded key it made a batch quadratic
        retired = [(k, version) for k, version in self.loaded.items() if version and k in touched]
        if retired:
            connection.execute(
                update(table)
                .where(
                    table.c.workspace == bindparam("w"),
                    table.c[self.key_column] == bindparam("i"),
                    table.c.version == bindparam("v"),
                )
                .values(current=False),
                [{"w": w, "i": i, "v": v} for (w, i), v in retired],
            )
        newest = {(r["workspace"], r[self.key_column]): r["version"] for r in self.new}
        for row in self.new:
            row["current"] = newest[(row["workspace"], row[self.key_column])] == row["version"]
        connection.execute(table.insert(), self.new)

    def _touched(self) -> set[tuple[str, str]]:
        return {(r["workspace"], r[self.key_column]) for r in self.new}


class BatchWriter:
    """A batch's effects, gathered in dicts and written by `flush`: new versions of
    strategies, objectives and campaigns, link changes, acknowledgements, check-ins, and
    observations (`ObservationWriter`)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.strategies = _Versions(t.strategies, "strategy_id")
        self.objectives = _Versions(t.objectives, "objective_id")
        self.campaigns = _Versions(t.campaigns, "campaign_id")
        self.link_rows = LinkWriter(connection)
        self.acks: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.checkins: list[dict[str, Any]] = []
        self.observations = ObservationWriter(connection)

    def prefetch(
        self,
        strategies: set[tuple[str, str]],
        objectives: set[tuple[str, str]],
        campaigns: set[tuple[str, str]],
        observations: set[tuple[str, str]],
    ) -> None:
        """Read what the batch's events will change, by (workspace, id), in a few queries."""
        self.strategies.prefetch(self.connection, strategies)
        self.objectives.prefetch(self.connection, objectives)
        self.campaigns.prefetch(self.connection, campaigns)
        self.link_rows.prefetch(campaigns)
        self.observations.prefetch(observations)

    # -- strategy ----------------------------------------------------------------------------

    def strategy(self, event: EnvelopeFields) -> dict[str, Any]:
        """A new version of the event's strategy (every strategy event is a change of it); a
        change made `in_response_to` a drift or incident is kept as its answer."""
        self._answer(event)
        workspace, strategy_id = event.workspace, event.aggregate_id
        previous = self.strategies.latest(self.connection, workspace, strategy_id)
        row = dict(previous) if previous else _new_strategy()
        counts = dict(row["change_counts"])
        kind = str(getattr(event, "type", type(event).__name__))
        counts[kind] = counts.get(kind, 0) + 1
        row |= {
            "valid_from": to_micros(event.occurred_at),
            "recorded_at": to_micros(event.recorded_at),
            "change_counts": counts,
            "last_change": max(int(row["last_change"]), to_micros(event.occurred_at)),
        }
        self.strategies.append(workspace, strategy_id, row)
        return row

    def _answer(self, event: EnvelopeFields) -> None:
        data = getattr(event, "data", None)
        target = getattr(data, "in_response_to", None)
        if target is None:
            return
        objective = getattr(data, "objective", None)
        self.answers.append(
            {
                "event_id": str(event.event_id),
                "workspace": event.workspace,
                "target_id": str(target),
                "event_type": str(getattr(event, "type", type(event).__name__)),
                "at": to_micros(event.occurred_at),
                "recorded_at": to_micros(event.recorded_at),
                "actor": event.actor,
                "reason": str(getattr(data, "reason", "")),
                "objective_id": getattr(objective or data, "objective_id", None),
            }
        )

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
        self.link_rows.change(
            event.workspace,
            campaign_id,
            objective_ids,
            to_micros(event.occurred_at),
            to_micros(event.recorded_at),
        )

    def linked(self, workspace: str, campaign_id: str) -> tuple[str, ...]:
        return self.link_rows.held(workspace, campaign_id)

    # -- writing -----------------------------------------------------------------------------

    def flush(self) -> None:
        connection = self.connection
        self.link_rows.write()
        for versions in (self.strategies, self.objectives, self.campaigns):
            versions.write(connection)
        if self.acks:
            connection.execute(t.acknowledgements.insert(), self.acks)
        if self.answers:
            connection.execute(t.answers.insert(), self.answers)
        if self.checkins:
            connection.execute(t.checkins.insert(), self.checkins)
        self.observations.write()


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
