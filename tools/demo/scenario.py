"""The demo's quarter as data: a strategy document and a seed in, timed actions out.

Pure (no I/O, no clock): the same document and seed give the same actions, byte for byte —
observation ids, command event ids and every timestamp are derived, never drawn from the
wall clock. The driver (`run`) plays the actions against a live system; `offline` folds
them through the alignment domain for tests.

The script, in fractions of the planning period (a quarter: ~92 days):

* before the start: the strategy is applied; at the start one campaign per planned channel
  launches, linked round-robin to the objectives (every objective has a live campaign);
* every 6 hours (hourly in the first two days) each live campaign reports spend, outcomes
  and level KPIs (noise; multi-touch attribution makes outcomes fractional);
* every day one outcome from two days earlier is restated, every 5 days a batch is
  delivered twice, and the first launch is retried with the same event id;
* from 13 % one objective's campaigns stall (outcomes at 45 % of plan): objective_off_pace;
* from 16 % to 43 % the campaign on the channel planned nearest 25 % spends 2.6× its daily
  budget: budget_overrun and channel_mix_drift; its budget_overrun is acknowledged at 46 %;
* from 36 % to 68 % an untethered campaign on a channel outside the strategy runs:
  untethered_spend (and channel_mix_drift when the strategy lists its allowed channels);
* at 52 % the strategy answers the off-pace drift: the objective's target is revised to what
  the stalled campaigns will deliver (PATCH with in_response_to), and the drift resolves.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from truenorth.alignment.domain.drift_rules import drift_id
from truenorth.alignment.domain.entities import SpecView
from truenorth.alignment.domain.progress import expected_ratio
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.contract.common import ObjectiveSpec
from truenorth.strategy.domain import StrategyDocument, load_document

ActionKind = Literal[
    "apply_strategy",
    "launch_campaign",
    "end_campaign",
    "observe",
    "revise_objective",
    "acknowledge_drift",
    "note",
]

DEFAULT_EXAMPLE = "b2b-tech-c-level"
DEFAULT_WORKSPACE = "demo"

SLOT = timedelta(hours=6)
"""Reporting interval of spend and outcomes."""
LAUNCH_SLOT, LAUNCH_SLOT_DAYS = timedelta(hours=1), 2
"""Hourly reports for the first days: with nothing reported yet an objective reads as off
pace, so the first figures arrive quickly."""
REPORT_LAG = timedelta(minutes=5)
"""A slot's rows are posted this long after the slot ends."""
APPLY_BEFORE = timedelta(days=1)
"""The strategy is applied this long before the period starts."""
SETTLE = timedelta(hours=12)
"""The demo runs this long past the period's end (final drift evaluation)."""

OVERDELIVERY = 1.12
"""Healthy objectives run a little ahead of plan."""
LAUNCH_BURST, LAUNCH_DAYS = 1.3, 7
"""Launch week runs further ahead, so reporting lag does not read as falling behind."""
LEVEL_OVERSHOOT = 1.03
"""Level KPIs end a little past their target."""
SPEND_PACE = 0.96
"""Campaigns spend a little under their time-phased budget."""
STALL_AT, STALL_FACTOR = 0.13, 0.45
SURGE_FROM, SURGE_UNTIL, SURGE_FACTOR = 0.16, 0.43, 2.6
UNTETHERED_FROM, UNTETHERED_UNTIL, UNTETHERED_BUDGET_SHARE = 0.36, 0.68, 0.12
ACKNOWLEDGE_AT = 0.46
REVISE_AT = 0.52
REVISED_TARGET_SHARE = 0.98
"""The revised target is this share of what the stalled objective will deliver."""
OFF_LIST_CHANNELS = ("tiktok", "display", "podcasts", "out_of_home")
DEMO_SEGMENT = "broad-reach"

_NAMESPACE = uuid.UUID("6f1c2a8e-5d3b-4c0f-9a57-1e2d3c4b5a69")


