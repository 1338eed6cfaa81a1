"""The quarterly strategy-to-tactics review as a pure function of the event log.

`build_review(events, period, as_of, workspace=..., strategy_id=...)` takes decoded events (any
order, any workspace), and returns a `Review` of plain numbers; rendering (Markdown, HTML) and
reading the log (NATS) live elsewhere, so the same log always gives the same review.

Time axis: `as_of` as everywhere (docs/design.md, "Time travel"), by when things happened in
the world, not by when they were recorded (a simulated or back-filled quarter is recorded long
after it happened):

- strategy, campaign and drift events count when `occurred_at <= T`;
- a metric observation (or restatement) counts when its `period_end <= T`: the latest value
  recorded for it counts, even if the restatement was recorded after T, so a closed quarter
  reports the platforms' final figures.

The events are folded by the alignment service's own fold into a scratch store, in the order
(time, stream, position in the log), and read as of every sample (daily by default, plus T
itself) with the read API's one definition of `as_of`
(`truenorth.alignment.store.read`), which gives the progress / pace / forecast series of the
charts; the headline figures are the reading at T. Strategy history (who changed what, why,
in answer to which drift) comes from the strategy aggregate folded from the same events.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from truenorth.alignment.domain.contributions import CampaignContribution, campaign_outcome
from truenorth.alignment.domain.entities import CampaignView, SpecView, WorkspaceView
from truenorth.alignment.domain.progress import (
    channel_shares,
    cost_per_outcome,
    outcome_per_dollar,
)
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.fold import fold_events
from truenorth.alignment.store.read import Moment, read_workspace
from truenorth.alignment.views import build_snapshot
from truenorth.contract.alignment import DriftDetected, DriftResolved, DriftUpdated
from truenorth.contract.campaigns import CAMPAIGN_EVENTS
from truenorth.contract.common import SPEND_METRIC, PeriodPlan
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import MetricObserved, MetricRestated
from truenorth.contract.strategy import (
    STRATEGY_EVENTS,
    BudgetPlanned,
    DriftAcknowledged,
    GuardrailsSet,
    ObjectiveCheckedIn,
    StrategyRevised,
)
from truenorth.drift_lifecycle import DriftLifecycle, DriftRecord
from truenorth.review.checkins import CheckInReview, checkin_reviews, checkin_summary
from truenorth.store.db import migrate
from truenorth.strategy.domain.aggregate import Strategy
from truenorth.strategy.domain.changes import FieldChange, diff_models, show
from truenorth.timeparse import end_of_day, parse_instant, start_of_day

DEFAULT_STEP = timedelta(days=1)
MAX_SAMPLES = 400
"""Charts need no more points than this; longer periods get a coarser step."""

# -- period and as-of syntax -------------------------------------------------------------------


PeriodKind = Literal["quarter", "month", "days", "plan"]


@dataclass(frozen=True)
class Period:
    """[start, end): `end` is exclusive (2026-Q4 ends at 2027-01-01T00:00Z)."""

    label: str
    start: datetime
    end: datetime
    kind: PeriodKind = "days"
    """How it was named: a calendar quarter or month, a range of days, or one of the
    strategy's own planning periods."""


_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_RANGE = re.compile(r"^(.+)\.\.(.+)$")


def _month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def parse_period(text: str) -> Period:
    """`2026-Q4`, `2026-11` (a month) or `2026-10-01..2026-12-31` (both days included)."""
    text = text.strip()
    if match := _QUARTER.match(text):
        year, quarter = int(match[1]), int(match[2])
        first = 3 * (quarter - 1) + 1
        return Period(
            f"{year}-Q{quarter}",
            _month_start(year, first),
            _month_start(year, first + 3),
            "quarter",
        )
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        return Period(text, _month_start(year, month), _month_start(year, month + 1), "month")
    if match := _RANGE.match(text):
        try:
            since = date.fromisoformat(match[1].strip())
            until = date.fromisoformat(match[2].strip())
        except ValueError as exc:
            raise ValueError(f"bad period {text!r}: {exc}") from None
        if until < since:
            raise ValueError(f"bad period {text!r}: ends before it starts")
        return Period(text, start_of_day(since), end_of_day(until))
    raise ValueError(
        f"bad period {text!r}: use 2026-Q4, 2026-11, 2026-10-01..2026-12-31 or the id of one "
        "of the strategy's periods"
    )


