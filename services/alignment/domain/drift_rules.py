"""Detection of the eight drift kinds (docs/design.md, "Drift"). Every finding names the
tactic, the objective and why, with the figures behind it; thresholds are guardrails."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from truenorth.alignment.domain.drift_campaigns import (
    audience_mismatch,
    campaign_budget_overrun,
    inefficient_tactic,
    stale_data,
)
from truenorth.alignment.domain.drift_findings import Context, Finding, drift_id
from truenorth.alignment.domain.drift_objectives import idle_objectives, objective_off_pace
from truenorth.alignment.domain.drift_spend import (
    channel_budget_overrun,
    channel_mix_drift,
    untethered_spend,
)
from truenorth.alignment.domain.entities import WorkspaceView
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot, objective_snapshots
from truenorth.alignment.domain.spend import spend_by_strategy
from truenorth.alignment.store.facts import Facts

__all__ = ["Finding", "detect_drifts", "drift_id"]


def detect_drifts(
    view: WorkspaceView,
    facts: Facts,
    at: int,
    objectives: Iterable[ObjectiveSnapshot] | None = None,
    open_ids: frozenset[str] = frozenset(),
) -> Iterator[Finding]:
    """Every drift of one workspace at `at`, one at a time: 10 000 objectives can have
    25 000 drifts. `objectives`: the workspace's objective snapshots at `at`, when the caller
    has them; `open_ids`: the drifts open before, which resolve at a tighter threshold than
    they open."""
    if objectives is None:
        objectives = objective_snapshots(view, facts, at)
    spend = spend_by_strategy(view, facts, at)
    context = Context(view, facts, at, open_ids)
    yield from objective_off_pace(context, objectives)
    yield from idle_objectives(context)
    yield from untethered_spend(context, spend)
    yield from channel_mix_drift(context, spend)
    yield from channel_budget_overrun(context, spend)
    for campaign_id in sorted(view.campaigns):
        campaign = view.campaigns[campaign_id]
        yield from audience_mismatch(context, campaign)
        yield from inefficient_tactic(context, campaign)
        yield from campaign_budget_overrun(context, campaign)
        yield from stale_data(context, campaign)
