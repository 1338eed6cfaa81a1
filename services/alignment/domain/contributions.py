"""An objective's linked campaigns with their spend and outcome over its window.

Kept as a few tuples of references and one array of figures per objective, not an object per
(objective, campaign) pair: at 100 000 campaigns those objects and their boxed floats were
~20 MB of every snapshot. A `CampaignContribution` is made when one is read (the read API,
drift explanations, the review).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from truenorth.alignment.domain.entities import CampaignState
from truenorth.alignment.domain.progress import cost_per_outcome, outcome_per_dollar


@dataclass(frozen=True, slots=True)
class CampaignContribution:
    """A campaign linked to an objective: its spend and KPI outcome over the objective's
    window."""

    campaign_id: str
    name: str
    channel: str
    segment: str
    status: str
    spend: float
    outcome: float
    outcome_per_dollar: float | None
    cost_per_outcome: float | None


class Contributions(Sequence[CampaignContribution]):
    """Immutable: the campaigns' names, channels, segments and statuses as they were when it
    was built."""

    __slots__ = ("_channels", "_figures", "_ids", "_names", "_segments", "_statuses")

    def __init__(
        self, campaigns: Sequence[CampaignState], spend: Sequence[float], outcome: Sequence[float]
    ) -> None:
        self._ids = tuple(c.campaign_id for c in campaigns)
        self._names = tuple(c.name for c in campaigns)
        self._channels = tuple(c.channel for c in campaigns)
        self._segments = tuple(c.segment for c in campaigns)
        self._statuses = tuple(c.status for c in campaigns)
        figures = array("d")
        for pair in zip(spend, outcome, strict=True):
            figures.extend(pair)
        self._figures = figures
        """spend, outcome of each campaign in turn."""

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> CampaignContribution: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[CampaignContribution, ...]: ...

    def __getitem__(
        self, index: int | slice
    ) -> CampaignContribution | tuple[CampaignContribution, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("contribution index out of range")
        spend, outcome = self._figures[2 * index], self._figures[2 * index + 1]
        return CampaignContribution(
            campaign_id=self._ids[index],
            name=self._names[index],
            channel=self._channels[index],
            segment=self._segments[index],
            status=self._statuses[index],
            spend=spend,
            outcome=outcome,
            outcome_per_dollar=outcome_per_dollar(outcome, spend),
            cost_per_outcome=cost_per_outcome(spend, outcome),
        )

    def __iter__(self) -> Iterator[CampaignContribution]:
        return (self[i] for i in range(len(self)))

    def spend_by_channel(self) -> dict[str, float]:
        """Spend per channel, without making a contribution per campaign."""
        totals: dict[str, float] = {}
        figures = self._figures
        for i, channel in enumerate(self._channels):
            totals[channel] = totals.get(channel, 0.0) + figures[2 * i]
        return totals

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Contributions):
            return (
                self._ids == other._ids
                and self._figures == other._figures
                and self._names == other._names
                and self._channels == other._channels
                and self._segments == other._segments
                and self._statuses == other._statuses
            )
        if isinstance(other, Sequence):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._ids, self._figures.tobytes()))

    def __repr__(self) -> str:
        return f"Contributions({list(self)!r})"