def is_calendar_period(text: str) -> bool:
    """Whether `text` is meant as a quarter, a month or a range (else: a plan's period id)."""
    text = text.strip()
    return bool(_QUARTER.match(text) or _MONTH.match(text) or _RANGE.match(text))


def plan_period(events: Iterable[EnvelopeFields], period_id: str) -> Period:
    """One of the strategy's own planning periods (`--period winter-26`), as last planned in
    the log; LookupError naming the known ids when no strategy plans it."""
    plans: dict[str, PeriodPlan] = {}
    for event in events:
        if isinstance(event, BudgetPlanned):
            plans[event.data.period.period_id] = event.data.period
    plan = plans.get(period_id.strip())
    if plan is None:
        known = ", ".join(sorted(plans)) or "none"
        raise LookupError(
            f"bad period {period_id!r}: not a quarter (2026-Q4), a month (2026-11), days "
            f"(2026-10-01..2026-12-31) or a planning period of the strategy (known: {known})"
        )
    return Period(plan.period_id, plan.start, plan.end, "plan")


def parse_as_of(text: str) -> datetime:
    """`--as-of` read as every door reads a time (`truenorth.timeparse`): a bare date means
    the end of that day, a time without a zone is UTC."""
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise ValueError(f"bad --as-of: {exc}") from None


# -- the review --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    at: datetime
    actual: float | None
    target: float | None
    progress: float | None
    expected: float | None
    pace: float | None
    forecast_attainment: float | None
    status: str | None
    """All None while the objective did not exist yet."""


@dataclass(frozen=True, slots=True)
class CampaignResult(CampaignContribution):
    """A linked campaign's figures over the review's window, ranked."""

    rank: int | None = None
    """1 = most outcome per dollar; None without spend in the window."""


@dataclass(frozen=True)
class ObjectiveReview:
    strategy_id: str
    objective_id: str
    name: str
    kpi: str
    owner: str
    aggregation: str
    direction: str
    baseline: float
    target: float
    start: datetime
    deadline: datetime
    planned_cost_per_outcome: float | None
    actual: float
    progress: float
    expected: float
    pace: float | None
    run_rate_per_day: float
    forecast: float
    forecast_attainment: float
    required_rate_per_day: float | None
    forecast_attainment_low: float
    forecast_attainment_high: float
    hit_probability: float
    forecast_method: str
    status_note: str | None
    status: str
    window_start: datetime
    window_end: datetime
    """The part of the objective inside the review (campaign figures are over it)."""
    spend: float
    campaigns: tuple[CampaignResult, ...]
    """Ranked by outcome per dollar (best first), then the campaigns without spend."""
    most_per_dollar: tuple[str, ...]
    least_per_dollar: tuple[str, ...]
    samples: tuple[Sample, ...]
    changes_at: tuple[datetime, ...]
    """When the strategy changed this objective during the review (chart markers)."""


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    spend: float
    actual_share: float
    planned_share: float | None
    planned_spend: float | None
    delta_pts: float | None
    """(actual − planned share) × 100."""
    allowed: bool


@dataclass(frozen=True)
class UntetheredCampaign:
    campaign_id: str
    name: str
    channel: str
    spend: float


@dataclass(frozen=True)
class ChannelMix:
    strategy_id: str
    period_id: str | None
    """The budget plan compared against; None when no plan overlaps the review."""
    window_start: datetime
    window_end: datetime
    budget: float | None
    total_spend: float
    aligned_spend: float
    aligned_ratio: float | None
    rows: tuple[ChannelRow, ...]
    untethered: tuple[UntetheredCampaign, ...]


