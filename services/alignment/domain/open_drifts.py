"""What a snapshot shows of the open drifts: how many are open by subject, kind and severity
(`truenorth_drift_open`), and each open incident with the highest severity among its facets
(`truenorth_incident_open`, so an alert fires once per cause).

A snapshot keeps this summary, not the drifts: the page and the read API take explanations and
figures from the drift rows. At 10 000 objectives / 100 000 stale campaigns a snapshot kept
122 788 open drifts, ~48 MB as one object each, against ~19 MB as incidents and counts
(benchmarks/README.md, fifteenth session).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from truenorth.drift_lifecycle import severity_rank


class ShownDrift(NamedTuple):
    """An open drift, as much of it as the summary counts and groups."""

    drift_id: str
    strategy_id: str | None
    objective_id: str | None
    kind: str
    severity: str
    incident_id: str | None

    @property
    def incident(self) -> str:
        """The incident it is a facet of, as `DriftData.incident`: its own id when none."""
        return self.incident_id or self.drift_id


@dataclass(frozen=True, slots=True, order=True)
class DriftCount:
    workspace: str
    strategy_id: str
    """Empty when the drift names no strategy; likewise `objective_id`."""
    objective_id: str
    kind: str
    severity: str
    count: int


@dataclass(frozen=True, slots=True, order=True)
class OpenIncident:
    workspace: str
    strategy_id: str
    incident: str
    severity: str
    """The highest among its open facets."""


@dataclass(frozen=True, slots=True)
class OpenDrifts:
    counts: tuple[DriftCount, ...] = ()
    incidents: tuple[OpenIncident, ...] = ()

    @classmethod
    def of(cls, workspace: str, drifts: Iterable[ShownDrift]) -> OpenDrifts:
        """The summary of one workspace's open drifts. Subjects, kinds and severities repeat
        across thousands of drifts: one string each."""
        counts: dict[tuple[str, str, str, str], int] = {}
        worst: dict[tuple[str, str], str] = {}
        for drift in drifts:
            strategy = sys.intern(drift.strategy_id or "")
            severity = sys.intern(drift.severity)
            key = (strategy, sys.intern(drift.objective_id or ""), sys.intern(drift.kind), severity)
            counts[key] = counts.get(key, 0) + 1
            incident = (strategy, drift.incident)
            if severity_rank(severity) > severity_rank(worst.get(incident, "")):
                worst[incident] = severity
        return cls(
            counts=tuple(DriftCount(workspace, *key, n) for key, n in sorted(counts.items())),
            incidents=tuple(
                OpenIncident(workspace, strategy, incident, severity)
                for (strategy, incident), severity in sorted(worst.items())
            ),
        )

    @classmethod
    def merged(cls, parts: Iterable[OpenDrifts]) -> OpenDrifts:
        """The summaries of several workspaces (each in one part only), in one."""
        listed = list(parts)
        return cls(
            counts=tuple(sorted(c for part in listed for c in part.counts)),
            incidents=tuple(sorted(i for part in listed for i in part.incidents)),
        )

    def workspaces(self) -> set[str]:
        return {c.workspace for c in self.counts}
