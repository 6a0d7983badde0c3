"""domain intelligence: crawl cache, addresses seen on company websites with their sources,
the learned-address ledger, and an index for LinkedIn look-ups

Only new tables and one index: no table is rebuilt on SQLite.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:02:11.284629
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('domain_crawls',
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('crawled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('addresses', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('domain', name=op.f('pk_domain_crawls'))
    )
    op.create_table('learned_addresses',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('learned_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_learned_addresses'))
    )
    with op.batch_alter_table('learned_addresses', schema=None) as batch_op:
        batch_op.create_index('ix_learned_addresses_domain', ['domain', 'source'], unique=False)

    op.create_table('web_addresses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('role', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_addresses')),
    sa.UniqueConstraint('address', name=op.f('uq_web_addresses_address'))
    )
    with op.batch_alter_table('web_addresses', schema=None) as batch_op:
        batch_op.create_index('ix_web_addresses_domain', ['domain', 'role'], unique=False)

    op.create_table('web_sources',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('extracted_on', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_on', sa.DateTime(timezone=True), nullable=False),
    sa.Column('still_on_page', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['address_id'], ['web_addresses.id'], name=op.f('fk_web_sources_address_id_web_addresses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sources')),
    sa.UniqueConstraint('address_id', 'uri', name=op.f('uq_web_sources_address_id_uri'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_org_linkedin', ['org_id', 'linkedin_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_org_linkedin')

    op.drop_table('web_sources')
    with op.batch_alter_table('web_addresses', schema=None) as batch_op:
        batch_op.drop_index('ix_web_addresses_domain')

    op.drop_table('web_addresses')
    with op.batch_alter_table('learned_addresses', schema=None) as batch_op:
        batch_op.drop_index('ix_learned_addresses_domain')

    op.drop_table('learned_addresses')
    op.drop_table('domain_crawls')
