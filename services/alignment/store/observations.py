"""Observation values: keyed by (workspace, observation_id); a value recorded later than the
one counted replaces it and the latest counts once, a value recorded earlier is a stale
redelivery, the same value again a duplicate. Every value keeps its row (for `known_at`);
the per-(campaign, metric, period) totals are adjusted by the values removed and added."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, update

from truenorth.alignment.domain.batching import batched
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store import tables as t
from truenorth.contract.metrics import MetricObserved, MetricRestated
from truenorth.store.db import insert_rows

Row = dict[str, Any]
"""One value of an observation id: a row of `al_observations`, by column name."""


class ObservationWriter:
    """Observation values of a batch: the counted value of each id read once, every new value
    kept as a row, and the per-period totals adjusted by the difference."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.counted: dict[tuple[str, str], Row | None] = {}
        """(workspace, observation_id) -> the row of its counted value (None: never seen)."""
        self.stored: dict[tuple[str, str], Row] = {}
        """The counted rows read from the store (the others are the batch's new rows)."""
        self.new_rows: list[Row] = []
        self.superseded: list[dict[str, Any]] = []
        """Stored values that stopped counting: the update of their `superseded_at`."""
        self.totals: dict[tuple[str, str, str, int, int], _Change] = {}
        """(workspace, campaign, metric, start, end) -> the batch's change there."""

    def prefetch(self, keys: set[tuple[str, str]]) -> None:
        """Read the counted value of the batch's observation ids, a few hundred a query.

        Plain driver SQL: SQLAlchemy compiling an expanding `IN` per query was a fifth of a
        replay's time (`benchmarks/alignment_replay.py`)."""
        by_workspace: dict[str, list[str]] = {}
        for workspace, ident in keys:
            if (workspace, ident) not in self.counted:
                self.counted[(workspace, ident)] = None
                by_workspace.setdefault(workspace, []).append(ident)
        mark = "%s" if self.connection.dialect.name == "postgresql" else "?"
        for workspace, idents in by_workspace.items():
            for chunk in batched(idents, t.IDS_PER_QUERY):
                rows = self.connection.exec_driver_sql(
                    _PREFETCH % (mark, ", ".join([mark] * len(chunk))), (workspace, *chunk)
                )
                for values in rows:
                    row = dict(zip(_OBSERVATION_COLUMNS, values, strict=True))
                    key = (workspace, row["observation_id"])
                    self.counted[key] = self.stored[key] = row

    def observe(self, event: MetricObserved | MetricRestated) -> None:
        data, workspace = event.data, event.workspace
        key = (workspace, data.observation_id)
        if key not in self.counted:
            self.prefetch({key})
        prior = self.counted[key]
        recorded = to_micros(event.recorded_at)
        if prior is not None and recorded < prior["recorded_at"]:
            return  # a stale redelivery: a later value is counted already
        row: Row = {
            "workspace": workspace,
            "observation_id": data.observation_id,
            "version": 0 if prior is None else prior["version"] + 1,
            "recorded_at": recorded,
            "superseded_at": None,
            "campaign_id": data.campaign_id,
            "metric": data.metric,
            "period_start": to_micros(data.period_start),
            "period_end": to_micros(data.period_end),
            "value": float(data.value),
        }
        if prior is not None:
            if _same_fact(prior, row):
                return  # a duplicate
            if self.stored.get(key) is prior:
                ident, version = data.observation_id, prior["version"]
                self.superseded.append({"w": workspace, "i": ident, "v": version, "at": recorded})
            else:  # made by this batch: written superseded
                prior["superseded_at"] = recorded
            self._change(prior, recorded).remove(data.observation_id, prior["value"])
        self._change(row, recorded).added[data.observation_id] = row["value"]
        self.counted[key] = row
        self.new_rows.append(row)

    def _change(self, fact: Row, recorded: int) -> _Change:
        key = (
            fact["workspace"],
            fact["campaign_id"],
            fact["metric"],
            fact["period_start"],
            fact["period_end"],
        )
        change = self.totals.get(key)
        if change is None:
            change = self.totals[key] = _Change(last_recorded_at=recorded)
        else:
            change.last_recorded_at = max(change.last_recorded_at, recorded)
        return change

    def write(self) -> None:
        connection, obs = self.connection, t.observations
        if self.superseded:
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
                self.superseded,
            )
        insert_rows(connection, obs, self.new_rows)
        if self.totals:
            _upsert_totals(connection, self.totals)


_OBSERVATION_COLUMNS = tuple(c.name for c in t.observations.columns)
_PREFETCH = (
    f"SELECT {', '.join(_OBSERVATION_COLUMNS)} FROM {t.observations.name} WHERE workspace = %s "
    "AND observation_id IN (%s) AND superseded_at IS NULL"
)


@dataclass
class _Change:
    """What a batch changes in one period's total."""

    last_recorded_at: int
    added: dict[str, float] = field(default_factory=dict)
    """observation_id -> the value it now counts with, for the values the batch set."""
    removed: list[float] = field(default_factory=list)
    """Values stored before the batch that no longer count here."""

    def remove(self, observation_id: str, value: float) -> None:
        if self.added.pop(observation_id, None) is None:
            self.removed.append(value)


def _upsert_totals(
    connection: Connection, totals: dict[tuple[str, str, str, int, int], _Change]
) -> None:
    """New values are added to their period's total (one upsert); a period that lost values
    stored before the batch is updated as (total - removed) + added, in that order.

    Adding the difference instead (total + (added - removed)) left 0.8999999999999999 for
    0.2 restated to 0.9 in a later batch and 0.9 within one batch: floating-point addition
    is not associative, so totals, and the digest, depended on where batches were cut, and a
    live store's digest differed from a replay's. Subtracting first gives a period with one
    observation id exactly its counted value, whatever the batches."""
    postgres = connection.dialect.name == "postgresql"
    latest = "GREATEST" if postgres else "MAX"
    mark = "%s" if postgres else "?"
    table = t.period_totals.name
    added = [
        {
            "workspace": workspace,
            "campaign_id": campaign_id,
            "metric": metric,
            "period_start": start,
            "period_end": end,
            "total": sum(change.added.values(), 0.0),
            "last_recorded_at": change.last_recorded_at,
        }
        for (workspace, campaign_id, metric, start, end), change in totals.items()
        if not change.removed
    ]
    insert_rows(
        connection,
        t.period_totals,
        added,
        "ON CONFLICT (workspace, campaign_id, metric, period_start, period_end) DO UPDATE SET "
        f"total = {table}.total + excluded.total, last_recorded_at = "
        f"{latest}({table}.last_recorded_at, excluded.last_recorded_at)",
    )
    replaced = [
        (sum(change.removed), sum(change.added.values(), 0.0), change.last_recorded_at, *key)
        for key, change in totals.items()
        if change.removed
    ]
    if replaced:
        connection.exec_driver_sql(
            f"UPDATE {table} SET total = (total - {mark}) + {mark}, last_recorded_at = "
            f"{latest}(last_recorded_at, {mark}) WHERE workspace = {mark} AND campaign_id = "
            f"{mark} AND metric = {mark} AND period_start = {mark} AND period_end = {mark}",
            replaced,
        )


def _same_fact(prior: Row, value: Row) -> bool:
    return (
        prior["campaign_id"] == value["campaign_id"]
        and prior["metric"] == value["metric"]
        and prior["period_start"] == value["period_start"]
        and prior["period_end"] == value["period_end"]
        and prior["value"] == value["value"]
    )
