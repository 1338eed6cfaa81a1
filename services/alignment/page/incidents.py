"""Incidents as the page shows them: the read API's incident JSON (history, acknowledgements
with their notes, the revisions that answered them), grouped by what they are about (an
objective, campaigns, channels) so thirteen drifts read as a few groups, not a wall."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from truenorth.alignment.api import incident_json
from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.store.drifts import lifecycle
from truenorth.alignment.store.read import Moment

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
CAUSE_GROUPS = {"campaign": "Campaigns", "channel": "Channels", "strategy": "Strategy"}


@dataclass
class IncidentGroup:
    key: str
    title: str
    objective_id: str | None = None
    incidents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def worst(self) -> str:
        return min((i["severity"] for i in self.incidents), key=lambda s: SEVERITY_RANK.get(s, 3))

    @property
    def drift_count(self) -> int:
        return sum(len(i["facets"]) for i in self.incidents)


def read_incidents(
    engine: Engine, workspaces: Iterable[str], moment: Moment, status: str = "open"
) -> list[dict[str, Any]]:
    found = []
    with engine.connect() as connection:
        for workspace in workspaces:
            for incident in lifecycle(connection, workspace, moment).incidents(workspace):
                if status == "all" or incident.status == status:
                    body = {"workspace": workspace, **incident_json(incident)}
                    for facet in body["facets"]:
                        facet["subject"] = facet_subject(facet)
                    found.append(body)
    return found


def objective_of(incident: dict[str, Any]) -> str | None:
    cause = incident.get("cause") or {}
    if cause.get("objective"):
        return str(cause["objective"])
    for facet in incident["facets"]:
        if facet.get("objective_id"):
            return str(facet["objective_id"])
    return None


def strategy_of(incident: dict[str, Any], snapshot: Snapshot | None) -> str | None:
    """The strategy whose feedback inbox acknowledges it."""
    for facet in incident["facets"]:
        if facet.get("strategy_id"):
            return str(facet["strategy_id"])
    workspace = incident.get("workspace", "")
    objective_id = objective_of(incident)
    if snapshot is not None and objective_id:
        found = snapshot.objective(workspace, objective_id)
        if found is not None:
            return found.strategy_id
    if snapshot is not None:
        owned = {s.strategy_id for s in snapshot.strategies if s.workspace == workspace}
        if len(owned) == 1:
            return owned.pop()
    return None


def concerns(incident: dict[str, Any], objective_id: str, campaign_ids: set[str]) -> bool:
    """Whether an incident is about an objective: names it, or is caused by one of its
    campaigns."""
    if objective_of(incident) == objective_id:
        return True
    cause = incident.get("cause") or {}
    return cause.get("campaign") in campaign_ids


def grouped(incidents: list[dict[str, Any]], snapshot: Snapshot | None) -> list[IncidentGroup]:
    groups: dict[str, IncidentGroup] = {}
    for incident in sorted(incidents, key=_order):
        incident["strategy_id"] = strategy_of(incident, snapshot)
        workspace = incident.get("workspace", "")
        objective_id = objective_of(incident)
        if objective_id is not None:
            found = snapshot.objective(workspace, objective_id) if snapshot else None
            key = f"objective:{workspace}:{objective_id}"
            title = f"Objective: {found.name if found else objective_id}"
        else:
            kind = next(iter(sorted(incident.get("cause") or {})), "")
            key = f"cause:{workspace}:{kind}"
            title = CAUSE_GROUPS.get(kind, "Other")
        group = groups.setdefault(key, IncidentGroup(key, title, objective_id))
        group.incidents.append(incident)
    return sorted(groups.values(), key=lambda g: (SEVERITY_RANK.get(g.worst, 3), g.title))


def _order(incident: dict[str, Any]) -> tuple[int, str, str]:
    return (
        SEVERITY_RANK.get(incident["severity"], 3),
        incident["opened_at"],
        incident["incident_id"],
    )


def facet_subject(facet: dict[str, Any]) -> str:
    parts = []
    if facet.get("objective_id"):
        parts.append(f"objective {facet['objective_id']}")
    if facet.get("channel"):
        parts.append(f"channel {facet['channel']}")
    if facet.get("campaign_ids"):
        parts.append("campaigns " + ", ".join(facet["campaign_ids"]))
    return " · ".join(parts)


def by_severity(incidents: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for incident in incidents:
        counts[incident["severity"]] += 1
    return counts
