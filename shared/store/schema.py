"""Tables shared by every projection. Migrations in ./migrations mirror this metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, Index, MetaData, String, Table

metadata = MetaData()

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("stream", String(32), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
)

observation_ledger = Table(
    "observation_ledger",
    metadata,
    Column("workspace", String(64), primary_key=True),
    Column("observation_id", String(128), primary_key=True),
    Column("value", Float, nullable=False),
    Column("event_id", String(36), nullable=False),
)
"""The metrics service's memory of observation ids: restatement detection beyond the
JetStream duplicate window."""

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("key", String(16), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("scopes", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_tokens_name", "name"),
)
"""HTTP API tokens (`truenorth.auth`): one row per secret, only its sha256 stored; a rotated
token has two rows under one name while the old secret's grace period runs."""
