"""The alignment service's pure domain: projection, progress, snapshot and drift.

No I/O here: events come in decoded, time comes in as an argument.
"""

from truenorth.alignment.domain.drift import DriftTracker, DriftTransition, detect_drifts, drift_id
from truenorth.alignment.domain.progress import ObjectiveProgress, evaluate_objective
from truenorth.alignment.domain.projection import Projection
from truenorth.alignment.domain.snapshot import Snapshot, build_snapshot

__all__ = [
    "DriftTracker",
    "DriftTransition",
    "ObjectiveProgress",
    "Projection",
    "Snapshot",
    "build_snapshot",
    "detect_drifts",
    "drift_id",
    "evaluate_objective",
]
