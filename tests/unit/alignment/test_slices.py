"""A large workspace is read a slice of objectives and of campaigns at a time; what a build
shows and what a tick judges are the same as when it is read whole."""

from __future__ import annotations

import pytest

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from tests.unit.alignment.world import World
from truenorth.alignment.domain import drift_rules, snapshot
from truenorth.alignment.domain.drift import DriftTransition
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store import plans
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.plans import LivePlans
from truenorth.alignment.store.read import Moment, metrics_only_campaigns
from truenorth.alignment.views import build_snapshot
from truenorth.contract.envelope import EnvelopeFields

NOW = day(20)


def every_kind_of_drift() -> list[EnvelopeFields]:
    """Four objectives (a count with a planned cost, a level, a ratio, one idle) and campaigns
    off pace, inefficient, over budget, stale, outside the target segments, untethered, and
    one known only from its metrics."""
    return [
        b.strategy_defined(),
        b.budget_planned({"linkedin": 50, "search": 50}, budget=10_000, end=day(60)),
        b.objective_added(b.spec("o-count", target=10_000, cost_per_outcome=10)),
        b.objective_added(b.spec("o-level", kpi="nps", aggregation="latest", target=60)),
        b.objective_added(
            b.spec(
                "o-ratio",
                kpi="ctr",
                aggregation="ratio",
                numerator="clicks",
                denominator="impressions",
                target=0.05,
            )
        ),
        b.objective_added(b.spec("o-idle")),
        b.launched("c-both", objective_ids=("o-count", "o-ratio"), budget=5_000, end=day(60)),
        b.launched("c-costly", objective_ids=("o-count",), channel="search"),
        b.launched("c-stale", objective_ids=("o-count", "o-level"), start=day(1)),
        b.launched("c-outside", objective_ids=("o-level",), segment="smb"),
        b.launched("c-loose", objective_ids=(), channel="events"),
        *b.daily("c-both", "spend", [900] * 19),
        *b.daily("c-both", "leads", [3] * 19),
        *b.daily("c-both", "clicks", [20] * 19),
        *b.daily("c-both", "impressions", [1_000] * 19),
        *b.daily("c-costly", "spend", [300] * 19),
        *b.daily("c-stale", "nps", [40] * 3),
        *b.daily("c-outside", "nps", [55] * 19),
        *b.daily("c-loose", "spend", [400] * 19),
        *b.daily("c-unlaunched", "spend", [50] * 19),
    ]


@pytest.fixture
def world() -> World:
    return World(*every_kind_of_drift())


def read_in_slices(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Slices of `size` objectives and campaigns; a live plan of more keeps no campaigns."""
    monkeypatch.setattr(snapshot, "OBJECTIVES_PER_READING", size)
    monkeypatch.setattr(drift_rules, "CAMPAIGNS_PER_READING", size)
    monkeypatch.setattr(plans, "KEPT_CAMPAIGNS", size)


def judged(transitions: list[DriftTransition]) -> list[tuple[str, str, str, str]]:
    """Sorted: a slice's idle objectives are judged with it, its untethered campaigns with
    it, so the order of a tick's transitions depends on the slices (and is no contract)."""
    return sorted(
        (t.action, t.data.kind, t.data.drift_id, t.data.model_dump_json()) for t in transitions
    )


@pytest.mark.parametrize("size", [1, 2, 3])
def test_a_tick_in_slices_judges_what_a_whole_reading_judges(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    whole = judged(World(*every_kind_of_drift()).transitions(NOW))
    kinds = {kind for _, kind, *_ in whole}
    assert kinds >= {
        "objective_off_pace",
        "idle_objective",
        "inefficient_tactic",
        "budget_overrun",
        "stale_data",
        "audience_mismatch",
        "untethered_spend",
    }
    read_in_slices(monkeypatch, size)
    assert judged(World(*every_kind_of_drift()).transitions(NOW)) == whole


@pytest.mark.parametrize("size", [1, 2, 3])
def test_a_tick_on_a_live_plan_that_keeps_no_campaigns_judges_what_a_whole_reading_judges(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    whole = judged(World(*every_kind_of_drift()).transitions(NOW))
    read_in_slices(monkeypatch, size)
    live = LivePlans()
    world = World(*every_kind_of_drift())
    assert judged(world.transitions(NOW, live)) == whole
    with world.engine.connect() as connection:
        plan = live.read(connection, WS, Moment.now(to_micros(NOW)))
    assert not plan.keeps_campaigns and plan.view.campaigns == {}


@pytest.mark.parametrize("contributions", [False, True])
@pytest.mark.parametrize("size", [1, 3])
def test_a_live_build_on_a_plan_that_keeps_no_campaigns_shows_what_a_whole_reading_shows(
    world: World, monkeypatch: pytest.MonkeyPatch, size: int, contributions: bool
) -> None:
    whole = build_snapshot(world.engine, NOW, campaigns=contributions)
    read_in_slices(monkeypatch, size)
    live = build_snapshot(world.engine, NOW, plans=LivePlans(), campaigns=contributions)
    assert live.objectives == whole.objectives
    assert (live.channels, live.aligned_spend) == (whole.channels, whole.aligned_spend)
    assert any(a.total_spend for a in live.aligned_spend)


@pytest.mark.parametrize("live", [True, False], ids=["live", "as of"])
@pytest.mark.parametrize("size", [1, 3])
def test_a_build_in_slices_shows_what_a_whole_reading_shows(
    world: World, monkeypatch: pytest.MonkeyPatch, size: int, live: bool
) -> None:
    whole = world.snapshot(NOW, live=live)
    assert len(whole.objectives) == 4
    read_in_slices(monkeypatch, size)
    assert world.snapshot(NOW, live=live).objectives == whole.objectives


def test_a_campaign_known_only_from_its_metrics_is_found_by_the_database(world: World) -> None:
    at = to_micros(NOW)
    with world.engine.connect() as connection:
        for moment in (Moment.now(at), Moment(at), Moment(to_micros(day(2)))):
            assert list(metrics_only_campaigns(Facts(connection, WS, moment))) == ["c-unlaunched"]
        before_any = Moment(to_micros(day(0.5)))
        assert metrics_only_campaigns(Facts(connection, WS, before_any)) == {}


def test_a_campaign_launched_after_the_moment_counts_as_known_only_from_metrics_then() -> None:
    world = World(
        b.strategy_defined(),
        *b.daily("c-late", "spend", [10] * 5),
        b.launched("c-late", start=day(3), at=day(3)),
    )
    with world.engine.connect() as connection:
        found = metrics_only_campaigns(Facts(connection, WS, Moment(to_micros(day(2)))))
        assert list(found) == ["c-late"]
        assert metrics_only_campaigns(Facts(connection, WS, Moment(to_micros(day(4))))) == {}