@dataclass(frozen=True)
class DriftAnswer:
    how: str
    """"acknowledged" (DriftAcknowledged) or "revised" (a change naming the drift)."""
    event_type: str
    actor: str
    occurred_at: datetime
    text: str
    objective_id: str | None


@dataclass(frozen=True)
class DriftReview:
    drift_id: str
    kind: str
    severity: str
    strategy_id: str | None
    objective_id: str | None
    campaign_ids: tuple[str, ...]
    channel: str | None
    explanation: str
    detected_at: datetime
    resolved_at: datetime | None
    state: str
    """"open" or "resolved" as of the review time."""
    updates: int
    answers: tuple[DriftAnswer, ...]
    incident_id: str = ""

    @property
    def answered(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.how for a in self.answers))

    @property
    def outcome(self) -> str:
        """One word for tables: revised > acknowledged > unanswered, and whether still open."""
        how = "revised" if "revised" in self.answered else (self.answered or ("unanswered",))[0]
        return f"{how}, {'still open' if self.state == 'open' else 'resolved'}"


@dataclass(frozen=True)
class ChangeRow:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class StrategyChange:
    strategy_id: str
    event_type: str
    occurred_at: datetime
    actor: str
    reason: str
    in_response_to: str | None
    subject: str
    """What changed: "objective leads-q4", "period 2026-q4", "strategy", "guardrails"."""
    changes: tuple[ChangeRow, ...]


@dataclass(frozen=True)
class Review:
    workspace: str
    period: Period
    as_of: datetime
    strategy_ids: tuple[str, ...]
    strategy_names: tuple[str, ...]
    objectives: tuple[ObjectiveReview, ...]
    channel_mix: tuple[ChannelMix, ...]
    drifts: tuple[DriftReview, ...]
    changes: tuple[StrategyChange, ...]
    events_considered: int
    sample_step_seconds: float
    checkins: tuple[CheckInReview, ...] = ()
    """What each objective's owner believed during the period, beside what happened."""

    def summary(self) -> dict[str, Any]:
        """Every number of the review as JSON-friendly data (floats rounded to 6 decimals):
        what the committed expected summary and `--format json` hold."""
        return _summary(self)


# -- building ----------------------------------------------------------------------------------

_STREAM_RANK: dict[type, int] = {
    **{cls: 0 for cls in STRATEGY_EVENTS},
    **{cls: 1 for cls in CAMPAIGN_EVENTS},
    MetricObserved: 2,
    MetricRestated: 2,
    DriftDetected: 3,
    DriftUpdated: 3,
    DriftResolved: 3,
}


def effective_time(event: EnvelopeFields) -> datetime:
    """When an event counts: a metric observation's period_end, otherwise occurred_at."""
    if isinstance(event, MetricObserved | MetricRestated):
        return event.data.period_end
    return event.occurred_at


def canonical_order(events: Iterable[EnvelopeFields]) -> list[EnvelopeFields]:
    """(effective time, stream, position): the same log in any stream interleaving folds the
    same way."""
    indexed = list(enumerate(events))
    indexed.sort(
        key=lambda pair: (
            effective_time(pair[1]),
            _STREAM_RANK.get(type(pair[1]), 9),
            pair[0],
        )
    )
    return [event for _, event in indexed]


def default_as_of(events: Sequence[EnvelopeFields], period: Period, now: datetime) -> datetime:
    """The end of the period, or now while it runs: never later (a row dated in 2030 must
    not move a review's date; a simulated quarter passes its own `--as-of`)."""
    del events
    return min(period.end, now)


