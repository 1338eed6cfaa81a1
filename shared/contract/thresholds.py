"""How guardrails are applied: float-robust threshold comparisons, hysteresis, warm-up and the
time-sanity limit. Pure functions the drift rules and the doors call, so every rule compares
the same way (docs/design.md, "Guardrails against noise").

Float noise: sums of shares arrive as 10.000000000000014 points against a 10-point tolerance;
a value within `REL_TOL` (relative) or `ABS_TOL` (absolute) of its threshold is *at* the
threshold, which never fires a drift ("more than the tolerance" means clearly more).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal

from truenorth.contract.common import DEFAULT_GUARDRAILS, Guardrails

REL_TOL = 1e-9
ABS_TOL = 1e-9
Side = Literal["above", "below"]
"""`above`: a drift when the figure exceeds the threshold (mix deviation, overrun share);
`below`: a drift when it falls under it (pace)."""
Severity = Literal["info", "warning", "critical"]


def at_threshold(value: float, threshold: float) -> bool:
    return math.isclose(value, threshold, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def exceeds(value: float, threshold: float) -> bool:
    """value > threshold, clearly (float noise at the threshold is not more)."""
    return value > threshold and not at_threshold(value, threshold)


def falls_below(value: float, threshold: float) -> bool:
    """value < threshold, clearly."""
    return value < threshold and not at_threshold(value, threshold)


def breaches(value: float, threshold: float, side: Side) -> bool:
    return exceeds(value, threshold) if side == "above" else falls_below(value, threshold)


def resolve_threshold(
    threshold: float, hysteresis: float, side: Side, nominal: float | None = None
) -> float:
    """Where an open drift resolves: `hysteresis` of the way back from the threshold to the
    nominal value (0 for `above` figures such as a deviation; 1 for `below` figures such as
    a pace). 10 pts with 0.2 resolves at 8 pts; a pace of 0.80 with 0.2 at 0.84."""
    if nominal is None:
        nominal = 0.0 if side == "above" else 1.0
    return threshold + hysteresis * (nominal - threshold)


def is_drifting(
    value: float,
    threshold: float,
    *,
    side: Side,
    was_open: bool,
    hysteresis: float | None = None,
    nominal: float | None = None,
) -> bool:
    """Whether a drift is (still) there: it opens beyond `threshold` and, once open, stays open
    until the figure is back past the tighter resolve threshold (no flapping at the edge)."""
    if not was_open:
        return breaches(value, threshold, side)
    h = DEFAULT_GUARDRAILS.resolve_hysteresis if hysteresis is None else hysteresis
    back = resolve_threshold(threshold, h or 0.0, side, nominal)
    return breaches(value, back, side)


def _value(guardrails: Guardrails, name: str) -> float:
    own = getattr(guardrails, name)
    return float(getattr(DEFAULT_GUARDRAILS, name) if own is None else own)


def warmed_up(
    *, elapsed_share: float, spend: float, observations: int, guardrails: Guardrails
) -> bool:
    """Enough of the window has passed AND enough evidence exists to judge pace or mix at
    warning or above (`warmup_window_share`, `warmup_min_spend`, `warmup_min_observations`)."""
    return (
        not falls_below(elapsed_share, _value(guardrails, "warmup_window_share"))
        and not falls_below(spend, _value(guardrails, "warmup_min_spend"))
        and observations >= _value(guardrails, "warmup_min_observations")
    )


def during_warmup(severity: Severity, warm: bool) -> Severity:
    """Before warm-up only `info` is raised: a higher severity is capped."""
    return severity if warm else "info"


def mix_judgeable(period_spend: float, guardrails: Guardrails) -> bool:
    """Channel shares mean something only once the period has spent `mix_min_period_spend`
    (before that one campaign's first day is "100 % of spend")."""
    return not falls_below(period_spend, _value(guardrails, "mix_min_period_spend"))


def future_limit(now: datetime, guardrails: Guardrails = DEFAULT_GUARDRAILS) -> datetime:
    """The latest moment a fact may be dated: now + `time_tolerance_days`."""
    return now + timedelta(days=_value(guardrails, "time_tolerance_days"))


def too_far_ahead(
    moment: datetime, now: datetime, guardrails: Guardrails = DEFAULT_GUARDRAILS
) -> bool:
    return moment > future_limit(now, guardrails)
