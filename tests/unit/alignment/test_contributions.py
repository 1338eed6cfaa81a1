"""Contributions read like a tuple of CampaignContribution while holding a few tuples."""

from __future__ import annotations

import pytest

from truenorth.alignment.domain.contributions import CampaignContribution, Contributions
from truenorth.alignment.domain.entities import CampaignState


def campaign(campaign_id: str, channel: str, status: str = "live") -> CampaignState:
    state = CampaignState(campaign_id)
    state.name, state.channel, state.segment, state.status = (
        campaign_id.upper(),
        channel,
        "smb",
        status,
    )
    return state


def test_contributions_read_like_the_campaigns_they_were_built_from() -> None:
    a, b = campaign("c-a", "search"), campaign("c-b", "social", "paused")
    contributions = Contributions([a, b], [100.0, 0.0], [4.0, 0.0])
    assert len(contributions) == 2
    assert contributions[0] == CampaignContribution(
        "c-a", "C-A", "search", "smb", "live", 100.0, 4.0, 0.04, 25.0
    )
    assert contributions[-1].cost_per_outcome is None and contributions[-1].status == "paused"
    assert [c.campaign_id for c in contributions] == ["c-a", "c-b"]
    assert contributions[1:] == (contributions[1],)
    with pytest.raises(IndexError):
        contributions[2]


def test_contributions_keep_what_the_campaign_was_when_built() -> None:
    a = campaign("c-a", "search")
    contributions = Contributions([a], [10.0], [1.0])
    a.status, a.name = "ended", "renamed"
    assert contributions[0].status == "live" and contributions[0].name == "C-A"


def test_spend_by_channel_adds_campaigns_of_one_channel() -> None:
    campaigns = [campaign("c-a", "search"), campaign("c-b", "social"), campaign("c-c", "search")]
    contributions = Contributions(campaigns, [1.5, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert contributions.spend_by_channel() == {"search": 4.5, "social": 2.0}


def test_equal_contributions_compare_equal_to_each_other_and_to_tuples() -> None:
    a = campaign("c-a", "search")
    first, second = Contributions([a], [1.0], [2.0]), Contributions([a], [1.0], [2.0])
    assert first == second and hash(first) == hash(second)
    assert first == tuple(second) and first != Contributions([a], [1.0], [3.0])
