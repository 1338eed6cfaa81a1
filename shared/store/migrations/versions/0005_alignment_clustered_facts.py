"""alignment: observation values and period totals stored in key order

`al_period_totals` gets the key (workspace, metric, campaign_id, period_end, period_start), so
a window sum of one metric is a range scan already grouped by campaign; on SQLite both tables
keep their rows inside the key (WITHOUT ROWID) instead of behind a rowid. The rows are copied;
no replay is needed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OBSERVATION_COLUMNS = (
    "workspace, observation_id, version, recorded_at, superseded_at, campaign_id, metric, "
    "period_start, period_end, value"
)
TOTAL_COLUMNS = "workspace, metric, campaign_id, period_end, period_start, total, last_recorded_at"


def upgrade() -> None:
    _rebuild("al_observations", _observations, OBSERVATION_COLUMNS)
    op.drop_index("ix_al_totals_metric", table_name="al_period_totals")
    _rebuild("al_period_totals", _period_totals, TOTAL_COLUMNS)


def downgrade() -> None:
    raise NotImplementedError("0005 is not reversible: rebuild the projection from the log")


def _rebuild(name: str, create: Callable[[str], None], columns: str) -> None:
    create(f"{name}_0005")
    op.execute(f"INSERT INTO {name}_0005 ({columns}) SELECT {columns} FROM {name}")
    op.drop_table(name)
    op.rename_table(f"{name}_0005", name)


def _observations(name: str) -> None:
    op.create_table(
        name,
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("observation_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("superseded_at", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace", "observation_id", "version", name="pk_al_observations"
        ),
        sqlite_with_rowid=False,
    )


def _period_totals(name: str) -> None:
    op.create_table(
        name,
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("last_recorded_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace",
            "metric",
            "campaign_id",
            "period_end",
            "period_start",
            name="pk_al_period_totals",
        ),
        sqlite_with_rowid=False,
    )
