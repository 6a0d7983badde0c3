"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 11:04:21.810079
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# 64-bit ids; SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('companies',
    sa.Column('id', ID, nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('title', sa.String(length=500), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('logo', sa.String(length=2048), nullable=True),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('facts_fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_companies')),
    sa.UniqueConstraint('domain', name=op.f('uq_companies_domain'))
    )
    op.create_table('domain_conventions',
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('evidence', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('domain', name=op.f('pk_domain_conventions'))
    )
    op.create_table('domain_states',
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('mx_hosts', sa.JSON(), nullable=False),
    sa.Column('route_status', sa.String(length=16), nullable=True),
    sa.Column('catch_all', sa.Boolean(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ttl_seconds', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('domain', name=op.f('pk_domain_states'))
    )
    op.create_table('organizations',
    sa.Column('id', ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('plan', sa.String(length=64), nullable=False),
    sa.Column('webhook_secret', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizations')),
    sa.UniqueConstraint('name', name=op.f('uq_organizations_name'))
    )
    op.create_table('credit_balances',
    sa.Column('org_id', ID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('used', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("kind IN ('search', 'verify', 'enrich')", name=op.f('ck_credit_balances_kind')),
    sa.CheckConstraint('remaining >= 0', name=op.f('ck_credit_balances_not_negative')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_credit_balances_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'kind', name=op.f('pk_credit_balances'))
    )
    op.create_table('credit_ledger',
    sa.Column('id', ID, nullable=False),
    sa.Column('org_id', ID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('delta', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('search', 'verify', 'enrich')", name=op.f('ck_credit_ledger_kind')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_credit_ledger_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_ledger')),
    sa.UniqueConstraint('org_id', 'kind', 'reference', name=op.f('uq_credit_ledger_org_id_kind_reference'))
    )
    with op.batch_alter_table('credit_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_ledger_org_id'), ['org_id'], unique=False)

    op.create_table('lists',
    sa.Column('id', ID, nullable=False),
    sa.Column('org_id', ID, nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_lists_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lists'))
    )
    with op.batch_alter_table('lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lists_org_id'), ['org_id'], unique=False)

    op.create_table('users',
    sa.Column('id', ID, nullable=False),
    sa.Column('org_id', ID, nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('admin', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_users_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('org_id', 'email', name=op.f('uq_users_org_id_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_org_id'), ['org_id'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', ID, nullable=False),
    sa.Column('org_id', ID, nullable=False),
    sa.Column('user_id', ID, nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_api_keys_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_keys_user_id'), ['user_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', ID, nullable=False),
    sa.Column('org_id', ID, nullable=False),
    sa.Column('owner_id', ID, nullable=True),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('name_key', sa.String(length=300), nullable=False),
    sa.Column('first_name', sa.String(length=150), nullable=True),
    sa.Column('last_name', sa.String(length=150), nullable=True),
    sa.Column('domain', sa.String(length=253), nullable=True),
    sa.Column('company_name', sa.String(length=300), nullable=True),
    sa.Column('company_id', ID, nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('searching', sa.Boolean(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('linkedin_id', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('location', sa.String(length=300), nullable=True),
    sa.Column('webhook', sa.String(length=2048), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.Column('job_id', ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('LEAD', 'CONTACTED', 'WON', 'LOST')", name=op.f('ck_contacts_status')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_contacts_company_id_companies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_contacts_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_contacts_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_job_id'), ['job_id'], unique=False)
        batch_op.create_index('ix_contacts_org_created', ['org_id', 'created_at'], unique=False)
        batch_op.create_index('ix_contacts_org_lookup', ['org_id', 'domain', 'name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_owner_id'), ['owner_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', ID, nullable=False),
    sa.Column('org_id', ID, nullable=False),
    sa.Column('user_id', ID, nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('treated', sa.Integer(), nullable=False),
    sa.Column('success', sa.Integer(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('webhook', sa.String(length=2048), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('contact_id', ID, nullable=True),
    sa.Column('list_id', ID, nullable=True),
    sa.Column('rerun_frequency_hours', sa.Integer(), nullable=True),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retention_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('QUEUED', 'PROCESSING', 'PAUSED', 'CANCELLED', 'ENDED')", name=op.f('ck_jobs_status')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_jobs_contact_id_contacts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['list_id'], ['lists.id'], name=op.f('fk_jobs_list_id_lists'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_jobs_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_jobs_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('token', name=op.f('uq_jobs_token'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_jobs_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_jobs_org_kind_created', ['org_id', 'kind', 'created_at'], unique=False)

    op.create_table('list_members',
    sa.Column('list_id', ID, nullable=False),
    sa.Column('contact_id', ID, nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_list_members_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['list_id'], ['lists.id'], name=op.f('fk_list_members_list_id_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('list_id', 'contact_id', name=op.f('pk_list_members'))
    )
    with op.batch_alter_table('list_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_list_members_contact_id'), ['contact_id'], unique=False)

    op.create_table('job_rows',
    sa.Column('id', ID, nullable=False),
    sa.Column('job_id', ID, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('input', sa.JSON(), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('QUEUED', 'PROCESSING', 'ENDED', 'FAILED')", name=op.f('ck_job_rows_status')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_rows_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_rows')),
    sa.UniqueConstraint('job_id', 'position', name=op.f('uq_job_rows_job_id_position'))
    )
    with op.batch_alter_table('job_rows', schema=None) as batch_op:
        batch_op.create_index('ix_job_rows_claim', ['job_id', 'status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_job_rows_domain', ['job_id', 'domain'], unique=False)

    op.create_table('webhook_outbox',
    sa.Column('id', ID, nullable=False),
    sa.Column('org_id', ID, nullable=False),
    sa.Column('job_id', ID, nullable=True),
    sa.Column('target', sa.String(length=2048), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_webhook_outbox_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_webhook_outbox_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_webhook_outbox_idempotency_key'))
    )
    with op.batch_alter_table('webhook_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_outbox_due', ['delivered_at', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_outbox_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_outbox_org_id'), ['org_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhook_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_outbox_org_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_outbox_job_id'))
        batch_op.drop_index('ix_webhook_outbox_due')

    op.drop_table('webhook_outbox')
    with op.batch_alter_table('job_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_job_rows_domain')
        batch_op.drop_index('ix_job_rows_claim')

    op.drop_table('job_rows')
    with op.batch_alter_table('list_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_list_members_contact_id'))

    op.drop_table('list_members')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_org_kind_created')
        batch_op.drop_index('ix_jobs_due')
        batch_op.drop_index(batch_op.f('ix_jobs_contact_id'))

    op.drop_table('jobs')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_owner_id'))
        batch_op.drop_index('ix_contacts_org_lookup')
        batch_op.drop_index('ix_contacts_org_created')
        batch_op.drop_index(batch_op.f('ix_contacts_job_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_company_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_user_id'))
        batch_op.drop_index(batch_op.f('ix_api_keys_org_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_org_id'))

    op.drop_table('users')
    with op.batch_alter_table('lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lists_org_id'))

    op.drop_table('lists')
    with op.batch_alter_table('credit_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_ledger_org_id'))

    op.drop_table('credit_ledger')
    op.drop_table('credit_balances')
    op.drop_table('organizations')
    op.drop_table('domain_states')
    op.drop_table('domain_conventions')
    op.drop_table('companies')
