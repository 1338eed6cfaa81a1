"""The alignment projection as typed tables (SQLAlchemy Core).

Every fact keeps when it was true in the world (`valid_from`: the event's `occurred_at`; an
observation's period) and when truenorth learned it (`recorded_at`), as integer microseconds
since the epoch (`truenorth.alignment.domain.timeunits`). Entities changed by events keep one
row per version; `current` marks the newest, which is what the live view reads. The migration
is shared/store/migrations/versions/0003_alignment_tables.py (check-ins: 0004, the drift
version: 0006).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from truenorth.store.schema import metadata

Micros = BigInteger

strategies = Table(
    "al_strategies",
    metadata,
    Column("workspace", String(64), primary_key=True),
    Column("strategy_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("valid_from", Micros, nullable=False),
    Column("recorded_at", Micros, nullable=False),
    Column("current", Boolean, nullable=False),
    Column("defined", Boolean, nullable=False),
    Column("name", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("target_segments", JSON, nullable=False),
    Column("allowed_channels", JSON, nullable=False),
    Column("guardrails", JSON, nullable=True),
    Column("periods", JSON, nullable=False),
    Column("change_counts", JSON, nullable=False),
    Column("last_change", Micros, nullable=False),
    Index("ix_al_strategies_current", "current", "workspace"),
)

objectives = Table(
    "al_objectives",
    metadata,
    Column("workspace", String(64), primary_key=True),
    Column("objective_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("valid_from", Micros, nullable=False),
    Column("recorded_at", Micros, nullable=False),
    Column("current", Boolean, nullable=False),
    Column("strategy_id", String(64), nullable=False),
    Column("retired", Boolean, nullable=False),
    Column("spec", JSON, nullable=True),
    Column("override", JSON, nullable=True),
    Index("ix_al_objectives_current", "current", "workspace"),
)

campaigns = Table(
    "al_campaigns",
    metadata,
    Column("workspace", String(64), primary_key=True),
    Column("campaign_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("valid_from", Micros, nullable=False),
    Column("recorded_at", Micros, nullable=False),
    Column("current", Boolean, nullable=False),
    Column("name", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("segment", String(64), nullable=False),
    Column("budget", Float, nullable=False),
    Column("start", Micros, nullable=False),
    Column("end", Micros, nullable=False),
    Column("status", String(16), nullable=False),
    Column("went_live", Micros, nullable=True),
    Column("stopped", Micros, nullable=True),
    Index("ix_al_campaigns_current", "current", "workspace"),
)

campaign_links = Table(
    "al_campaign_links",
    metadata,
    Column("workspace", String(64), primary_key=True),
    Column("campaign_id", String(64), primary_key=True),
    Column("objective_id", String(64), primary_key=True),
    Column("linked_from", Micros, primary_key=True),
    Column("linked_until", Micros, nullable=True),
    Column("recorded_from", Micros, nullable=False),
    Column("recorded_until", Micros, nullable=True),
    Index("ix_al_links_objective", "workspace", "objective_id"),
)
"""The interval each campaign-objective link held (`linked_until` NULL: still linked)."""

observations = Table(
    "al_observations",
    metadata,
    Column("workspace", String(64), primary_key=True),
    Column("observation_id", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("recorded_at", Micros, nullable=False),
    Column("superseded_at", Micros, nullable=True),
    Column("campaign_id", String(64), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("period_start", Micros, nullable=False),
    Column("period_end", Micros, nullable=False),
    Column("value", Float, nullable=False),
    sqlite_with_rowid=False,
)
"""Every value an observation id has had: the one with `superseded_at` NULL counts now; the one
recorded by K and not superseded by K counted at K (`known_at`). No index beyond the key: only
`known_at` readings scan it (by workspace), and a second index cost a quarter of a replay's
inserts. Stored in key order on SQLite (WITHOUT ROWID): the fold looks values up by id."""

period_totals = Table(
    "al_period_totals",
    metadata,
    Column("workspace", String(64), primary_key=True),
    Column("metric", String(64), primary_key=True),
    Column("campaign_id", String(64), primary_key=True),
    Column("period_end", Micros, primary_key=True),
    Column("period_start", Micros, primary_key=True),
    Column("total", Float, nullable=False),
    Column("last_recorded_at", Micros, nullable=False),
    sqlite_with_rowid=False,
)
"""Σ of the current values per (campaign, metric, period): what window sums read. Kept in
(workspace, metric, campaign, period end) order, rows inside the key on SQLite (WITHOUT
ROWID): a window sum is one range scan already grouped by campaign, 8x faster than through a
secondary index (44 000 totals: 16 ms -> 2 ms; benchmarks/README.md, seventh session)."""

drifts = Table(
    "al_drifts",
    metadata,
    Column("workspace", String(64), primary_key=True),
    Column("drift_id", String(64), primary_key=True),
    Column("open", Boolean, nullable=False),
    Column("opened_at", Micros, nullable=False),
    Column("changed_at", Micros, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_al_drifts_open", "open", "workspace"),
)

drift_history = Table(
    "al_drift_history",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("workspace", String(64), nullable=False),
    Column("drift_id", String(64), nullable=False),
    Column("at", Micros, nullable=False),
    Column("action", String(16), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_al_drift_history_at", "workspace", "at"),
)
"""Each drift transition (what the ALIGNMENT stream carries): `/drifts?as_of=` reads it."""

drift_versions = Table(
    "al_drift_versions",
    metadata,
    Column("workspace", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
)
"""A counter per workspace, moved in the transaction of every change to its drift rows, so a
live snapshot keeps its summary of the open drifts until it moves (`store/drifts.LiveDrifts`).
Per workspace, so partitions ticking side by side never wait on one row. Migration 0006."""

acknowledgements = Table(
    "al_acknowledgements",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("workspace", String(64), nullable=False),
    Column("drift_id", String(64), nullable=False),
    Column("at", Micros, nullable=False),
    Column("recorded_at", Micros, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("note", Text, nullable=False),
    Column("objective_id", String(64), nullable=True),
    Index("ix_al_acks_drift", "workspace", "drift_id"),
)

answers = Table(
    "al_answers",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("workspace", String(64), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("at", Micros, nullable=False),
    Column("recorded_at", Micros, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("objective_id", String(64), nullable=True),
    Index("ix_al_answers_target", "workspace", "target_id"),
)
"""Strategy changes made `in_response_to` a drift or an incident."""

checkins = Table(
    "al_checkins",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("workspace", String(64), nullable=False),
    Column("strategy_id", String(64), nullable=False),
    Column("objective_id", String(64), nullable=False),
    Column("at", Micros, nullable=False),
    Column("recorded_at", Micros, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("confidence", String(8), nullable=False),
    Column("narrative", Text, nullable=False),
    Column("corrected_value", Float, nullable=True),
    Column("source", String(200), nullable=True),
    Index("ix_al_checkins_objective", "workspace", "objective_id", "at"),
)
"""Objective owners' check-ins (`ObjectiveCheckedIn`): beliefs kept beside the data."""

outbox = Table(
    "al_outbox",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("workspace", String(64), nullable=False),
    Column("payload", Text, nullable=False),
)
"""Drift events committed with their transition, deleted once published (UUIDv7: in order)."""

PROJECTION_TABLES = (
    strategies,
    objectives,
    campaigns,
    campaign_links,
    observations,
    period_totals,
    checkins,
)
"""What the digest covers: the fold of the three source streams."""
ALL_TABLES = (*PROJECTION_TABLES, drifts, drift_history, acknowledgements, answers, outbox)

IDS_PER_QUERY = 500
"""Ids in one `IN (...)` list: well under SQLite's 32 766 and PostgreSQL's 65 535 parameters a
statement."""

STREAMED_ROWS = 5_000
"""Rows a streamed read (`yield_per`, a server-side cursor on PostgreSQL) fetches at a time."""
