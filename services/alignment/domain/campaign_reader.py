"""How the rules reach the campaigns of a workspace too large to hold them (docs/design.md,
"Drift ticks"): read when the rules come to them, a slice at a time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from truenorth.alignment.domain.entities import CampaignView
from truenorth.alignment.store.facts import Facts

CampaignSlice = tuple[Mapping[str, CampaignView], Facts]
"""Some campaigns, by id, with their facts."""


class CampaignReader(Protocol):
    """The campaigns of a plan that keeps none (`store.plans.KEPT_CAMPAIGNS`)."""

    def linked(self, objective_ids: Sequence[str]) -> Mapping[str, CampaignView]:
        """The campaigns linked to these objectives, each with its links to them."""
        ...

    def slices(self) -> Iterator[CampaignSlice]:
        """Every campaign the rules judge, launched or known only from its metrics, a slice at
        a time in the order of their ids, each with its facts."""
        ...