class ScenarioError(ValueError):
    """The strategy document cannot carry the demo's script (one line, for the CLI)."""


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the simulator does at simulated time `at`."""

    at: datetime
    kind: ActionKind
    subject: str
    """Strategy, campaign, objective or drift id; empty for observation batches."""
    body: Any
    """JSON-ready request body (the YAML text for apply_strategy)."""
    label: str = ""
    """A line of the story, shown in the terminal; empty for routine traffic."""
    tag: str = ""
    """`duplicate` or `restatement` for the deliberate noise; else empty."""
    actor: str = "demo"

    def as_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "kind": self.kind,
            "subject": self.subject,
            "body": self.body,
            "label": self.label,
            "tag": self.tag,
            "actor": self.actor,
        }


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    campaign_id: str
    name: str
    channel: str
    segment: str
    budget: float
    start: datetime
    end: datetime
    objective_ids: tuple[str, ...]
    role: Literal["core", "surge", "untethered"]
    level_kpis: tuple[str, ...] = ()
    """Level KPIs (aggregation `latest`) this campaign reports daily."""


@dataclass(frozen=True, slots=True)
class ScriptedDrift:
    kind: str
    subject: str
    drift_id: str
    why: str
    answered: bool = False
    """Answered by a strategy revision: expected to resolve."""
    acknowledged: bool = False


@dataclass(frozen=True)
class Scenario:
    seed: int
    workspace: str
    strategy_id: str
    strategy_name: str
    document_text: str
    period_id: str
    start: datetime
    end: datetime
    campaigns: tuple[CampaignPlan, ...]
    actions: tuple[Action, ...]
    drifts: tuple[ScriptedDrift, ...]
    off_pace_objective: str
    revised_target: float
    final_values: dict[str, float] = field(repr=False, compare=False, default_factory=dict)
    """observation_id → value after every restatement."""

    @property
    def finish(self) -> datetime:
        return self.end + SETTLE

    @property
    def first_action(self) -> datetime:
        return self.actions[0].at

    @property
    def period_label(self) -> str:
        """`2026-Q4` for a period starting in October 2026."""
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"

    def fingerprint(self) -> str:
        """A hash of every action: equal for equal seeds and documents."""
        payload = json.dumps([a.as_json() for a in self.actions], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def story(self) -> list[Action]:
        return [a for a in self.actions if a.label]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def examples_dir() -> Path:
    """`examples/` of the source tree (the demo runs from a checkout or an editable install)."""
    return Path(__file__).resolve().parents[2] / "examples"


def available_examples() -> list[str]:
    folder = examples_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_example(name: str) -> tuple[str, str]:
    """(filename, text) of an example by name (`b2b-tech-c-level`) or a path to a YAML file."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return str(candidate), candidate.read_text(encoding="utf-8")
    path = examples_dir() / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_examples()) or "none found"
        raise ScenarioError(f"no example strategy named {name!r} (examples: {known})")
    return path.name, path.read_text(encoding="utf-8")


def _event_id(seed: int, workspace: str, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join((str(seed), workspace, *parts))))


def _floor_two_digits(value: float) -> float:
    """Round down to two significant digits: 3 394 118 → 3 300 000."""
    if value <= 0:
        return value
    scale = 10 ** (math.floor(math.log10(value)) - 1)
    return math.floor(value / scale) * scale


def _round(value: float, span: float) -> float:
    return round(value) if abs(span) >= 1000 else round(value, 2)


