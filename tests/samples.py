"""One valid instance of every event type, for round-trip and contract tests."""

from __future__ import annotations

from datetime import UTC, datetime

from truenorth.contract import alignment as al
from truenorth.contract import campaigns as ca
from truenorth.contract import metrics as me
from truenorth.contract import strategy as st
from truenorth.contract.common import Guardrails, ObjectiveSpec, PeriodPlan
from truenorth.contract.envelope import EnvelopeFields

T0 = datetime(2026, 10, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 31, tzinfo=UTC)

OBJECTIVE = ObjectiveSpec(
    objective_id="leads-q4",
    name="Leads Q4",
    kpi="leads",
    baseline=0,
    target=1000,
    start=T0,
    deadline=T1,
    phasing={"2026-10": 1, "2026-11": 1, "2026-12": 2},
    cost_per_outcome=40,
    owner="maria",
)
PERIOD = PeriodPlan(
    period_id="2026-q4", start=T0, end=T1, budget=100_000, channel_mix={"search": 60, "social": 40}
)
DRIFT = al.DriftData(
    drift_id="d-1",
    kind="objective_off_pace",
    severity="critical",
    strategy_id="acme",
    objective_id="leads-q4",
    campaign_ids=("c-1",),
    explanation="Leads Q4: 31 % done at 55 % of time (pace 0.56, off track)",
    figures={"pace": 0.56},
)
OBSERVATION = me.Observation(
    observation_id="obs-1",
    campaign_id="c-1",
    metric="leads",
    value=250,
    period_start=T0,
    period_end=T0,
    source="hubspot",
)


def all_event_samples() -> list[EnvelopeFields]:
    header = {"name": "Acme", "target_segments": ("cto",), "allowed_channels": ("search",)}
    return [
        st.StrategyDefined(aggregate_id="acme", data=st.StrategyDefinedData(**header)),
        st.StrategyRevised(aggregate_id="acme", data=st.StrategyRevisedData(**header, reason="x")),
        st.ObjectiveAdded(aggregate_id="acme", data=st.ObjectiveSetData(objective=OBJECTIVE)),
        st.ObjectiveRevised(
            aggregate_id="acme",
            data=st.ObjectiveRevisedData(
                objective=OBJECTIVE, changed_fields=("target",), in_response_to="d-1"
            ),
        ),
        st.ObjectiveRetired(
            aggregate_id="acme", data=st.ObjectiveRetiredData(objective_id="leads-q4")
        ),
        st.BudgetPlanned(aggregate_id="acme", data=st.BudgetPlannedData(period=PERIOD)),
        st.PeriodRemoved(aggregate_id="acme", data=st.PeriodRemovedData(period_id="2026-q4")),
        st.GuardrailsSet(
            aggregate_id="acme", data=st.GuardrailsSetData(guardrails=Guardrails(idle_days=3))
        ),
        st.DriftAcknowledged(
            aggregate_id="acme", data=st.DriftAcknowledgedData(drift_id="d-1", note="on it")
        ),
        st.ObjectiveCheckedIn(
            aggregate_id="acme",
            data=st.ObjectiveCheckedInData(
                objective_id="leads-q4",
                confidence="medium",
                narrative="CRM shows more than the ad platforms report",
                corrected_value=420,
                source="Salesforce report 2026-11",
            ),
        ),
        ca.CampaignLaunched(
            aggregate_id="c-1",
            data=ca.CampaignLaunchedData(
                campaign_id="c-1",
                objective_ids=("leads-q4",),
                channel="search",
                segment="cto",
                budget=5000,
                start=T0,
                end=T1,
            ),
        ),
        ca.ObjectiveLinked(
            aggregate_id="c-1",
            data=ca.ObjectiveLinkData(campaign_id="c-1", objective_id="leads-q4"),
        ),
        ca.ObjectiveUnlinked(
            aggregate_id="c-1",
            data=ca.ObjectiveLinkData(campaign_id="c-1", objective_id="leads-q4", untethered=True),
        ),
        ca.CampaignBudgetChanged(
            aggregate_id="c-1",
            data=ca.CampaignBudgetChangedData(campaign_id="c-1", budget=6000, previous_budget=5000),
        ),
        ca.CampaignActivated(aggregate_id="c-1", data=ca.CampaignStateData(campaign_id="c-1")),
        ca.CampaignPaused(aggregate_id="c-1", data=ca.CampaignStateData(campaign_id="c-1")),
        ca.CampaignResumed(aggregate_id="c-1", data=ca.CampaignStateData(campaign_id="c-1")),
        ca.CampaignEnded(aggregate_id="c-1", data=ca.CampaignStateData(campaign_id="c-1")),
        ca.CreativeLaunched(
            aggregate_id="c-1",
            data=ca.CreativeData(campaign_id="c-1", creative_id="cr-1", variant="A"),
        ),
        ca.CreativeRetired(
            aggregate_id="c-1", data=ca.CreativeData(campaign_id="c-1", creative_id="cr-1")
        ),
        ca.ExperimentConcluded(
            aggregate_id="c-1",
            data=ca.ExperimentConcludedData(
                campaign_id="c-1", experiment_id="ab-1", winner_creative_id="cr-1"
            ),
        ),
        me.MetricObserved(aggregate_id="c-1", data=OBSERVATION),
        me.MetricRestated(
            aggregate_id="c-1",
            data=me.MetricRestatedData(**OBSERVATION.model_dump(), previous_value=200),
        ),
        al.DriftDetected(aggregate_id="d-1", data=DRIFT),
        al.DriftUpdated(aggregate_id="d-1", data=DRIFT),
        al.DriftResolved(aggregate_id="d-1", data=DRIFT),
    ]
