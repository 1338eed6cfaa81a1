"""`POST /v1/workspaces/{ws}/strategies/{s}/whatif`: shift budget between channels or
campaigns from a date and see every affected objective's forecast before and after
(docs/design.md, "What-if"); and the recommendation each off-pace incident carries."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine

from truenorth.alignment.domain.recommend import recommend, revision
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.domain.whatif import ObjectiveEffect, WhatIf, what_if
from truenorth.alignment.domain.whatif_shifts import End, Shift, ShiftRefused
from truenorth.alignment.domain.whatif_situation import Situation
from truenorth.alignment.foreground import in_foreground
from truenorth.alignment.store.read import Moment
from truenorth.alignment.store.whatif_read import UnknownPeriod, UnknownStrategy, read_situation
from truenorth.contract.envelope import Slug
from truenorth.drift_lifecycle import Incident
from truenorth.http import problem

MAX_SHIFTS = 20
log = structlog.get_logger()


class EndBody(BaseModel):
    """Exactly one of channel or campaign."""

    model_config = ConfigDict(extra="forbid")
    channel: Slug | None = None
    campaign: Slug | None = None

    @model_validator(mode="after")
    def _one(self) -> EndBody:
        if (self.channel is None) == (self.campaign is None):
            raise ValueError("give exactly one of channel or campaign")
        return self

    def end(self) -> End:
        if self.channel is not None:
            return End("channel", self.channel)
        assert self.campaign is not None
        return End("campaign", self.campaign)


class ShiftBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    source: EndBody = Field(alias="from")
    target: EndBody = Field(alias="to")
    amount: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)]


class WhatIfBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    starting: date | None = Field(
        default=None, alias="from", description="The day the shift starts (default: now)"
    )
    period_id: Slug | None = Field(
        default=None, description="The planning period (default: the current one)"
    )
    shifts: list[ShiftBody] = Field(min_length=1, max_length=MAX_SHIFTS)

    def shift_list(self) -> list[Shift]:
        return [Shift(s.source.end(), s.target.end(), s.amount) for s in self.shifts]

    def start(self) -> datetime | None:
        if self.starting is None:
            return None
        return datetime.combine(self.starting, time(), tzinfo=UTC)


whatif_router = APIRouter(prefix="/v1/workspaces/{workspace}", tags=["what-if"])


class OutlookModel(BaseModel):
    forecast: float
    low: float
    high: float
    """The 80 % interval of the KPI at the deadline."""
    attainment: float
    """forecast as a share of the planned change (1.0 = the target)."""
    p_hit: float


class ObjectiveEffectModel(BaseModel):
    objective_id: str
    name: str
    kpi: str
    aggregation: str
    modelled: bool
    """False for a level (latest) KPI: after = before."""
    before: OutlookModel
    after: OutlookModel


class WhatIfAnswer(BaseModel):
    assumptions: list[str]
    objectives: list[ObjectiveEffectModel]


REFUSED = {
    422: {
        "description": "errors[].field names the shift refused (disallowed channel, unknown "
        "campaign, bad amount, over the source's remaining budget, unknown period)"
    },
    404: {"description": "no such strategy"},
}


@whatif_router.post(
    "/strategies/{strategy_id}/whatif",
    summary="Forecasts of every affected objective before and after shifting budget",
    response_model=WhatIfAnswer,
    responses=REFUSED,  # type: ignore[arg-type]
)
async def whatif(
    request: Request, workspace: str, strategy_id: str, body: WhatIfBody
) -> JSONResponse | dict[str, Any]:
    engine: Engine = request.app.state.engine
    moment = Moment.now(to_micros(request.app.state.clock()))

    def compute() -> WhatIf:
        with engine.connect() as connection:
            situation = read_situation(connection, workspace, strategy_id, moment, body.period_id)
        return what_if(situation, body.shift_list(), body.start())

    try:
        result = await in_foreground(compute)
    except UnknownStrategy as exc:
        raise HTTPException(404, str(exc)) from None
    except UnknownPeriod as exc:
        return problem(422, str(exc), [_error("period_id", str(exc), "unknown_period")])
    except ShiftRefused as exc:
        errors = [_error(p.field, p.message, p.type) for p in exc.problems]
        return problem(422, str(exc), errors)
    return whatif_json(result)


def whatif_json(result: WhatIf) -> dict[str, Any]:
    return {
        "assumptions": list(result.assumptions),
        "objectives": [effect_json(e) for e in result.objectives],
    }


def effect_json(effect: ObjectiveEffect) -> dict[str, Any]:
    return {
        "objective_id": effect.objective_id,
        "name": effect.name,
        "kpi": effect.kpi,
        "aggregation": effect.aggregation,
        "modelled": effect.modelled,
        "before": asdict(effect.before),
        "after": asdict(effect.after),
    }


def shift_json(shift: Shift) -> dict[str, Any]:
    return {
        "from": {shift.source.kind: shift.source.ident},
        "to": {shift.target.kind: shift.target.ident},
        "amount": shift.amount,
    }


def _error(field: str, message: str, kind: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": kind}


# -- recommendations on incidents ------------------------------------------------------------


def off_pace_objective(incident: Incident) -> tuple[str, str] | None:
    """(strategy_id, objective_id) of an open incident's open off-pace facet, if any."""
    if incident.status != "open":
        return None
    for facet in incident.facets:
        data = facet.data
        if (
            facet.status == "open"
            and data.kind == "objective_off_pace"
            and data.strategy_id
            and data.objective_id
        ):
            return data.strategy_id, data.objective_id
    return None


def recommendations(
    engine: Engine, workspace: str, moment: Moment, incidents: list[Incident]
) -> dict[str, dict[str, Any] | None]:
    """incident_id -> its recommendation (None: no shift helps, or none can be searched) for
    each open off-pace incident; one reading per strategy."""
    wanted = {
        i.incident_id: target for i in incidents if (target := off_pace_objective(i)) is not None
    }
    situations: dict[str, Situation | None] = {}
    found: dict[str, dict[str, Any] | None] = {}
    if not wanted:
        return found
    with engine.connect() as connection:
        for incident_id, (strategy_id, objective_id) in wanted.items():
            if strategy_id not in situations:
                try:
                    situations[strategy_id] = read_situation(
                        connection, workspace, strategy_id, moment
                    )
                except (UnknownStrategy, UnknownPeriod):
                    situations[strategy_id] = None
            situation = situations[strategy_id]
            found[incident_id] = (
                None
                if situation is None
                else guarded_recommendation(situation, workspace, incident_id, objective_id)
            )
    return found


def guarded_recommendation(
    situation: Situation, workspace: str, incident_id: str, objective_id: str
) -> dict[str, Any] | None:
    """A recommendation that cannot be computed is logged and left out: the incidents it
    decorates are listed regardless."""
    try:
        return recommendation_json(situation, workspace, incident_id, objective_id)
    except (ArithmeticError, ValueError):
        log.exception("no recommendation", workspace=workspace, incident=incident_id)
        return None


def recommendation_json(
    situation: Situation, workspace: str, incident_id: str, objective_id: str
) -> dict[str, Any] | None:
    found = recommend(situation, objective_id)
    if found is None:
        return None
    return {
        "summary": found.summary,
        "objective_id": objective_id,
        "shifts": [shift_json(found.shift)],
        "assumptions": list(found.effect.assumptions),
        "effect": [effect_json(e) for e in found.effect.objectives],
        "revision": revision(situation, found, workspace, incident_id),
    }
