"""alignment: objective owners' check-ins (al_checkins)

No replay is needed: the event type is introduced with this table, so no projection before it
can have folded (or skipped) a check-in.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "al_checkins",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("strategy_id", sa.String(length=64), nullable=False),
        sa.Column("objective_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("confidence", sa.String(length=8), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("corrected_value", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_al_checkins_objective",
        "al_checkins",
        ["workspace", "objective_id", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_al_checkins_objective", table_name="al_checkins")
    op.drop_table("al_checkins")
