"""Folding the demo's actions through the alignment domain (no services, no bus): every drift
the scenario scripts opens, and the one the strategy answers resolves after the revision."""

from __future__ import annotations

import pytest

from truenorth.demo.offline import replay_offline
from truenorth.demo.scenario import (
    DEFAULT_EXAMPLE,
    available_examples,
    build_scenario,
    load_example,
)


@pytest.mark.parametrize("example", available_examples())
def test_scripted_drifts_open_and_the_answered_one_resolves(example: str) -> None:
    filename, text = load_example(example)
    scenario = build_scenario(text, 7, "demo", filename)
    result = replay_offline(scenario)
    revision = next(a.at for a in scenario.actions if a.kind == "revise_objective")
    for drift in scenario.drifts:
        assert result.opened(drift.drift_id), f"{drift.kind} {drift.subject} never opened"
        if drift.answered:
            opened = result.opened(drift.drift_id)
            assert any(moment < revision for moment in opened)
            assert any(moment >= revision for moment in result.resolved(drift.drift_id))
            assert not result.is_open(drift.drift_id)
            assert not [m for m in opened if m > revision], "re-opened after the revision"
    assert result.duplicates > 0 and result.restatements > 0
    assert result.snapshot is not None
    answered = next(d for d in scenario.drifts if d.answered)
    objective = next(o for o in result.snapshot.objectives if o.objective_id == answered.subject)
    assert objective.target == scenario.revised_target
    assert objective.status == "achieved"


def test_same_seed_same_drift_history() -> None:
    filename, text = load_example(DEFAULT_EXAMPLE)
    first = replay_offline(build_scenario(text, 11, "demo", filename))
    again = replay_offline(build_scenario(text, 11, "demo", filename))
    assert first.transitions == again.transitions
