"""Observation values: keyed by (workspace, observation_id); a value recorded later than the
one counted replaces it and the latest counts once, a value recorded earlier is a stale
redelivery, the same value again a duplicate. Every value keeps its row (for `known_at`);
the per-(campaign, metric, period) totals are adjusted by the difference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, update

from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store import tables as t
from truenorth.contract.metrics import MetricObserved, MetricRestated

IN_CHUNK = 500


@dataclass
class _Observation:
    version: int
    recorded_at: int
    campaign_id: str
    metric: str
    period_start: int
    period_end: int
    value: float


class ObservationWriter:
    """Observation values of a batch: the counted value of each id read once, every new value
    kept as a row, and the per-period totals adjusted by the difference."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.counted: dict[tuple[str, str], _Observation | None] = {}
        """(workspace, observation_id) -> its counted value (None: never seen)."""
        self.new_observations: list[dict[str, Any]] = []
        self.superseded: list[dict[str, Any]] = []
        self.totals: dict[tuple[str, str, str, int, int], list[float]] = {}
        """(workspace, campaign, metric, start, end) -> [delta, last recorded_at]."""

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
            for start in range(0, len(idents), IN_CHUNK):
                chunk = idents[start : start + IN_CHUNK]
                rows = self.connection.exec_driver_sql(
                    _PREFETCH % (mark, ", ".join([mark] * len(chunk))), (workspace, *chunk)
                )
                for ident, *values in rows:
                    self.counted[(workspace, ident)] = _Observation(*values)

    def observe(self, event: MetricObserved | MetricRestated) -> None:
        data, workspace = event.data, event.workspace
        key = (workspace, data.observation_id)
        if key not in self.counted:
            self.prefetch({key})
        prior = self.counted[key]
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
        self.counted[key] = value
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

    def write(self) -> None:
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
