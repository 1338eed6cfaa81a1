"""What every drift rule shares: the finding it yields, its stable id, the context it reads
(one workspace's view and facts at one time) and the wording of figures."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from truenorth.alignment.domain.entities import CampaignView, WorkspaceView
from truenorth.alignment.domain.timeunits import from_micros
from truenorth.alignment.store.facts import Facts
from truenorth.contract.alignment import DriftData
from truenorth.contract.common import SPEND_METRIC, DriftKind, Guardrails, Severity
from truenorth.contract.thresholds import Side, is_drifting
from truenorth.drift_lifecycle import cause_for, incident_id_for

_NOT_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def drift_id(workspace: str, kind: str, subject: str) -> str:
    """Stable Slug for (workspace, kind, subject): readable prefix + 12 hex digits of hash."""
    digest = hashlib.sha256(f"{workspace}\x1f{kind}\x1f{subject}".encode()).hexdigest()[:12]
    readable = _NOT_SLUG.sub("-", f"{kind}-{subject}").strip("-_")
    return f"{readable[: 64 - 13].rstrip('-_')}-{digest}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One drift as detected now."""

    workspace: str
    kind: DriftKind
    subject: str
    severity: Severity
    explanation: str
    figures: dict[str, float] = field(default_factory=dict)
    strategy_id: str | None = None
    objective_id: str | None = None
    campaign_ids: tuple[str, ...] = ()
    channel: str | None = None
    spend_by_campaign: dict[str, float] = field(default_factory=dict)
    """The spend behind a channel or workspace drift, per campaign: a campaign carrying most
    of it is the drift's cause (one incident with that campaign's own drifts)."""

    @property
    def drift_id(self) -> str:
        return drift_id(self.workspace, self.kind, self.subject)

    @property
    def cause(self) -> dict[str, str]:
        return cause_for(
            self.kind,
            objective_id=self.objective_id,
            campaign_ids=self.campaign_ids,
            channel=self.channel,
            spend_by_campaign=self.spend_by_campaign,
        )

    def published(self) -> dict[str, Any]:
        """The fields a material change is judged on, as `to_data` publishes them (JSON)."""
        return {
            "severity": self.severity,
            "channel": self.channel or None,
            "objective_id": self.objective_id,
            "campaign_ids": self.campaign_ids,
            "figures": self._published_figures(),
        }

    def to_data(self) -> DriftData:
        cause = self.cause
        return DriftData(
            incident_id=incident_id_for(cause) or self.drift_id,
            cause=cause,
            drift_id=self.drift_id,
            kind=self.kind,
            severity=self.severity,
            strategy_id=self.strategy_id or None,
            objective_id=self.objective_id,
            campaign_ids=self.campaign_ids,
            channel=self.channel or None,
            explanation=self.explanation[:4000],
            figures=self._published_figures(),
        )

    def _published_figures(self) -> dict[str, float]:
        return {k: round(v, 6) for k, v in self.figures.items() if math.isfinite(v)}


@dataclass(frozen=True, slots=True)
class Context:
    workspace: WorkspaceView
    facts: Facts
    at: int
    open_ids: frozenset[str] = frozenset()
    """Drifts open before this evaluation: they resolve at a tighter threshold than they open
    (hysteresis)."""

    def drifting(
        self,
        subject_drift_id: str,
        value: float,
        threshold: float,
        side: Side,
        guardrails: Guardrails,
        nominal: float | None = None,
    ) -> bool:
        return is_drifting(
            value,
            threshold,
            side=side,
            was_open=subject_drift_id in self.open_ids,
            hysteresis=guardrails.resolve_hysteresis,
            nominal=nominal,
        )

    def drift_id(self, kind: str, subject: str) -> str:
        return drift_id(self.name, kind, subject)

    @property
    def name(self) -> str:
        return self.workspace.name

    def objective_label(self, objective_id: str) -> str:
        objective = self.workspace.objectives.get(objective_id)
        if objective is None or objective.spec is None:
            return objective_id
        return f"{objective.spec.name} ({objective_id})"

    def campaign_guardrails(self, campaign: CampaignView) -> Guardrails:
        """The first active linked objective's guardrails, else its strategy's defaults."""
        for objective_id in self.workspace.active_objective_ids(campaign):
            return self.workspace.effective_guardrails(self.workspace.objectives[objective_id])
        strategies = self.workspace.strategies_of(campaign)
        return self.workspace.strategy_guardrails(strategies[0] if strategies else None)

    def strategy_of(self, campaign: CampaignView) -> str | None:
        strategies = self.workspace.strategies_of(campaign)
        return strategies[0] if strategies else None

    def spend(self, campaign: CampaignView, window: tuple[int, int] | None) -> float:
        return self.facts.sums(SPEND_METRIC, window).get(campaign.campaign_id, 0.0)


# -- formatting ------------------------------------------------------------------------------


def num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def money(value: float) -> str:
    return f"${value:,.0f}"


def pct(ratio: float) -> str:
    return f"{ratio * 100:.0f} %"


def listing(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def campaign_label(campaign: CampaignView) -> str:
    channel = campaign.channel or "unknown channel"
    return f"{campaign.campaign_id} ({channel})"


def iso(micros: int) -> str:
    return from_micros(micros).strftime("%Y-%m-%d %H:%M UTC")
