"""Detection of the eight drift kinds (docs/design.md, "Drift"). Every finding names the
tactic, the objective and why, with the figures behind it; thresholds are guardrails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from truenorth.alignment.domain.batching import batched
from truenorth.alignment.domain.campaign_reader import CampaignReader, CampaignSlice
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
    untethered_campaigns,
    untethered_spend,
)
from truenorth.alignment.domain.entities import WorkspaceView
from truenorth.alignment.domain.snapshot import objective_slices
from truenorth.alignment.domain.spend import spend_by_strategy
from truenorth.alignment.store.facts import Facts

__all__ = ["Finding", "detect_drifts", "drift_id"]


CAMPAIGNS_PER_READING = 2_500
"""A workspace with more campaigns judges them this many at a time, on their own facts
(`Facts.of_campaigns`): every campaign's readings at once were most of a tick's working set
at 100 000 campaigns (benchmarks/README.md, eighteenth session)."""


def detect_drifts(
    view: WorkspaceView,
    facts: Facts,
    at: int,
    open_ids: frozenset[str] = frozenset(),
    reader: CampaignReader | None = None,
) -> Iterator[Finding]:
    """Every drift of one workspace at `at`, one at a time: 10 000 objectives can have
    25 000 drifts. `open_ids`: the drifts open before, which resolve at a tighter threshold
    than they open. Objectives and campaigns are judged a slice at a time, each on the plan
    and the facts of its slice; `reader`: where the campaigns are read, for a plan that keeps
    none. The order of the findings is no contract."""
    context = Context(view, facts, at, open_ids)
    for part in objective_slices(view, facts, at, reader=reader):
        judged = replace(context, workspace=part.view, facts=part.facts)
        yield from objective_off_pace(judged, part.snapshots)
        yield from idle_objectives(judged, part.objectives)
    spend = spend_by_strategy(view, facts, at, reader)
    yield from untethered_spend(context, spend)
    yield from channel_mix_drift(context, spend)
    yield from channel_budget_overrun(context, spend)
    del spend  # a list per channel of every campaign's spend: not held through the slices
    for campaigns, part_facts in _campaign_slices(view, facts, reader):
        judged = replace(context, workspace=replace(view, campaigns=campaigns), facts=part_facts)
        yield from untethered_campaigns(judged)
        yield from _campaign_drifts(judged)


def _campaign_slices(
    view: WorkspaceView, facts: Facts, reader: CampaignReader | None
) -> Iterator[CampaignSlice]:
    if reader is not None:
        yield from reader.slices()
        return
    if len(view.campaigns) <= CAMPAIGNS_PER_READING:
        yield view.campaigns, facts
        return
    for chunk in batched(sorted(view.campaigns), CAMPAIGNS_PER_READING):
        yield {c: view.campaigns[c] for c in chunk}, facts.of_campaigns(chunk)


def _campaign_drifts(context: Context) -> Iterator[Finding]:
    campaigns = context.workspace.campaigns
    for campaign_id in sorted(campaigns):
        campaign = campaigns[campaign_id]
        yield from audience_mismatch(context, campaign)
        yield from inefficient_tactic(context, campaign)
        yield from campaign_budget_overrun(context, campaign)
        yield from stale_data(context, campaign)