def build_review(
    events: Iterable[EnvelopeFields],
    period: Period,
    as_of: datetime | None = None,
    *,
    workspace: str = "default",
    strategy_id: str | None = None,
    step: timedelta = DEFAULT_STEP,
) -> Review:
    """The review of `period` as of `as_of` (default: the end of the period; a later time is
    clamped to it, so post-quarter changes never leak into a quarter's review)."""
    end = period.end if as_of is None else min(as_of, period.end)
    ordered = canonical_order(e for e in events if e.workspace == workspace)
    step = _coarsen(step, period)
    samples = _sample_times(period.start, end, step)

    known = [e for e in ordered if effective_time(e) <= end]
    engine = _scratch_store(ordered)
    by_sample: list[dict[str, ObjectiveSnapshot]] = []
    for moment in samples:
        snapshot = build_snapshot(engine, moment, Moment(to_micros(moment)), workspace)
        by_sample.append({o.objective_id: o for o in snapshot.objectives_of(workspace)})
    with engine.connect() as connection:
        headline_moment = Moment(to_micros(end))
        state = read_workspace(connection, workspace, headline_moment)
        facts = Facts(connection, workspace, headline_moment)
        return _review(
            workspace, period, end, strategy_id, step, samples, by_sample, known, state, facts
        )


def _scratch_store(events: Sequence[EnvelopeFields]) -> Engine:
    """The events folded by the alignment service's fold into an in-memory store."""
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    migrate(engine)
    with engine.begin() as connection:
        fold_events(connection, "review", events)
    return engine


def _review(
    workspace: str,
    period: Period,
    end: datetime,
    strategy_id: str | None,
    step: timedelta,
    samples: list[datetime],
    by_sample: list[dict[str, ObjectiveSnapshot]],
    known: Sequence[EnvelopeFields],
    state: WorkspaceView,
    facts: Facts,
) -> Review:
    scope = _strategies_in_scope(state, strategy_id)
    final = by_sample[-1] if by_sample else {}
    changes = _strategy_changes(known, scope, period.start, end)

    objectives = []
    for objective_id in sorted(final):
        headline = final[objective_id]
        if headline.strategy_id not in scope:
            continue
        if not (headline.start < period.end and headline.deadline > period.start):
            continue
        objectives.append(
            _objective_review(
                headline,
                state,
                facts,
                period,
                end,
                samples,
                by_sample,
                [c.occurred_at for c in changes if c.subject == f"objective {objective_id}"],
            )
        )

    return Review(
        workspace=workspace,
        period=period,
        as_of=end,
        strategy_ids=tuple(sorted(scope)),
        strategy_names=tuple(state.strategies[s].name for s in sorted(scope)),
        objectives=tuple(objectives),
        channel_mix=tuple(_channel_mixes(state, facts, scope, period, end)),
        drifts=tuple(_drifts(known, strategy_id, period.start, end)),
        changes=tuple(changes),
        events_considered=len(known),
        sample_step_seconds=step.total_seconds(),
        checkins=checkin_reviews(
            state,
            [final[o.objective_id] for o in objectives],
            samples,
            by_sample,
            period.start,
            end,
        ),
    )


def _coarsen(step: timedelta, period: Period) -> timedelta:
    if step <= timedelta(0):
        raise ValueError("the sample step must be positive")
    while (period.end - period.start) / step > MAX_SAMPLES:
        step *= 2
    return step


