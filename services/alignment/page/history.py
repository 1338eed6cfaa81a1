"""An objective's path for the detail view's chart: progress and expected progress sampled
from its start to the moment asked (each sample is the objective as of that day, read the
same way as any past snapshot), and the revisions of its target or deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from truenorth.alignment.domain.entities import SpecView
from truenorth.alignment.domain.snapshot import objective_snapshot
from truenorth.alignment.domain.timeunits import from_micros, to_micros
from truenorth.alignment.store import tables as t
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.read import Moment, read_workspace

SAMPLES = 24
"""Points on the chart's progress line; a day is the finest step (facts are daily)."""


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    progress: float
    expected: float


@dataclass(frozen=True, slots=True)
class Revision:
    at: datetime
    label: str
    """What changed: "target 6M → 3.5M", "deadline 2026-12-31 → 2027-01-31"."""


def sample_moments(start: datetime, end: datetime, samples: int = SAMPLES) -> list[datetime]:
    """Day boundaries from `start` to `end` (both included), at most `samples` + 1 of them."""
    if end <= start:
        return [start]
    days = max(1, -(-(end - start).days // samples))
    moments, moment = [], start
    while moment < end:
        moments.append(moment)
        moment += timedelta(days=days)
    moments.append(end)
    return moments


def progress_samples(
    engine: Engine, workspace: str, objective_id: str, moment: Moment, spec: SpecView
) -> list[Sample]:
    end = min(from_micros(moment.as_of), spec.deadline)
    samples = []
    with engine.connect() as connection:
        for at in sample_moments(spec.start, end):
            micros = to_micros(at)
            reading = Moment(as_of=micros, known_at=moment.known_at)
            view = read_workspace(connection, workspace, reading)
            objective = view.objectives.get(objective_id)
            if objective is None or not objective.active:
                continue
            found = objective_snapshot(
                view, Facts(connection, workspace, reading), objective, micros
            )
            samples.append(Sample(at, found.progress, found.expected))
    return samples


def revisions(engine: Engine, workspace: str, objective_id: str, moment: Moment) -> list[Revision]:
    """Each version that changed the target or the deadline, as of the moment."""
    table = t.objectives
    query = (
        select(table.c.valid_from, table.c.spec)
        .where(
            table.c.workspace == workspace,
            table.c.objective_id == objective_id,
            table.c.valid_from <= moment.as_of,
        )
        .order_by(table.c.version)
    )
    if moment.known_at is not None:
        query = query.where(table.c.recorded_at <= moment.known_at)
    found: list[Revision] = []
    previous: dict[str, object] | None = None
    with engine.connect() as connection:
        for valid_from, spec in connection.execute(query):
            if spec is None:
                continue
            if previous is not None:
                changes = []
                if spec.get("target") != previous.get("target"):
                    changes.append(
                        f"target {short(previous.get('target'))} → {short(spec.get('target'))}"
                    )
                if spec.get("deadline") != previous.get("deadline"):
                    changes.append(
                        f"deadline {str(previous.get('deadline'))[:10]} → "
                        f"{str(spec.get('deadline'))[:10]}"
                    )
                if changes:
                    found.append(Revision(from_micros(int(valid_from)), ", ".join(changes)))
            previous = spec
    return found


def short(value: object) -> str:
    """6000000 → 6M, 3500000 → 3.5M, 1200 → 1.2k, 0.25 → 0.25."""
    if not isinstance(value, int | float):
        return str(value)
    number = float(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            return f"{number / size:.3g}{suffix}"
    return f"{number:.3g}"
