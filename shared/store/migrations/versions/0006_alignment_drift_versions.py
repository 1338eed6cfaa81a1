"""alignment: a version of each workspace's drift rows

`al_drift_versions` holds a counter per workspace, moved in the same transaction as every
change to that workspace's drift rows: a live snapshot reads a workspace's open drifts again
only when its counter has moved. Starts empty (a workspace without a row is at version 0).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "al_drift_versions",
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace"),
    )


def downgrade() -> None:
    op.drop_table("al_drift_versions")