def _sample_times(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """start, start + step, …, and `end` itself (the headline instant)."""
    if end < start:
        return [end]
    times = []
    moment = start
    while moment < end:
        times.append(moment)
        moment += step
    times.append(end)
    return times


def _strategies_in_scope(state: WorkspaceView, strategy_id: str | None) -> set[str]:
    defined = {sid for sid, s in state.strategies.items() if s.defined}
    if strategy_id is None:
        return defined
    if strategy_id not in defined:
        raise LookupError(f"no strategy {strategy_id!r} in this workspace at that time")
    return {strategy_id}


# -- objectives --------------------------------------------------------------------------------


def _objective_review(
    headline: ObjectiveSnapshot,
    state: WorkspaceView,
    facts: Facts,
    period: Period,
    end: datetime,
    samples: list[datetime],
    by_sample: list[dict[str, ObjectiveSnapshot]],
    changes_at: list[datetime],
) -> ObjectiveReview:
    objective = state.objectives[headline.objective_id]
    spec = objective.spec
    assert spec is not None
    low = max(spec.start, period.start)
    high = max(low, min(spec.deadline, end))
    results = _campaign_results(state, facts, spec, (to_micros(low), to_micros(high)))
    ranked = [r for r in results if r.rank is not None]
    keep = min(3, len(ranked) // 2) if len(ranked) >= 2 else len(ranked)
    most = tuple(r.campaign_id for r in ranked[:keep])
    least = tuple(r.campaign_id for r in reversed(ranked[-keep:])) if len(ranked) >= 2 else ()
    series = []
    for moment, objectives in zip(samples, by_sample, strict=True):
        point = objectives.get(headline.objective_id)
        series.append(
            Sample(moment, None, None, None, None, None, None, None)
            if point is None
            else Sample(
                at=moment,
                actual=point.actual,
                target=point.target,
                progress=point.progress,
                expected=point.expected,
                pace=point.pace,
                forecast_attainment=point.forecast_attainment,
                status=point.status,
            )
        )
    return ObjectiveReview(
        strategy_id=headline.strategy_id,
        objective_id=headline.objective_id,
        name=headline.name,
        kpi=headline.kpi,
        owner=headline.owner,
        aggregation=headline.aggregation,
        direction=headline.direction,
        baseline=headline.baseline,
        target=headline.target,
        start=headline.start,
        deadline=headline.deadline,
        planned_cost_per_outcome=spec.cost_per_outcome,
        actual=headline.actual,
        progress=headline.progress,
        expected=headline.expected,
        pace=headline.pace,
        run_rate_per_day=headline.run_rate_per_day,
        forecast=headline.forecast,
        forecast_attainment=headline.forecast_attainment,
        forecast_attainment_low=headline.forecast_attainment_low,
        forecast_attainment_high=headline.forecast_attainment_high,
        hit_probability=headline.hit_probability,
        forecast_method=headline.forecast_method,
        status_note=headline.status_note,
        required_rate_per_day=headline.required_rate_per_day,
        status=headline.status,
        window_start=low,
        window_end=high,
        spend=sum(r.spend for r in results),
        campaigns=tuple(results),
        most_per_dollar=most,
        least_per_dollar=least,
        samples=tuple(series),
        changes_at=tuple(changes_at),
    )


def _campaign_results(
    state: WorkspaceView, facts: Facts, spec: SpecView, window: tuple[int, int]
) -> list[CampaignResult]:
    """Linked campaigns' spend and outcome inside the window, ranked by outcome per dollar
    (ties: more outcome first, then id); campaigns without spend come last, unranked."""
    rows = []
    for campaign in state.linked_campaigns(spec.objective_id):
        spend = facts.sums(SPEND_METRIC, window).get(campaign.campaign_id, 0.0)
        outcome = campaign_outcome(campaign.campaign_id, spec, facts, window)
        rows.append((campaign, spend, outcome, outcome_per_dollar(outcome, spend)))
    if spec.direction == "decrease":
        # a decrease objective's outcome is a level to push down: less per dollar is better
        def order(row: Any) -> Any:
            return (row[3] is None, row[3] or 0.0, row[0].campaign_id)
    else:

        def order(row: Any) -> Any:
            return (row[3] is None, -(row[3] or 0.0), -row[2], row[0].campaign_id)

    rows.sort(key=order)
    results = []
    rank = 0
    for campaign, spend, outcome, per_dollar in rows:
        if per_dollar is not None:
            rank += 1
        results.append(
            CampaignResult(
                campaign_id=campaign.campaign_id,
                name=campaign.name,
                channel=campaign.channel,
                segment=campaign.segment,
                status=campaign.status,
                spend=spend,
                outcome=outcome,
                outcome_per_dollar=per_dollar,
                cost_per_outcome=cost_per_outcome(spend, outcome),
                rank=rank if per_dollar is not None else None,
            )
        )
    return results


# -- channel mix -------------------------------------------------------------------------------


def _channel_mixes(
    state: WorkspaceView,
    facts: Facts,
    scope: set[str],
    period: Period,
    end: datetime,
) -> Iterable[ChannelMix]:
    """Per strategy and per budget plan overlapping the review: spend by channel inside
    (plan ∩ review, up to the review time) against the plan's mix as it stood then."""
    for strategy_id in sorted(scope):
        strategy = state.strategies[strategy_id]
        plans: list[PeriodPlan | None] = [
            p
            for p in sorted(strategy.periods.values(), key=lambda p: (p.start, p.period_id))
            if p.start < period.end and p.end > period.start
        ]
        for plan in plans or [None]:
            low = period.start if plan is None else max(plan.start, period.start)
            high = end if plan is None else min(plan.end, end)
            yield _channel_mix(state, facts, strategy_id, plan, low, max(low, high))


def _channel_mix(
    state: WorkspaceView,
    facts: Facts,
    strategy_id: str,
    plan: PeriodPlan | None,
    low: datetime,
    high: datetime,
) -> ChannelMix:
    window = (to_micros(low), to_micros(high))
    by_channel: dict[str, float] = defaultdict(float)
    aligned = total = 0.0
    untethered = []
    for campaign_id in sorted(state.campaigns):
        campaign = state.campaigns[campaign_id]
        if strategy_id not in state.strategies_of(campaign):
            continue
        spend = facts.sums(SPEND_METRIC, window).get(campaign_id, 0.0)
        if not spend:
            continue
        by_channel[campaign.channel] += spend
        total += spend
        if _tethered(state, campaign):
            aligned += spend
        else:
            untethered.append(
                UntetheredCampaign(campaign.campaign_id, campaign.name, campaign.channel, spend)
            )
    allowed = set(state.strategies[strategy_id].allowed_channels)
    rows = tuple(
        ChannelRow(
            channel=share.channel,
            spend=share.spend,
            actual_share=share.actual_share,
            planned_share=share.planned_share,
            planned_spend=share.planned_spend,
            delta_pts=None
            if share.planned_share is None
            else (share.actual_share - share.planned_share) * 100,
            allowed=not allowed or share.channel in allowed,
        )
        for share in channel_shares(by_channel, plan)
    )
    return ChannelMix(
        strategy_id=strategy_id,
        period_id=None if plan is None else plan.period_id,
        window_start=low,
        window_end=high,
        budget=None if plan is None else plan.budget,
        total_spend=total,
        aligned_spend=aligned,
        aligned_ratio=aligned / total if total > 0 else None,
        rows=rows,
        untethered=tuple(untethered),
    )


def _tethered(state: WorkspaceView, campaign: CampaignView) -> bool:
    return bool(state.active_objective_ids(campaign))


# -- strategy history --------------------------------------------------------------------------


def _strategy_changes(
    known: Sequence[EnvelopeFields], scope: set[str], start: datetime, end: datetime
) -> list[StrategyChange]:
    """Every strategy change that happened inside [start, end] (acknowledgements are shown
    with their drift, not here), with the field-level difference it made."""
    strategies: dict[str, Strategy] = {}
    changes = []
    for event in known:
        if not isinstance(event, STRATEGY_EVENTS) or event.aggregate_id not in scope:
            continue
        strategy = strategies.get(event.aggregate_id)
        if strategy is None:
            strategy = strategies[event.aggregate_id] = Strategy.new(
                event.aggregate_id, event.workspace
            )
        before_header, before_periods = strategy.header, dict(strategy.periods)
        before_guardrails = strategy.guardrails
        strategy.apply(event)
        if isinstance(event, DriftAcknowledged | ObjectiveCheckedIn):
            continue  # shown with their drift, and in the check-ins section
        if not start <= event.occurred_at <= end:
            continue
        data: Any = event.data
        subject, found = _what_changed(
            strategy, event, before_header, before_periods, before_guardrails
        )
        linked = getattr(data, "in_response_to", None)
        changes.append(
            StrategyChange(
                strategy_id=event.aggregate_id,
                event_type=event.type,
                occurred_at=event.occurred_at,
                actor=event.actor,
                reason=getattr(data, "reason", ""),
                in_response_to=None if linked is None else str(linked),
                subject=subject,
                changes=tuple(
                    ChangeRow(c.field, show(c.old, c.field), show(c.new, c.field)) for c in found
                ),
            )
        )
    return changes


def _what_changed(
    strategy: Strategy,
    event: EnvelopeFields,
    before_header: Any,
    before_periods: dict[str, PeriodPlan],
    before_guardrails: Any,
) -> tuple[str, Sequence[FieldChange]]:
    data: Any = getattr(event, "data", None)
    objective = getattr(data, "objective", None)
    objective_id = objective.objective_id if objective else getattr(data, "objective_id", None)
    if objective_id is not None and objective_id in strategy.objectives:
        history = strategy.objectives[objective_id].history
        found = history[-1].changes if history and history[-1].event_id == event.event_id else ()
        return f"objective {objective_id}", found
    if isinstance(event, BudgetPlanned):
        plan = data.period
        old = before_periods.get(plan.period_id)
        return f"period {plan.period_id}", () if old is None else diff_models(old, plan)
    if isinstance(event, StrategyRevised) and before_header is not None and strategy.header:
        return "strategy", diff_models(before_header, strategy.header)
    if isinstance(event, GuardrailsSet):
        return "guardrails", diff_models(before_guardrails, strategy.guardrails)
    period_id = getattr(data, "period_id", None)
    return ("strategy" if period_id is None else f"period {period_id}"), ()


# -- drifts ------------------------------------------------------------------------------------


def _drifts(
    known: Sequence[EnvelopeFields],
    strategy_filter: str | None,
    start: datetime,
    end: datetime,
) -> list[DriftReview]:
    """Every drift open at some time in [start, end], with how the strategy answered it: the
    one fold of the drift lifecycle (`truenorth.drift_lifecycle`), as the service and the
    strategy inbox read it."""
    lifecycle = DriftLifecycle().observe_all(known)
    reviews = []
    records = sorted(lifecycle.drifts(), key=lambda r: (r.first_detected_at, r.drift_id))
    for record in records:
        data = record.data
        closed = record.resolved_at
        if closed is not None and closed < start:
            continue
        if strategy_filter is not None and data.strategy_id not in (None, strategy_filter):
            continue
        reviews.append(
            DriftReview(
                drift_id=record.drift_id,
                kind=data.kind,
                severity=data.severity,
                strategy_id=data.strategy_id,
                objective_id=data.objective_id,
                campaign_ids=tuple(data.campaign_ids),
                channel=data.channel,
                explanation=data.explanation,
                detected_at=record.first_detected_at,
                resolved_at=closed,
                state=record.status,
                updates=record.updates,
                answers=_answers(record),
                incident_id=record.incident_id,
            )
        )
    return reviews


def _answers(record: DriftRecord) -> tuple[DriftAnswer, ...]:
    answers = [
        DriftAnswer("acknowledged", "DriftAcknowledged", a.who, a.at, a.note, a.objective_id)
        for a in record.acknowledgements
    ]
    answers += [
        DriftAnswer("revised", a.event_type, a.who, a.at, a.reason, a.objective_id)
        for a in record.answers
    ]
    answers.sort(key=lambda a: (a.occurred_at, a.how))
    return tuple(answers)


# -- summary -----------------------------------------------------------------------------------


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    rounded = round(float(value), 6)
    return 0.0 if rounded == 0 else rounded


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _summary(review: Review) -> dict[str, Any]:
    return {
        "workspace": review.workspace,
        "period": {
            "label": review.period.label,
            "start": _when(review.period.start),
            "end": _when(review.period.end),
        },
        "as_of": _when(review.as_of),
        "strategies": list(review.strategy_ids),
        "objectives": [_objective_summary(o) for o in review.objectives],
        "channel_mix": [_mix_summary(m) for m in review.channel_mix],
        "drifts": [_drift_summary(d) for d in review.drifts],
        "strategy_changes": [
            {
                "strategy_id": c.strategy_id,
                "type": c.event_type,
                "occurred_at": _when(c.occurred_at),
                "actor": c.actor,
                "reason": c.reason,
                "in_response_to": c.in_response_to,
                "subject": c.subject,
                "changes": [[r.field, r.old, r.new] for r in c.changes],
            }
            for c in review.changes
        ],
        "checkins": [checkin_summary(c, _num, _when) for c in review.checkins],
    }


def _objective_summary(o: ObjectiveReview) -> dict[str, Any]:
    return {
        "strategy_id": o.strategy_id,
        "objective_id": o.objective_id,
        "kpi": o.kpi,
        "baseline": _num(o.baseline),
        "target": _num(o.target),
        "actual": _num(o.actual),
        "progress": _num(o.progress),
        "expected": _num(o.expected),
        "pace": _num(o.pace),
        "run_rate_per_day": _num(o.run_rate_per_day),
        "forecast": _num(o.forecast),
        "forecast_attainment": _num(o.forecast_attainment),
        "status": o.status,
        "spend": _num(o.spend),
        "most_per_dollar": list(o.most_per_dollar),
        "least_per_dollar": list(o.least_per_dollar),
        "campaigns": [
            {
                "campaign_id": c.campaign_id,
                "rank": c.rank,
                "spend": _num(c.spend),
                "outcome": _num(c.outcome),
                "outcome_per_dollar": _num(c.outcome_per_dollar),
                "cost_per_outcome": _num(c.cost_per_outcome),
            }
            for c in o.campaigns
        ],
        "samples": {
            "columns": ["at", "actual", "target", "progress", "expected", "forecast_attainment"],
            "rows": [
                [
                    _when(s.at),
                    _num(s.actual),
                    _num(s.target),
                    _num(s.progress),
                    _num(s.expected),
                    _num(s.forecast_attainment),
                ]
                for s in o.samples
            ],
        },
    }


def _mix_summary(m: ChannelMix) -> dict[str, Any]:
    return {
        "strategy_id": m.strategy_id,
        "period_id": m.period_id,
        "window": [_when(m.window_start), _when(m.window_end)],
        "budget": _num(m.budget),
        "total_spend": _num(m.total_spend),
        "aligned_spend": _num(m.aligned_spend),
        "aligned_ratio": _num(m.aligned_ratio),
        "channels": [
            {
                "channel": r.channel,
                "spend": _num(r.spend),
                "actual_share": _num(r.actual_share),
                "planned_share": _num(r.planned_share),
                "delta_pts": _num(r.delta_pts),
                "allowed": r.allowed,
            }
            for r in m.rows
        ],
        "untethered": [[u.campaign_id, _num(u.spend)] for u in m.untethered],
    }


def _drift_summary(d: DriftReview) -> dict[str, Any]:
    return {
        "drift_id": d.drift_id,
        "kind": d.kind,
        "severity": d.severity,
        "objective_id": d.objective_id,
        "detected_at": _when(d.detected_at),
        "resolved_at": _when(d.resolved_at),
        "state": d.state,
        "updates": d.updates,
        "answered": list(d.answered),
        "answers": [
            [a.how, a.event_type, a.actor, _when(a.occurred_at), a.text] for a in d.answers
        ],
    }


def dump_summary(summary: dict[str, Any]) -> str:
    """JSON with one line per innermost list of scalars (sample rows, change rows), so the
    committed file stays readable."""
    import json

    text = json.dumps(summary, indent=2, ensure_ascii=False)
    scalar = r'(?:"(?:[^"\\\n]|\\.)*"|-?[0-9.eE+-]+|true|false|null)'
    pattern = re.compile(r"\[\s*(" + scalar + r"(?:,\s*" + scalar + r")*)\s*\]")
    return pattern.sub(lambda m: "[" + re.sub(r",\s*\n\s*", ", ", m.group(1)) + "]", text) + "\n"
