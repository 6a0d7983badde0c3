"""bulk job kinds and the bulk-find contact source get neutral names

A data migration, no schema change: the stored kinds "massive" and "lg_bulk" (VoilaNorbert's and
LeadGenius's words) become "find_file" and "find_batch", and contacts a bulk find filed change their
source from "massive" to "bulk". The dialects still show their own names on the wire.

Revision ID: 0006_neutral_kinds
Revises: 0005
Create Date: 2026-12-01 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_neutral_kinds'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, old value, new value)
RENAMES = (
    ('jobs', 'kind', 'massive', 'find_file'),
    ('jobs', 'kind', 'lg_bulk', 'find_batch'),
    ('contacts', 'source', 'massive', 'bulk'),
)


def _rename(table: str, column: str, old: str, new: str) -> None:
    rows = sa.table(table, sa.column(column, sa.String))
    op.execute(rows.update().where(rows.c[column] == old).values({column: new}))


def upgrade() -> None:
    for table, column, old, new in RENAMES:
        _rename(table, column, old, new)


def downgrade() -> None:
    for table, column, old, new in RENAMES:
        _rename(table, column, new, old)
