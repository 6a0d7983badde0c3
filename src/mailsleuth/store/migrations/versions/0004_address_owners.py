"""the learned-address ledger keeps who a verified address belongs to

A nullable column: no table is rebuilt on SQLite. Finds use the owner only to know the address is
taken (a namesake then gets the next variant), never to answer with another organisation's find.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('learned_addresses', sa.Column('owner', sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('learned_addresses') as batch:
        batch.drop_column('owner')
