"""JSON views of the strategy aggregate and the feedback inbox."""

from __future__ import annotations

from typing import Any

from truenorth.strategy.domain import Strategy
from truenorth.strategy.inbox import Inbox, InboxDrift


def strategy_view(strategy: Strategy, inbox: Inbox) -> dict[str, Any]:
    header = strategy.header.model_dump(mode="json") if strategy.header else {}
    return {
        "strategy_id": strategy.strategy_id,
        "workspace": strategy.workspace,
        "version": strategy.version,
        **header,
        "guardrails": strategy.guardrails.model_dump(mode="json", exclude_none=True),
        "effective_guardrails": strategy.effective_guardrails().model_dump(mode="json"),
        "periods": [p.model_dump(mode="json") for _, p in sorted(strategy.periods.items())],
        "objectives": [
            {
                **state.spec.model_dump(mode="json"),
                "retired": state.retired,
                "open_drifts": [
                    drift_view(d, strategy)
                    for d in inbox.open_for_objective(strategy.workspace, state.objective_id)
                ],
            }
            for _, state in sorted(strategy.objectives.items())
        ],
        "updated_at": strategy.updated_at.isoformat() if strategy.updated_at else None,
    }


def drift_view(drift: InboxDrift, strategy: Strategy) -> dict[str, Any]:
    ack = strategy.acknowledged_drifts.get(drift.data.drift_id)
    responses = strategy.responses.get(drift.data.drift_id, [])
    return {
        **drift.data.model_dump(mode="json"),
        "status": "open" if drift.open else "resolved",
        "opened_at": drift.opened_at.isoformat(),
        "updated_at": drift.updated_at.isoformat(),
        "resolved_at": drift.resolved_at.isoformat() if drift.resolved_at else None,
        "acknowledged": None
        if ack is None
        else {"by": ack.actor, "at": ack.occurred_at.isoformat(), "note": ack.note},
        "responses": [
            {
                "event_type": r.event_type,
                "objective_id": r.objective_id,
                "by": r.actor,
                "at": r.occurred_at.isoformat(),
                "reason": r.reason,
            }
            for r in responses
        ],
    }


def inbox_view(strategy: Strategy, inbox: Inbox, status: str) -> dict[str, Any]:
    drifts = [
        drift_view(d, strategy)
        for d in inbox.for_strategy(strategy.workspace, strategy.strategy_id)
        if status == "all" or (d.open if status == "open" else not d.open)
    ]
    return {"strategy_id": strategy.strategy_id, "drifts": drifts}


def history_view(strategy: Strategy, objective_id: str) -> dict[str, Any]:
    entries = strategy.history(objective_id)
    return {
        "objective_id": objective_id,
        "history": [
            {
                "version": e.version,
                "event_id": str(e.event_id),
                "event_type": e.event_type,
                "actor": e.actor,
                "occurred_at": e.occurred_at.isoformat(),
                "reason": e.reason,
                "in_response_to": e.in_response_to,
                "changes": [c.as_dict() for c in e.changes],
            }
            for e in entries
        ],
    }
