"""A fixed, hand-checkable event log of one quarter (2026-Q4) for the review tests.

Strategy "growth" (defined before the quarter): objectives leads-q4 (target 1200, later 900)
and signups-q4 (target 400), both over the whole quarter; plan 2026-q4 with a 100 000 budget,
mix linkedin 50 / search 30 / events 20 (reallocated on 11-15 to 45 / 35 / 20).

Campaigns, all launched 10-01, reporting daily (92 days, each [day, day + 1]):

| campaign        | channel  | objectives           | spend/day | leads/day | signups/day |
|-----------------|----------|----------------------|----------:|----------:|------------:|
| c-li-abm        | linkedin | leads-q4             |       400 |         3 |           - |
| c-search-brand  | search   | leads-q4, signups-q4 |       300 |         5 |           2 |
| c-events-summit | events   | signups-q4           |       200 |         - |           2 |
| c-tiktok-teaser | tiktok   | (none: untethered)   |       100 |         - |           - |

Quirks: c-li-abm's leads of day 14 (10-15) are restated 3 → 1 (recorded 10-18);
c-search-brand's spend of day 5 is delivered twice (same observation id, another event id);
c-search-brand's signups of day 91 (12-31) are restated 2 → 5 on 2027-01-04, after the quarter
(still counts: the figure belongs to the quarter). Drifts: pace-leads-q4 detected 11-01,
acknowledged 11-03, updated 11-05, answered by the target revision 1200 → 900 on 11-10,
resolved 11-12; untethered-c-tiktok-teaser detected 10-08, never answered, still open;
mix-linkedin detected 10-20, acknowledged 10-22, still open; old-drift detected and resolved in
September (not in the review). After the quarter, on 2027-01-05, leads-q4's target is revised
again to 850 — a Q4 review must not see it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated
from truenorth.contract.campaigns import CampaignLaunched, CampaignLaunchedData
from truenorth.contract.common import ObjectiveSpec, PeriodPlan
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import (
    MetricObserved,
    MetricRestated,
    MetricRestatedData,
    Observation,
)
from truenorth.contract.strategy import (
    BudgetPlanned,
    BudgetPlannedData,
    DriftAcknowledged,
    DriftAcknowledgedData,
    ObjectiveAdded,
    ObjectiveRevised,
    ObjectiveRevisedData,
    ObjectiveSetData,
    StrategyDefined,
    StrategyDefinedData,
)

STRATEGY = "growth"
Q4 = datetime(2026, 10, 1, tzinfo=UTC)
Q4_END = datetime(2027, 1, 1, tzinfo=UTC)
DAYS = 92


def day(n: float) -> datetime:
    return Q4 + timedelta(days=n)


def at(month: int, dom: int, year: int = 2026, hour: int = 9) -> datetime:
    return datetime(year, month, dom, hour, tzinfo=UTC)


LEADS = ObjectiveSpec(
    objective_id="leads-q4",
    name="Qualified leads Q4",
    kpi="leads",
    baseline=0,
    target=1200,
    start=Q4,
    deadline=Q4_END,
    cost_per_outcome=50,
    owner="maria",
)
SIGNUPS = ObjectiveSpec(
    objective_id="signups-q4",
    name="Trial signups Q4",
    kpi="signups",
    baseline=0,
    target=400,
    start=Q4,
    deadline=Q4_END,
    owner="jan",
)
PLAN = PeriodPlan(
    period_id="2026-q4",
    start=Q4,
    end=Q4_END,
    budget=100_000,
    channel_mix={"linkedin": 50, "search": 30, "events": 20},
)
CAMPAIGNS: list[dict[str, Any]] = [
    {
        "campaign_id": "c-li-abm",
        "name": "LinkedIn ABM",
        "channel": "linkedin",
        "segment": "cxo",
        "objective_ids": ("leads-q4",),
        "budget": 30_000,
        "daily": {"spend": 400, "leads": 3},
    },
    {
        "campaign_id": "c-search-brand",
        "name": "Brand search",
        "channel": "search",
        "segment": "it-leads",
        "objective_ids": ("leads-q4", "signups-q4"),
        "budget": 25_000,
        "daily": {"spend": 300, "leads": 5, "signups": 2},
    },
    {
        "campaign_id": "c-events-summit",
        "name": "CIO summit",
        "channel": "events",
        "segment": "cxo",
        "objective_ids": ("signups-q4",),
        "budget": 15_000,
        "daily": {"spend": 200, "signups": 2},
    },
    {
        "campaign_id": "c-tiktok-teaser",
        "name": "TikTok teaser",
        "channel": "tiktok",
        "segment": "gen-z",
        "objective_ids": (),
        "budget": 8_000,
        "daily": {"spend": 100},
    },
]


class _Log:
    def __init__(self, workspace: str) -> None:
        self.workspace = workspace
        self.events: list[EnvelopeFields] = []

    def ids(self, seed: str) -> dict[str, Any]:
        # event ids differ per workspace: tests sharing one nats-server append within the
        # stream's duplicate window, and Nats-Msg-Id would drop a second workspace's copy
        return {"event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"review/{self.workspace}/{seed}")}

    def add(
        self,
        cls: type[EnvelopeFields],
        seed: str,
        aggregate_id: str,
        when: datetime,
        data: Any,
        actor: str = "system",
        recorded: datetime | None = None,
    ) -> None:
        self.events.append(
            cls(
                **self.ids(seed),
                workspace=self.workspace,
                aggregate_id=aggregate_id,
                occurred_at=when,
                recorded_at=recorded or when,
                actor=actor,
                data=data,
            )
        )


def _drift(drift_id: str, kind: str, severity: str, explanation: str, **extra: Any) -> DriftData:
    return DriftData(
        drift_id=drift_id,
        kind=kind,
        severity=severity,
        strategy_id=STRATEGY,
        explanation=explanation,
        **extra,
    )


def build_log(workspace: str = "acme") -> list[EnvelopeFields]:
    """The events in stream order (STRATEGY, CAMPAIGNS, METRICS, ALIGNMENT), each stream in
    the order it would have been appended."""
    log = _Log(workspace)
    # -- STRATEGY
    defined = at(9, 20)
    log.add(
        StrategyDefined,
        "defined",
        STRATEGY,
        defined,
        StrategyDefinedData(
            name="Growth FY26",
            owner="maria",
            target_segments=("cxo", "it-leads"),
            allowed_channels=("linkedin", "search", "events"),
            reason="FY26 planning",
        ),
        actor="maria",
    )
    log.add(ObjectiveAdded, "add-leads", STRATEGY, defined, ObjectiveSetData(objective=LEADS))
    log.add(ObjectiveAdded, "add-signups", STRATEGY, defined, ObjectiveSetData(objective=SIGNUPS))
    log.add(BudgetPlanned, "plan", STRATEGY, defined, BudgetPlannedData(period=PLAN))
    log.add(
        DriftAcknowledged,
        "ack-mix",
        STRATEGY,
        at(10, 22),
        DriftAcknowledgedData(drift_id="mix-linkedin", note="LinkedIn ramps up in November"),
        actor="jan",
    )
    log.add(
        DriftAcknowledged,
        "ack-pace",
        STRATEGY,
        at(11, 3),
        DriftAcknowledgedData(
            drift_id="pace-leads-q4", objective_id="leads-q4", note="looking into it"
        ),
        actor="maria",
    )
    log.add(
        ObjectiveRevised,
        "revise-leads",
        STRATEGY,
        at(11, 10),
        ObjectiveRevisedData(
            objective=LEADS.model_copy(update={"target": 900.0}),
            changed_fields=("target",),
            reason="summit pushed to January: Q4 lead target cut to 900",
            in_response_to="pace-leads-q4",
        ),
        actor="maria",
    )
    log.add(
        BudgetPlanned,
        "replan",
        STRATEGY,
        at(11, 15),
        BudgetPlannedData(
            period=PLAN.model_copy(
                update={"channel_mix": {"linkedin": 45.0, "search": 35.0, "events": 20.0}}
            ),
            reason="search converts better: move 5 pts from LinkedIn",
        ),
        actor="jan",
    )
    log.add(
        ObjectiveRevised,
        "revise-leads-after",
        STRATEGY,
        at(1, 5, year=2027),
        ObjectiveRevisedData(
            objective=LEADS.model_copy(update={"target": 850.0}),
            changed_fields=("target",),
            reason="retro: realistic target",
        ),
        actor="maria",
    )
    # -- CAMPAIGNS
    for campaign in CAMPAIGNS:
        log.add(
            CampaignLaunched,
            f"launch-{campaign['campaign_id']}",
            campaign["campaign_id"],
            Q4,
            CampaignLaunchedData(
                campaign_id=campaign["campaign_id"],
                name=campaign["name"],
                objective_ids=campaign["objective_ids"],
                channel=campaign["channel"],
                segment=campaign["segment"],
                budget=campaign["budget"],
                start=Q4,
                end=Q4_END,
                untethered=not campaign["objective_ids"],
            ),
            actor="ops",
        )
    # -- METRICS (occurred_at = period_end, as the metrics service records them)
    for n in range(DAYS):
        start, end = day(n), day(n + 1)
        for campaign in CAMPAIGNS:
            for metric, value in campaign["daily"].items():
                observation_id = f"{campaign['campaign_id']}:{metric}:d{n}"
                observation = Observation(
                    observation_id=observation_id,
                    campaign_id=campaign["campaign_id"],
                    metric=metric,
                    value=value,
                    period_start=start,
                    period_end=end,
                    source="ads",
                )
                log.add(
                    MetricObserved,
                    observation_id,
                    campaign["campaign_id"],
                    end,
                    observation,
                    recorded=end + timedelta(hours=2),
                )
                if observation_id == "c-search-brand:spend:d5":  # the duplicate delivery
                    log.add(
                        MetricObserved,
                        observation_id + "/again",
                        campaign["campaign_id"],
                        end,
                        observation,
                        recorded=end + timedelta(hours=3),
                    )
    for observation_id, value, previous, recorded in (
        ("c-li-abm:leads:d14", 1, 3, at(10, 18)),
        ("c-search-brand:signups:d91", 5, 2, at(1, 4, year=2027)),
    ):
        campaign_id, metric, day_label = observation_id.split(":")
        n = int(day_label[1:])
        log.add(
            MetricRestated,
            f"restate-{observation_id}",
            campaign_id,
            day(n + 1),
            MetricRestatedData(
                observation_id=observation_id,
                campaign_id=campaign_id,
                metric=metric,
                value=value,
                previous_value=previous,
                period_start=day(n),
                period_end=day(n + 1),
                source="ads",
            ),
            recorded=recorded,
        )
    # -- ALIGNMENT
    old = _drift("old-drift", "stale_data", "warning", "c-li-abm reported nothing for 30 h")
    log.add(DriftDetected, "old-open", "old-drift", at(9, 25), old)
    log.add(DriftResolved, "old-close", "old-drift", at(9, 26), old)
    untethered = _drift(
        "untethered-c-tiktok-teaser",
        "untethered_spend",
        "warning",
        "TikTok teaser spends without an objective",
        campaign_ids=("c-tiktok-teaser",),
        channel="tiktok",
    )
    log.add(DriftDetected, "tiktok-open", untethered.drift_id, at(10, 8), untethered)
    mix = _drift(
        "mix-linkedin",
        "channel_mix_drift",
        "warning",
        "linkedin at 40 % of spend, 50 % planned",
        channel="linkedin",
    )
    log.add(DriftDetected, "mix-open", mix.drift_id, at(10, 20), mix)
    pace = _drift(
        "pace-leads-q4",
        "objective_off_pace",
        "warning",
        "Qualified leads Q4: 21 % done at 34 % of time (pace 0.61)",
        objective_id="leads-q4",
        campaign_ids=("c-li-abm",),
    )
    log.add(DriftDetected, "pace-open", pace.drift_id, at(11, 1), pace)
    worse = pace.model_copy(
        update={
            "severity": "critical",
            "explanation": "Qualified leads Q4: 23 % done at 38 % of time (pace 0.61)",
        }
    )
    log.add(DriftUpdated, "pace-update", pace.drift_id, at(11, 5), worse)
    log.add(DriftResolved, "pace-close", pace.drift_id, at(11, 12), worse)
    return log.events
