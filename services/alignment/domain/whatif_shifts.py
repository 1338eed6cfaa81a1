"""A what-if request's shifts (docs/design.md, "What-if"): budget moved from a channel or
campaign to another, checked against the situation (each refusal naming its request field),
and what a source has left to give. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from truenorth.alignment.domain.whatif_situation import Situation

EndKind = Literal["channel", "campaign"]


@dataclass(frozen=True, slots=True)
class End:
    """One side of a shift: a channel or a campaign."""

    kind: EndKind
    ident: str

    def __str__(self) -> str:
        return f"{self.kind} {self.ident}"


@dataclass(frozen=True, slots=True)
class Shift:
    source: End
    target: End
    amount: float


@dataclass(frozen=True, slots=True)
class Problem:
    """A shift the model refuses, with the request field it names."""

    field: str
    message: str
    type: str


class ShiftRefused(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = tuple(problems)


def check(situation: Situation, shifts: Sequence[Shift], start: datetime) -> None:
    """ShiftRefused naming each field: an unknown campaign, a channel the strategy does not
    allow, a non-positive amount, more than the source's remaining planned budget, a start
    outside the period."""
    problems: list[Problem] = []
    period = situation.period
    if period is None:
        problems.append(
            Problem("period_id", f"strategy {situation.strategy_id!r} has no such period", "period")
        )
    elif start >= period.end:
        problems.append(
            Problem("from", f"{start.date()} is after period {period.period_id}'s end", "period")
        )
    taken: dict[End, float] = {}
    for index, shift in enumerate(shifts):
        here = f"shifts[{index}]"
        problems.extend(_end_problems(situation, shift.source, f"{here}.from", receiving=False))
        problems.extend(_end_problems(situation, shift.target, f"{here}.to", receiving=True))
        if shift.source == shift.target:
            problems.append(Problem(f"{here}.to", "is the same as from", "same"))
        if not (shift.amount > 0 and math.isfinite(shift.amount)):
            problems.append(Problem(f"{here}.amount", "must be a positive amount", "amount"))
            continue
        taken[shift.source] = taken.get(shift.source, 0.0) + shift.amount
        available = remaining(situation, shift.source)
        if available is not None and taken[shift.source] > available + 1e-6:
            problems.append(
                Problem(
                    f"{here}.amount",
                    f"{taken[shift.source]:,.2f} is more than {shift.source}'s remaining "
                    f"planned budget ({available:,.2f})",
                    "over_budget",
                )
            )
    if problems:
        raise ShiftRefused(problems)


def _end_problems(situation: Situation, end: End, where: str, *, receiving: bool) -> list[Problem]:
    allowed = situation.allowed_channels
    if end.kind == "campaign":
        campaign = situation.campaigns.get(end.ident)
        if campaign is None:
            whose = (
                f"is not a campaign of strategy {situation.strategy_id!r}"
                if end.ident in situation.known_campaigns
                else "is not a known campaign"
            )
            return [Problem(f"{where}.campaign", f"{end.ident!r} {whose}", "unknown_campaign")]
        if receiving and allowed and campaign.channel not in allowed:
            return [
                Problem(f"{where}.campaign", _not_allowed(situation, campaign.channel), "channel")
            ]
        return []
    if receiving and allowed and end.ident not in allowed:
        return [Problem(f"{where}.channel", _not_allowed(situation, end.ident), "channel")]
    return []


def _not_allowed(situation: Situation, channel: str) -> str:
    return (
        f"channel {channel!r} is not allowed by strategy {situation.strategy_id!r} "
        f"(allowed channels: {', '.join(situation.allowed_channels)})"
    )


def remaining(situation: Situation, end: End) -> float | None:
    """What a source can give: a channel's planned share of the period budget less its spend
    in the period, a campaign's budget less its spend; None without a period."""
    if end.kind == "campaign":
        campaign = situation.campaigns.get(end.ident)
        return None if campaign is None else max(0.0, campaign.remaining_budget)
    period = situation.period
    if period is None:
        return None
    planned = period.budget * period.channel_mix.get(end.ident, 0.0) / 100
    return max(0.0, planned - situation.period_spend_by_channel.get(end.ident, 0.0))