class _Builder:
    def __init__(self, doc: StrategyDocument, text: str, seed: int, workspace: str) -> None:
        if not doc.periods:
            raise ScenarioError(f"strategy {doc.id!r} has no planning period: nothing to play")
        period = doc.periods[0]
        self.doc, self.text, self.seed, self.workspace = doc, text, seed, workspace
        self.period = period
        self.q0, self.q1 = period.start, period.end
        self.length = self.q1 - self.q0
        self.rng = random.Random(seed)
        self.specs = {s.objective_id: s for s in doc.objective_specs()}
        self.actions: list[Action] = []
        self.final: dict[str, float] = {}
        self.kpi_rows_by_day: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.batches_by_time: dict[datetime, list[dict[str, Any]]] = {}

    def at(self, fraction: float) -> datetime:
        """The start of the day at `fraction` of the period."""
        days = round(self.length.total_seconds() / 86400 * fraction)
        return self.q0 + timedelta(days=days)

    # -- campaigns ---------------------------------------------------------------------

    def plan_campaigns(self) -> tuple[list[CampaignPlan], str, CampaignPlan, CampaignPlan]:
        doc, period = self.doc, self.period
        allowed = list(doc.allowed_channels)
        mix = dict(period.channel_mix) or {
            c: 100 / len(allowed or ["search"]) for c in allowed or ["search"]
        }
        channels = sorted(mix, key=lambda c: (-mix[c], c))
        summed = [
            s
            for s in self.specs.values()
            if s.aggregation == "sum" and s.direction == "increase" and s.start < self.q1
        ]
        if not summed:
            raise ScenarioError(
                f"strategy {doc.id!r} has no objective that sums an increasing KPI: the demo "
                "needs one to fall off pace"
            )
        levels = [s for s in self.specs.values() if s not in summed]
        off_pace = summed[0].objective_id
        segments = list(doc.target_segments) or [DEMO_SEGMENT]
        links = [[summed[i % len(summed)].objective_id] for i in range(len(channels))]
        reports: list[list[str]] = [[] for _ in channels]
        for j, spec in enumerate(levels):
            links[j % len(channels)].append(spec.objective_id)
            reports[j % len(channels)].append(spec.objective_id)
        candidates = [i for i, ids in enumerate(links) if off_pace not in ids] or list(
            range(len(channels))
        )
        surge_index = min(candidates, key=lambda i: (abs(mix[channels[i]] - 25), -mix[channels[i]]))
        plans = []
        for i, channel in enumerate(channels):
            objective = self.specs[links[i][0]]
            plans.append(
                CampaignPlan(
                    campaign_id=f"{channel}-{period.id}"[:64],
                    name=f"{_title(channel)}: {objective.name}"[:200],
                    channel=channel,
                    segment=segments[i % len(segments)],
                    budget=round(period.budget * mix[channel] / 100, 2),
                    start=self.q0,
                    end=self.q1,
                    objective_ids=tuple(links[i]),
                    role="surge" if i == surge_index else "core",
                    level_kpis=tuple(reports[i]),
                )
            )
        off_list = next((c for c in OFF_LIST_CHANNELS if c not in allowed), "display")
        untethered = CampaignPlan(
            campaign_id=f"{off_list}-flash-promo",
            name=f"{_title(off_list)} flash promo (no objective)",
            channel=off_list,
            segment=DEMO_SEGMENT,
            budget=round(period.budget * UNTETHERED_BUDGET_SHARE, 2),
            start=self.at(UNTETHERED_FROM),
            end=self.at(UNTETHERED_UNTIL),
            objective_ids=(),
            role="untethered",
        )
        return [*plans, untethered], off_pace, plans[surge_index], untethered

    def launch(self, plan: CampaignPlan, label: str, tag: str = "", key: str = "launch") -> None:
        body = {
            "campaign_id": plan.campaign_id,
            "name": plan.name,
            "objective_ids": list(plan.objective_ids),
            "channel": plan.channel,
            "segment": plan.segment,
            "budget": plan.budget,
            "start": iso(plan.start),
            "end": iso(plan.end),
            "status": "live",
            "occurred_at": iso(plan.start),
            "actor": "demo",
            "source": "demo",
            "event_id": _event_id(self.seed, self.workspace, plan.campaign_id, key),
        }
        moment = plan.start + (timedelta(minutes=2) if tag else timedelta(0))
        self.actions.append(
            Action(moment, "launch_campaign", plan.campaign_id, body, label, tag, "demo")
        )

    def end_campaign(self, plan: CampaignPlan, moment: datetime, reason: str, label: str) -> None:
        body = {
            "reason": reason,
            "occurred_at": iso(moment),
            "actor": "demo",
            "source": "demo",
            "event_id": _event_id(self.seed, self.workspace, plan.campaign_id, "end"),
        }
        self.actions.append(Action(moment, "end_campaign", plan.campaign_id, body, label))

    # -- observations ------------------------------------------------------------------

    def observations(self, plans: list[CampaignPlan], off_pace: str) -> None:
        specs = self.specs
        core_budget: dict[str, float] = defaultdict(float)
        for plan in plans:
            if plan.role != "untethered":
                for objective_id in plan.objective_ids:
                    core_budget[objective_id] += plan.budget
        days = self.length.total_seconds() / 86400
        stall, surge = self.at(STALL_AT), (self.at(SURGE_FROM), self.at(SURGE_UNTIL))
        slot_start = self.q0
        while slot_start < self.q1:
            hourly = slot_start < self.q0 + timedelta(days=LAUNCH_SLOT_DAYS)
            slot_end = min(slot_start + (LAUNCH_SLOT if hourly else SLOT), self.q1)
            slot_days = (slot_end - slot_start).total_seconds() / 86400
            rows: list[dict[str, Any]] = []
            for plan in plans:
                if not plan.start <= slot_start < plan.end:
                    continue
                surging = plan.role == "surge" and surge[0] <= slot_start < surge[1]
                if plan.role == "untethered":
                    rate = plan.budget / ((plan.end - plan.start).total_seconds() / 86400) * 0.98
                else:
                    rate = plan.budget / days * SPEND_PACE * (SURGE_FACTOR if surging else 1)
                spend = round(rate * slot_days * self.rng.uniform(0.88, 1.12), 2)
                rows.append(self.row(plan, "spend", spend, slot_start, slot_end, "ad-platform"))
                for objective_id in plan.objective_ids:
                    spec = specs[objective_id]
                    if spec.aggregation != "sum" or spec.direction != "increase":
                        continue
                    share = plan.budget / core_budget[objective_id]
                    burst = slot_start < self.q0 + timedelta(days=LAUNCH_DAYS)
                    factor = (LAUNCH_BURST if burst else OVERDELIVERY) * (
                        math.sqrt(SURGE_FACTOR) if surging else 1
                    )
                    if objective_id == off_pace and slot_start >= stall:
                        factor *= STALL_FACTOR
                    planned = (spec.target - spec.baseline) * _expected_between(
                        spec, slot_start, slot_end
                    )
                    value = planned * share * factor * self.rng.uniform(0.9, 1.1)
                    row = self.row(plan, spec.kpi, _round(value, 0), slot_start, slot_end, "crm")
                    rows.append(row)
                    day = int((slot_start - self.q0).total_seconds() // 86400)
                    self.kpi_rows_by_day[day].append(row)
                for objective_id in plan.level_kpis:
                    level = self.level_row(plan, specs[objective_id], slot_start, slot_end)
                    rows.append(self.ratio_row(plan, specs[objective_id], level, spend))
            if rows:
                self.post(slot_end + REPORT_LAG, rows)
            slot_start = slot_end

    def row(
        self,
        plan: CampaignPlan,
        metric: str,
        value: float,
        start: datetime,
        end: datetime,
        source: str,
    ) -> dict[str, Any]:
        observation_id = f"{plan.campaign_id}:{metric}:{start:%Y%m%dT%H%M}"
        self.final[observation_id] = value
        return {
            "observation_id": observation_id,
            "campaign_id": plan.campaign_id,
            "metric": metric,
            "value": value,
            "period_start": iso(start),
            "period_end": iso(end),
            "source": source,
        }

    def level_row(
        self, plan: CampaignPlan, spec: ObjectiveSpec, start: datetime, end: datetime
    ) -> dict[str, Any]:
        span = spec.target - spec.baseline
        expected = _expected_at(spec, end)
        ahead = LAUNCH_BURST if end <= self.q0 + timedelta(days=LAUNCH_DAYS) else OVERDELIVERY
        share = min(LEVEL_OVERSHOOT, ahead * expected)
        noise = self.rng.uniform(-0.005, 0.005) * abs(span) * min(1.0, 10 * expected)
        value = _round(spec.baseline + span * share + noise, span)
        return self.row(plan, spec.kpi, value, start, end, "survey")

    def ratio_row(
        self, plan: CampaignPlan, spec: ObjectiveSpec, level: dict[str, Any], spend: float
    ) -> dict[str, Any]:
        """A ratio KPI is reported as its parts, never as the ratio: for CAC (spend / new
        customers) the campaign's spend is already reported, so the denominator is reported
        at the level the script wants (spend / level). Other levels are reported as is."""
        if spec.aggregation != "ratio" or spec.numerator != "spend" or not spec.denominator:
            return level
        customers = round(spend / level["value"], 3) if level["value"] else 0.0
        self.final.pop(level["observation_id"], None)
        return self.row(
            plan,
            spec.denominator,
            customers,
            datetime.fromisoformat(level["period_start"].replace("Z", "+00:00")),
            datetime.fromisoformat(level["period_end"].replace("Z", "+00:00")),
            "crm",
        )

    def post(self, moment: datetime, rows: list[dict[str, Any]], tag: str = "") -> None:
        self.batches_by_time[moment] = rows
        self.actions.append(Action(moment, "observe", "", rows, tag=tag))

    def restatements_and_duplicates(self) -> None:
        total_days = math.ceil(self.length.total_seconds() / 86400)
        for day in range(2, total_days):
            moment = self.q0 + timedelta(days=day, hours=13)
            candidates = sorted(
                self.kpi_rows_by_day.get(day - 2, []), key=lambda r: r["observation_id"]
            )
            if candidates and moment < self.q1:
                row = self.rng.choice(candidates)
                value = _round(row["value"] * self.rng.uniform(0.85, 1.2), 0)
                if value != row["value"]:
                    restated = {**row, "value": value}
                    self.final[row["observation_id"]] = value
                    self.post(moment, [restated], "restatement")
            if day % 5 == 0:
                original = self.q0 + timedelta(days=day - 1, hours=12) + REPORT_LAG
                rows = self.batches_by_time.get(original)
                if rows:
                    self.post(self.q0 + timedelta(days=day, hours=15), rows, "duplicate")

    # -- the strategy's side -----------------------------------------------------------

    def revise(self, plans: list[CampaignPlan], off_pace: str) -> float:
        spec = self.specs[off_pace]
        campaigns = {p.campaign_id for p in plans if off_pace in p.objective_ids}
        prefix = tuple(f"{c}:{spec.kpi}:" for c in campaigns)
        delivered = sum(v for k, v in self.final.items() if k.startswith(prefix))
        target = _floor_two_digits(
            spec.baseline + (delivered - spec.baseline) * REVISED_TARGET_SHARE
        )
        answered = drift_id(self.workspace, "objective_off_pace", off_pace)
        reason = (
            f"Re-forecast after the stall of its campaigns: the target moves from "
            f"{spec.target:,.0f} to {target:,.0f} {spec.kpi}; the gap is carried into next quarter"
        )
        self.actions.append(
            Action(
                self.at(REVISE_AT) + timedelta(hours=9),
                "revise_objective",
                off_pace,
                {"target": target, "reason": reason, "in_response_to": answered},
                label=f"Strategy revises {off_pace}: target {spec.target:,.0f} → {target:,.0f} "
                f"(answers drift {answered})",
                actor=spec.owner or self.doc.owner or "demo",
            )
        )
        return target

    def acknowledge(self, surge: CampaignPlan) -> str:
        drift = drift_id(self.workspace, "budget_overrun", f"campaign:{surge.campaign_id}")
        note = (
            f"Extra {surge.channel} spend approved for Q4; the overrun is funded from the "
            "reserve and will not repeat"
        )
        self.actions.append(
            Action(
                self.at(ACKNOWLEDGE_AT) + timedelta(hours=10),
                "acknowledge_drift",
                drift,
                {"note": note},
                label=f"Strategy acknowledges the {surge.channel} overrun: {note}",
                actor=self.doc.owner or "demo",
            )
        )
        return drift


def _title(slug: str) -> str:
    return slug.replace("_", " ").replace("-", " ").title()


def _expected_at(spec: ObjectiveSpec, moment: datetime) -> float:
    return expected_ratio(SpecView.of(spec), to_micros(moment))


def _expected_between(spec: ObjectiveSpec, start: datetime, end: datetime) -> float:
    return _expected_at(spec, end) - _expected_at(spec, start)


def build_scenario(
    document_text: str,
    seed: int = 7,
    workspace: str = DEFAULT_WORKSPACE,
    filename: str = "<strategy>",
) -> Scenario:
    """Every action of the demo quarter for this strategy document and seed."""
    doc = load_document(document_text, filename)
    builder = _Builder(doc, document_text, seed, workspace)
    plans, off_pace, surge, untethered = builder.plan_campaigns()
    sid = doc.id
    builder.actions.append(
        Action(
            builder.q0 - APPLY_BEFORE,
            "apply_strategy",
            sid,
            document_text,
            label=f"Strategy {doc.name} applied: {len(doc.objectives)} objectives, "
            f"budget {builder.period.budget:,.0f} for {builder.period.id}",
            actor=doc.owner or "demo",
        )
    )
    core = [p for p in plans if p.role != "untethered"]
    for plan in core:
        builder.launch(
            plan,
            f"Campaign {plan.campaign_id} launched on {plan.channel} "
            f"(budget {plan.budget:,.0f}) for {', '.join(plan.objective_ids)}",
        )
    builder.launch(core[0], "", tag="duplicate")
    builder.launch(
        untethered,
        f"Untethered campaign {untethered.campaign_id} launched on {untethered.channel} "
        f"with no objective (budget {untethered.budget:,.0f})",
    )
    builder.observations(plans, off_pace)
    builder.restatements_and_duplicates()
    stall_day = builder.at(STALL_AT)
    stalled = [p.campaign_id for p in core if off_pace in p.objective_ids]
    builder.actions.append(
        Action(
            stall_day,
            "note",
            "",
            [],
            label=f"Campaigns {', '.join(stalled)} stall: {builder.specs[off_pace].kpi} at "
            f"{STALL_FACTOR:.0%} of plan from now on",
        )
    )
    builder.actions.append(
        Action(
            builder.at(SURGE_FROM),
            "note",
            "",
            [],
            label=f"{surge.channel} overspends: {surge.campaign_id} at {SURGE_FACTOR:g}× its daily "
            f"budget until {builder.at(SURGE_UNTIL):%b %d}",
        )
    )
    revised = builder.revise(plans, off_pace)
    acknowledged = builder.acknowledge(surge)
    builder.end_campaign(
        untethered,
        untethered.end,
        "promotion over",
        f"Untethered campaign {untethered.campaign_id} ends",
    )
    for plan in core:
        builder.end_campaign(plan, builder.q1 + timedelta(minutes=1), "quarter closed", "")
    actions = sorted(builder.actions, key=lambda a: a.at)  # stable: same-time order kept
    drifts = [
        ScriptedDrift(
            "objective_off_pace",
            off_pace,
            drift_id(workspace, "objective_off_pace", off_pace),
            f"{off_pace}'s campaigns stall",
            answered=True,
        ),
        ScriptedDrift(
            "budget_overrun",
            f"campaign:{surge.campaign_id}",
            acknowledged,
            f"{surge.campaign_id} spends {SURGE_FACTOR:g}× its daily budget",
            acknowledged=True,
        ),
        ScriptedDrift(
            "budget_overrun",
            f"channel:{sid}:{surge.channel}",
            drift_id(workspace, "budget_overrun", f"channel:{sid}:{surge.channel}"),
            f"{surge.channel} spends ahead of its share of the period budget",
        ),
        ScriptedDrift(
            "channel_mix_drift",
            f"{sid}:{surge.channel}",
            drift_id(workspace, "channel_mix_drift", f"{sid}:{surge.channel}"),
            f"{surge.channel} takes more than its planned share",
        ),
        ScriptedDrift(
            "untethered_spend",
            "workspace",
            drift_id(workspace, "untethered_spend", "workspace"),
            f"{untethered.campaign_id} spends with no objective",
        ),
        ScriptedDrift(
            "untethered_spend",
            f"campaign:{untethered.campaign_id}",
            drift_id(workspace, "untethered_spend", f"campaign:{untethered.campaign_id}"),
            f"{untethered.campaign_id} has no active objective",
        ),
    ]
    if doc.allowed_channels and untethered.channel not in doc.allowed_channels:
        subject = f"{sid}:{untethered.channel}"
        drifts.append(
            ScriptedDrift(
                "channel_mix_drift",
                subject,
                drift_id(workspace, "channel_mix_drift", subject),
                f"{untethered.channel} is not an allowed channel",
            )
        )
    return Scenario(
        seed=seed,
        workspace=workspace,
        strategy_id=sid,
        strategy_name=doc.name,
        document_text=document_text,
        period_id=builder.period.id,
        start=builder.q0,
        end=builder.q1,
        campaigns=tuple(plans),
        actions=tuple(actions),
        drifts=tuple(drifts),
        off_pace_objective=off_pace,
        revised_target=revised,
        final_values=dict(builder.final),
    )
