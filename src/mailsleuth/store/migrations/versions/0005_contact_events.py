"""contact history: status and list changes, finds and verifications, each with who and when

One new table: no table is rebuilt on SQLite.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('contact_events',
    sa.Column('id', _ID, nullable=False),
    sa.Column('org_id', _ID, nullable=False),
    sa.Column('contact_id', _ID, nullable=True),
    sa.Column('address', sa.String(length=320), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('user_id', _ID, nullable=True),
    sa.Column('job_id', _ID, nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('status', 'list_added', 'list_removed', 'search', 'verification')",
                       name=op.f('ck_contact_events_kind')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_events_contact_id_contacts'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                            name=op.f('fk_contact_events_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_contact_events_user_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_events'))
    )
    with op.batch_alter_table('contact_events', schema=None) as batch_op:
        batch_op.create_index('ix_contact_events_contact', ['contact_id', 'created_at'], unique=False)
        batch_op.create_index('ix_contact_events_address', ['org_id', 'address', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contact_events', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_events_address')
        batch_op.drop_index('ix_contact_events_contact')
    op.drop_table('contact_events')
