"""Detection of the eight drift kinds (docs/design.md, "Drift"). Every finding names the
tactic, the objective and why, with the figures behind it; thresholds are guardrails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from truenorth.alignment.domain.batching import batched
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
from truenorth.alignment.domain.snapshot import objective_slices
from truenorth.alignment.domain.spend import spend_by_strategy
from truenorth.alignment.store.facts import Facts

__all__ = ["Finding", "detect_drifts", "drift_id"]


CAMPAIGNS_PER_READING = 5_000
"""A workspace with more campaigns judges them this many at a time, on their own facts
(`Facts.of_campaigns`): every campaign's readings at once were most of a tick's working set
at 100 000 campaigns (benchmarks/README.md, eighteenth session)."""


def detect_drifts(
    view: WorkspaceView, facts: Facts, at: int, open_ids: frozenset[str] = frozenset()
) -> Iterator[Finding]:
    """Every drift of one workspace at `at`, one at a time: 10 000 objectives can have
    25 000 drifts. `open_ids`: the drifts open before, which resolve at a tighter threshold
    than they open. Objectives and campaigns are judged a slice at a time, each on the facts
    of its slice."""
    context = Context(view, facts, at, open_ids)
    for part, objectives in objective_slices(view, facts, at):
        yield from objective_off_pace(replace(context, facts=part), objectives)
    yield from idle_objectives(context)
    spend = spend_by_strategy(view, facts, at)
    yield from untethered_spend(context, spend)
    yield from channel_mix_drift(context, spend)
    yield from channel_budget_overrun(context, spend)
    del spend  # a list per channel of every campaign's spend: not held through the slices
    campaign_ids = sorted(view.campaigns)
    for chunk in batched(campaign_ids, CAMPAIGNS_PER_READING):
        part = facts if len(campaign_ids) <= CAMPAIGNS_PER_READING else facts.of_campaigns(chunk)
        yield from _campaign_drifts(replace(context, facts=part), chunk)


def _campaign_drifts(context: Context, campaign_ids: list[str]) -> Iterator[Finding]:
    for campaign_id in campaign_ids:
        campaign = context.workspace.campaigns[campaign_id]
        yield from audience_mismatch(context, campaign)
        yield from inefficient_tactic(context, campaign)
        yield from campaign_budget_overrun(context, campaign)
        yield from stale_data(context, campaign)
