"""Small documents and strategies for the strategy domain tests."""

from __future__ import annotations

from datetime import UTC, datetime
from textwrap import dedent

from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import EVENT_ADAPTER
from truenorth.strategy.domain import (
    Attribution,
    Strategy,
    StrategyDocument,
    load_document,
    plan_changes,
)

OCT_1 = datetime(2026, 10, 1, tzinfo=UTC)
JAN_1 = datetime(2027, 1, 1, tzinfo=UTC)
MARIA = Attribution(actor="maria", reason="quarterly planning")

BASE_YAML = dedent(
    """\
    id: acme
    name: Acme
    owner: maria
    allowed_channels: [search, linkedin, email]
    target_segments: [cio]
    periods:
      - id: 2026-q4
        start: 2026-10-01
        end: 2026-12-31
        budget: 100000
        channel_mix: {search: 60, linkedin: 40}
    objectives:
      - id: leads-q4
        name: Leads in Q4
        kpi: leads
        target: 1000
        start: 2026-10-01
        deadline: 2026-12-31
        phasing: {2026-10: 1, 2026-11: 1, 2026-12: 2}
        cost_per_outcome: 40
        owner: maria
      - id: signups-q4
        name: Signups in Q4
        kpi: signups
        target: 300
        start: 2026-10-01
        deadline: 2026-12-31
    """
)


def document(text: str = BASE_YAML, filename: str = "acme.yaml") -> StrategyDocument:
    return load_document(text, filename)


def stored(events: list[EnvelopeFields]) -> list[EnvelopeFields]:
    """The events as the service reads them back: through the JSON codec."""
    return [EVENT_ADAPTER.validate_json(event.model_dump_json()) for event in events]


def applied_strategy(text: str = BASE_YAML) -> Strategy:
    plan = plan_changes(document(text), None, actor="maria", reason="initial")
    return Strategy.from_events(stored(list(plan.events)))
