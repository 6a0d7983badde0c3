"""bulk jobs: job slices, the leader lease, verdict counters and rerun/retention columns on jobs

Adding columns never rebuilds `jobs` on SQLite (plain ALTER TABLE ADD COLUMN), so rows referencing it stay.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:26:31.970109
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# 64-bit ids; SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )
    op.create_table('job_slices',
    sa.Column('job_id', ID, nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('PENDING', 'SENT', 'DONE')", name=op.f('ck_job_slices_status')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_slices_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'number', name=op.f('pk_job_slices'))
    )
    with op.batch_alter_table('job_slices', schema=None) as batch_op:
        batch_op.create_index('ix_job_slices_due', ['status', 'due_at'], unique=False)

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('deliverables', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('risky', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('bounces', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('rerun_lasttime', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retention_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('filename', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('columns', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('slice_rows', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('purged_at')
        batch_op.drop_column('notified_at')
        batch_op.drop_column('slice_rows')
        batch_op.drop_column('columns')
        batch_op.drop_column('filename')
        batch_op.drop_column('retention_hours')
        batch_op.drop_column('rerun_lasttime')
        batch_op.drop_column('bounces')
        batch_op.drop_column('risky')
        batch_op.drop_column('deliverables')
        batch_op.drop_column('failed')

    with op.batch_alter_table('job_slices', schema=None) as batch_op:
        batch_op.drop_index('ix_job_slices_due')

    op.drop_table('job_slices')
    op.drop_table('leases')