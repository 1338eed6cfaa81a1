"""JSON views of the strategy aggregate and the feedback inbox."""

from __future__ import annotations

from typing import Any

from truenorth.drift_lifecycle import Acknowledgement, Answer, DriftRecord, Incident
from truenorth.strategy.domain import Strategy
from truenorth.strategy.inbox import Inbox


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
                    drift_view(d)
                    for d in inbox.open_for_objective(strategy.workspace, state.objective_id)
                ],
            }
            for _, state in sorted(strategy.objectives.items())
        ],
        "updated_at": strategy.updated_at.isoformat() if strategy.updated_at else None,
    }


def drift_view(drift: DriftRecord) -> dict[str, Any]:
    acks = [ack_view(a) for a in drift.acknowledgements]
    return {
        **drift.data.model_dump(mode="json"),
        "status": drift.status,
        "opened_at": drift.opened_at.isoformat(),
        "first_detected_at": drift.first_detected_at.isoformat(),
        "updated_at": drift.updated_at.isoformat(),
        "resolved_at": drift.resolved_at.isoformat() if drift.resolved_at else None,
        "acknowledged": acks[-1] if drift.acknowledged else None,
        "acknowledgements": acks,
        "responses": [answer_view(a) for a in drift.answers],
    }


def incident_view(incident: Incident) -> dict[str, Any]:
    acks = [ack_view(a) for a in incident.acknowledgements]
    return {
        "incident_id": incident.incident_id,
        "subject": incident.subject,
        "cause": incident.cause,
        "severity": incident.severity,
        "status": incident.status,
        "kinds": list(incident.kinds),
        "opened_at": incident.opened_at.isoformat(),
        "first_detected_at": incident.first_detected_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "acknowledged": acks[-1] if incident.acknowledged else None,
        "acknowledgements": acks,
        "responses": [answer_view(a) for a in incident.answers],
        "facets": [drift_view(f) for f in incident.facets],
    }


def ack_view(ack: Acknowledgement) -> dict[str, Any]:
    return {"by": ack.who, "at": ack.at.isoformat(), "note": ack.note, "target": ack.target_id}


def answer_view(answer: Answer) -> dict[str, Any]:
    return {
        "event_type": answer.event_type,
        "objective_id": answer.objective_id,
        "by": answer.who,
        "at": answer.at.isoformat(),
        "reason": answer.reason,
        "target": answer.target_id,
    }


def _wanted(status: str, is_open: bool) -> bool:
    return status == "all" or (is_open if status == "open" else not is_open)


def inbox_view(strategy: Strategy, inbox: Inbox, status: str) -> dict[str, Any]:
    drifts = [
        drift_view(d)
        for d in inbox.for_strategy(strategy.workspace, strategy.strategy_id)
        if _wanted(status, d.open)
    ]
    return {"strategy_id": strategy.strategy_id, "drifts": drifts}


def incidents_view(strategy: Strategy, inbox: Inbox, status: str) -> dict[str, Any]:
    incidents = [
        incident_view(i)
        for i in inbox.incidents_for_strategy(strategy.workspace, strategy.strategy_id)
        if _wanted(status, i.open)
    ]
    return {"strategy_id": strategy.strategy_id, "incidents": incidents}


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


def checkins_view(strategy: Strategy, objective_id: str) -> dict[str, Any]:
    """Newest first; a retired objective's past check-ins stay readable."""
    state = strategy.objective(objective_id)
    return {
        "objective_id": objective_id,
        "checkins": [checkin.as_dict() for checkin in reversed(state.checkins)],
    }
