"""The campaign aggregate without I/O: state machine, links, untethered, replay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from truenorth.campaigns.domain import (
    COMMANDS,
    ActivateCampaign,
    Campaign,
    CampaignNotFound,
    ChangeBudget,
    CommandMeta,
    ConcludeExperiment,
    EndCampaign,
    InvalidTransition,
    LaunchCampaign,
    LaunchCreative,
    LinkObjective,
    ObjectiveDirectory,
    ObjectivesRejected,
    PauseCampaign,
    ReferenceRejected,
    ResumeCampaign,
    RetireCreative,
    UnlinkObjective,
    build_event,
    decide,
    evolve,
    rebuild,
)
from truenorth.campaigns.intake import Rejected, parse_command
from truenorth.contract.common import ObjectiveSpec
from truenorth.contract.strategy import (
    ObjectiveAdded,
    ObjectiveRetired,
    ObjectiveRetiredData,
    ObjectiveSetData,
)

WS = "acme"
T0 = datetime(2025, 3, 1, tzinfo=UTC)
T1 = datetime(2025, 6, 1, tzinfo=UTC)


def directory(**objectives: str) -> ObjectiveDirectory:
    d = ObjectiveDirectory()
    for objective_id, status in objectives.items():
        d.objectives[(WS, objective_id.replace("_", "-"))] = status
    return d


def launch(**fields: Any) -> LaunchCampaign:
    base: dict[str, Any] = {
        "campaign_id": "c1",
        "channel": "search",
        "segment": "smb",
        "budget": 100,
        "start": T0,
        "end": T1,
    }
    return LaunchCampaign(**{**base, **fields})


def run(commands: list[CommandMeta], lookup: ObjectiveDirectory | None = None) -> Campaign:
    lookup = lookup or directory()
    state: Campaign | None = None
    for sequence, command in enumerate(commands, start=1):
        event_type, data = decide(WS, "c1", state, command, lookup)
        event = build_event(
            event_type,
            data,
            workspace=WS,
            campaign_id="c1",
            command=command,
            event_id=uuid.uuid4(),
            now=T0,
        )
        state = evolve(state, event, sequence)
    assert state is not None
    return state


def refused(
    state: Campaign, command: CommandMeta, lookup: ObjectiveDirectory | None = None
) -> Exception:
    with pytest.raises((InvalidTransition, ReferenceRejected, CampaignNotFound)) as caught:
        decide(WS, "c1", state, command, lookup or directory())
    return caught.value


@pytest.mark.parametrize(
    ("history", "command", "allowed"),
    [
        ([], ActivateCampaign(), False),  # live already
        ([], PauseCampaign(), True),
        ([], ResumeCampaign(), False),
        ([PauseCampaign()], PauseCampaign(), False),
        ([PauseCampaign()], ResumeCampaign(), True),
        ([PauseCampaign()], EndCampaign(), True),
        ([EndCampaign()], ResumeCampaign(), False),
        ([EndCampaign()], PauseCampaign(), False),
        ([EndCampaign()], EndCampaign(), False),
        ([EndCampaign()], ChangeBudget(budget=5), False),
        ([EndCampaign()], LaunchCreative(creative_id="v1"), False),
    ],
)
def test_state_machine(history: list[CommandMeta], command: CommandMeta, allowed: bool) -> None:
    state = run([launch(), *history])
    if allowed:
        decide(WS, "c1", state, command, directory())
    else:
        assert isinstance(refused(state, command), InvalidTransition)


def test_planned_campaign_is_activated() -> None:
    state = run([launch(status="planned")])
    assert state.status == "planned"
    assert isinstance(refused(state, PauseCampaign()), InvalidTransition)
    assert run([launch(status="planned"), ActivateCampaign()]).status == "live"


def test_commands_on_a_missing_campaign_are_not_found() -> None:
    with pytest.raises(CampaignNotFound):
        decide(WS, "c1", None, PauseCampaign(), directory())
    state = run([launch()])
    assert "already exists" in str(refused(state, launch()))


def test_untethered_follows_active_links() -> None:
    lookup = directory(grow="active", old="retired", keep="active")
    assert run([launch()], lookup).untethered is True
    state = run([launch(objective_ids=("grow",))], lookup)
    assert state.untethered is False
    state = run([launch(objective_ids=("grow",)), UnlinkObjective(objective_id="grow")], lookup)
    assert state.untethered is True and state.objective_ids == []
    state = run([launch(), LinkObjective(objective_id="keep")], lookup)
    assert state.untethered is False
    # a linked objective retired later no longer tethers the campaign
    lookup.objectives[(WS, "keep")] = "retired"
    assert state.as_dict(lookup)["untethered"] is True


def test_unknown_and_retired_objectives_are_named() -> None:
    lookup = directory(old="retired")
    with pytest.raises(ObjectivesRejected) as caught:
        decide(WS, "c1", None, launch(objective_ids=("ghost", "old")), lookup)
    assert caught.value.unknown == {"ghost": "objective_ids[0]"}
    assert caught.value.retired == {"old": "objective_ids[1]"}
    assert caught.value.status == 422
    assert "ghost" in caught.value.message and "old" in caught.value.message
    state = run([launch()])
    error = refused(state, LinkObjective(objective_id="ghost"), lookup)
    assert error.errors == [  # type: ignore[attr-defined]
        {
            "field": "objective_id",
            "message": "unknown objective 'ghost'",
            "type": "unknown_objective",
        }
    ]


def test_creatives_and_experiments() -> None:
    state = run(
        [
            launch(),
            LaunchCreative(creative_id="a"),
            LaunchCreative(creative_id="b"),
            RetireCreative(creative_id="b"),
            ConcludeExperiment(
                experiment_id="x", winner_creative_id="a", loser_creative_ids=("b",)
            ),
        ]
    )
    assert state.creatives["b"].status == "retired"
    assert state.experiments["x"].winner_creative_id == "a"
    assert isinstance(refused(state, RetireCreative(creative_id="zz")), ReferenceRejected)
    unknown = refused(state, ConcludeExperiment(experiment_id="y", winner_creative_id="zz"))
    assert unknown.errors[0]["field"] == "winner_creative_id"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="winner"):
        ConcludeExperiment(experiment_id="y", winner_creative_id="a", loser_creative_ids=("a",))


def test_launch_validation() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        launch(end=T0)
    with pytest.raises(ValueError, match="repeat"):
        launch(objective_ids=("a", "a"))
    with pytest.raises(ValueError):
        launch(budget=-1)


def test_replay_rebuilds_the_same_state_and_ignores_foreign_events() -> None:
    commands: list[CommandMeta] = [launch(), PauseCampaign(), ChangeBudget(budget=50)]
    state = run(commands)
    events = []
    replayed: Campaign | None = None
    for sequence, command in enumerate(commands, start=1):
        event_type, data = decide(WS, "c1", replayed, command, directory())
        event = build_event(
            event_type,
            data,
            workspace=WS,
            campaign_id="c1",
            command=command,
            event_id=uuid.uuid4(),
            now=T0,
        )
        events.append((event, sequence))
        replayed = evolve(replayed, event, sequence)
    rebuilt = rebuild(events)
    assert rebuilt is not None
    assert (rebuilt.status, rebuilt.budget, rebuilt.version) == (state.status, 50, 3)
    assert evolve(None, events[1][0]) is None  # an event before the launch is ignored


def test_objective_directory_folds_strategy_events() -> None:
    spec = ObjectiveSpec(
        objective_id="o1", name="o1", kpi="leads", target=10, start=T0, deadline=T1
    )
    d = ObjectiveDirectory()
    d.apply(
        ObjectiveAdded(workspace=WS, aggregate_id="s", data=ObjectiveSetData(objective=spec)), 3
    )
    assert d.status(WS, "o1") == "active"
    assert d.status("other", "o1") is None
    d.apply(
        ObjectiveRetired(
            workspace=WS, aggregate_id="s", data=ObjectiveRetiredData(objective_id="o1")
        ),
        7,
    )
    assert d.status(WS, "o1") == "retired"
    assert d.position == 7


def test_command_names_and_parsing_for_the_nats_door() -> None:
    assert set(COMMANDS) >= {"launch", "pause", "resume", "end", "link_objective"}
    campaign_id, command = parse_command(
        orjson.dumps({"command": "pause", "campaign_id": "c1", "reason": "x"})
    )
    assert campaign_id == "c1" and isinstance(command, PauseCampaign)
    campaign_id, command = parse_command(
        orjson.dumps(
            {
                "command": "launch",
                "campaign_id": "c2",
                "channel": "s",
                "segment": "t",
                "budget": 1,
                "start": "2025-01-01T00:00:00Z",
                "end": "2025-02-01T00:00:00Z",
            }
        )
    )
    assert campaign_id == "c2" and isinstance(command, LaunchCampaign)
    for payload, reason, field in [
        (b"nope", "malformed", None),
        (b"[1]", "malformed", None),
        (orjson.dumps({"command": "fly"}), "invalid", "command"),
        (orjson.dumps({"command": "pause", "campaign_id": "a b"}), "invalid", "campaign_id"),
        (orjson.dumps({"command": "budget"}), "invalid", "command"),
        (orjson.dumps({"command": "change_budget", "campaign_id": "c"}), "invalid", "budget"),
    ]:
        with pytest.raises(Rejected) as caught:
            parse_command(payload)
        assert caught.value.reason == reason
        if field:
            assert field in {e["field"] for e in caught.value.errors}
