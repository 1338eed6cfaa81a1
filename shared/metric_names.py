"""Prometheus metric names and labels (docs/design.md, "What leadership and alerting see"),
declared once.

Dashboards, alert rules and the alignment collector all import from here.
Labels come only from bounded sets: workspace, strategy, objective, kpi, channel, kind,
severity, status, stream, and incident (one per *open* incident: bounded by what is open).
"""

PREFIX = "truenorth"

# Objective progress (labels: workspace, strategy, objective, kpi)
OBJECTIVE_PROGRESS = "truenorth_objective_progress_ratio"
OBJECTIVE_EXPECTED = "truenorth_objective_expected_progress_ratio"
OBJECTIVE_PACE = "truenorth_objective_pace_ratio"
OBJECTIVE_ACTUAL = "truenorth_objective_actual"
OBJECTIVE_TARGET = "truenorth_objective_target"
OBJECTIVE_BASELINE = "truenorth_objective_baseline"
OBJECTIVE_FORECAST_ATTAINMENT = "truenorth_objective_forecast_attainment_ratio"
OBJECTIVE_FORECAST_ATTAINMENT_LOW = "truenorth_objective_forecast_attainment_low_ratio"
OBJECTIVE_FORECAST_ATTAINMENT_HIGH = "truenorth_objective_forecast_attainment_high_ratio"
"""The 80 % interval of the forecast attainment."""
OBJECTIVE_HIT_PROBABILITY = "truenorth_objective_hit_probability"
"""P(reaching the target by the deadline), 0-1."""
OBJECTIVE_STATUS = "truenorth_objective_status"  # + label status, value 1 for the current one
OBJECTIVE_REQUIRED_RATE = "truenorth_objective_required_rate_per_day"
"""Run-rate (KPI units/day) still needed to reach target by the deadline; for burn alerts."""
OBJECTIVE_DEADLINE = "truenorth_objective_deadline_timestamp_seconds"
# The owner's latest check-in (only objectives that have one): confidence 0/1/2 = low/medium/
# high, the figure the owner corrected the KPI to (when they did), and when they checked in.
OBJECTIVE_CHECKIN_CONFIDENCE = "truenorth_objective_checkin_confidence"
OBJECTIVE_CHECKIN_CORRECTED = "truenorth_objective_checkin_corrected_value"
OBJECTIVE_CHECKIN_TIME = "truenorth_objective_checkin_timestamp_seconds"

# Campaign contribution (labels: workspace, strategy, objective, channel) — campaign ids are
# unbounded, so per-campaign figures are served by the read API, not as labels.
OBJECTIVE_SPEND = "truenorth_objective_spend"

# Drift (labels: workspace, strategy, kind, severity; objective where it has one)
DRIFT_OPEN = "truenorth_drift_open"

# Incidents: drifts with one cause (labels: workspace, strategy, incident, severity = the highest
# of its open facets), value 1 per open incident; what the alert rules fire on.
INCIDENT_OPEN = "truenorth_incident_open"

# Spend (labels: workspace, strategy, channel)
CHANNEL_SPEND_SHARE = "truenorth_channel_spend_share"
CHANNEL_PLANNED_SHARE = "truenorth_channel_planned_share"
ALIGNED_SPEND_RATIO = "truenorth_aligned_spend_ratio"  # labels: workspace, strategy

# Strategy changes, for Grafana annotations (labels: workspace, strategy, kind)
STRATEGY_CHANGES = "truenorth_strategy_changes_total"
STRATEGY_LAST_CHANGE = "truenorth_strategy_last_change_timestamp_seconds"

# Pipeline health (label: stream)
EVENTS_APPLIED = "truenorth_events_applied_total"
PARTITION_OWNED = "truenorth_alignment_partition_owned_epoch"
"""Per owned partition (label: partition), its lease epoch: each worker exposes only its own."""
PARTITION_LAG = "truenorth_alignment_partition_lag_events"
PROJECTION_LAG = "truenorth_projection_lag_events"
LAST_APPLIED_SEQUENCE = "truenorth_last_applied_sequence"
DLQ_SIZE = "truenorth_dlq_messages"
BATCH_COMMIT_SECONDS = "truenorth_batch_commit_seconds"
SNAPSHOT_BUILD_SECONDS = "truenorth_snapshot_build_seconds"
CONSUMER_STALLED = "truenorth_consumer_stalled"
REDELIVERIES = "truenorth_redeliveries_total"
LAST_TICK = "truenorth_last_tick_timestamp_seconds"
DRIFT_OUTBOX_OLDEST = "truenorth_drift_outbox_oldest_timestamp_seconds"
"""When the oldest drift event still waiting in the outbox occurred, its tick (0: none waits)."""

# Intake (labels: service, reason)
INTAKE_REJECTED = "truenorth_intake_rejected_total"
INTAKE_ACCEPTED = "truenorth_intake_accepted_total"

STATUSES = ("not_started", "on_track", "at_risk", "off_track", "achieved", "missed")
