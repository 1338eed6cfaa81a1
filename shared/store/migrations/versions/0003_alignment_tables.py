"""alignment projection in typed tables (replaces projection_rows); partition fences

The alignment projection restarts from zero: its checkpoints and processed ids are dropped so
the service replays the log into the new tables at its next start.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('al_acknowledgements',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('drift_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('recorded_at', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('objective_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_al_acks_drift', 'al_acknowledgements', ['workspace', 'drift_id'], unique=False)
    op.create_table('al_answers',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('recorded_at', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('objective_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_al_answers_target', 'al_answers', ['workspace', 'target_id'], unique=False)
    op.create_table('al_campaign_links',
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('objective_id', sa.String(length=64), nullable=False),
    sa.Column('linked_from', sa.BigInteger(), nullable=False),
    sa.Column('linked_until', sa.BigInteger(), nullable=True),
    sa.Column('recorded_from', sa.BigInteger(), nullable=False),
    sa.Column('recorded_until', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('workspace', 'campaign_id', 'objective_id', 'linked_from')
    )
    op.create_index('ix_al_links_objective', 'al_campaign_links', ['workspace', 'objective_id'], unique=False)
    op.create_table('al_campaigns',
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.BigInteger(), nullable=False),
    sa.Column('recorded_at', sa.BigInteger(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('segment', sa.String(length=64), nullable=False),
    sa.Column('budget', sa.Float(), nullable=False),
    sa.Column('start', sa.BigInteger(), nullable=False),
    sa.Column('end', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('went_live', sa.BigInteger(), nullable=True),
    sa.Column('stopped', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('workspace', 'campaign_id', 'version')
    )
    op.create_index('ix_al_campaigns_current', 'al_campaigns', ['current', 'workspace'], unique=False)
    op.create_table('al_drift_history',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('drift_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_al_drift_history_at', 'al_drift_history', ['workspace', 'at'], unique=False)
    op.create_table('al_drifts',
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('drift_id', sa.String(length=64), nullable=False),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('opened_at', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('workspace', 'drift_id')
    )
    op.create_index('ix_al_drifts_open', 'al_drifts', ['open', 'workspace'], unique=False)
    op.create_table('al_objectives',
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('objective_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.BigInteger(), nullable=False),
    sa.Column('recorded_at', sa.BigInteger(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('strategy_id', sa.String(length=64), nullable=False),
    sa.Column('retired', sa.Boolean(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=True),
    sa.Column('override', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('workspace', 'objective_id', 'version')
    )
    op.create_index('ix_al_objectives_current', 'al_objectives', ['current', 'workspace'], unique=False)
    op.create_table('al_observations',
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('observation_id', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.BigInteger(), nullable=False),
    sa.Column('superseded_at', sa.BigInteger(), nullable=True),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.BigInteger(), nullable=False),
    sa.Column('period_end', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('workspace', 'observation_id', 'version')
    )
    op.create_table('al_outbox',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_table('al_period_totals',
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.BigInteger(), nullable=False),
    sa.Column('period_end', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('last_recorded_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('workspace', 'campaign_id', 'metric', 'period_start', 'period_end')
    )
    op.create_index('ix_al_totals_metric', 'al_period_totals', ['workspace', 'metric', 'period_end'], unique=False)
    op.create_table('al_strategies',
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('strategy_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.BigInteger(), nullable=False),
    sa.Column('recorded_at', sa.BigInteger(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('defined', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('target_segments', sa.JSON(), nullable=False),
    sa.Column('allowed_channels', sa.JSON(), nullable=False),
    sa.Column('guardrails', sa.JSON(), nullable=True),
    sa.Column('periods', sa.JSON(), nullable=False),
    sa.Column('change_counts', sa.JSON(), nullable=False),
    sa.Column('last_change', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('workspace', 'strategy_id', 'version')
    )
    op.create_index('ix_al_strategies_current', 'al_strategies', ['current', 'workspace'], unique=False)
    op.create_table('partition_fences',
    sa.Column('consumer', sa.String(length=64), nullable=False),
    sa.Column('partition', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'partition')
    )
    op.drop_table('projection_rows')
    op.execute("DELETE FROM checkpoints WHERE consumer LIKE 'alignment%'")
    op.execute("DELETE FROM processed_events WHERE consumer LIKE 'alignment%'")


def downgrade() -> None:
    op.drop_table('partition_fences')
    op.create_table('projection_rows',
    sa.Column('consumer', sa.VARCHAR(length=64), nullable=False),
    sa.Column('kind', sa.VARCHAR(length=32), nullable=False),
    sa.Column('key', sa.VARCHAR(length=300), nullable=False),
    sa.Column('payload', sa.TEXT(), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'kind', 'key')
    )
    op.drop_index('ix_al_strategies_current', table_name='al_strategies')
    op.drop_table('al_strategies')
    op.drop_index('ix_al_totals_metric', table_name='al_period_totals')
    op.drop_table('al_period_totals')
    op.drop_table('al_outbox')
    op.drop_table('al_observations')
    op.drop_index('ix_al_objectives_current', table_name='al_objectives')
    op.drop_table('al_objectives')
    op.drop_index('ix_al_drifts_open', table_name='al_drifts')
    op.drop_table('al_drifts')
    op.drop_index('ix_al_drift_history_at', table_name='al_drift_history')
    op.drop_table('al_drift_history')
    op.drop_index('ix_al_campaigns_current', table_name='al_campaigns')
    op.drop_table('al_campaigns')
    op.drop_index('ix_al_links_objective', table_name='al_campaign_links')
    op.drop_table('al_campaign_links')
    op.drop_index('ix_al_answers_target', table_name='al_answers')
    op.drop_table('al_answers')
    op.drop_index('ix_al_acks_drift', table_name='al_acknowledgements')
    op.drop_table('al_acknowledgements')
