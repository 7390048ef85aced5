"""cache versions: the numbers every change to a cached thing raises (the catalogue first)

Revision ID: 0008_cache_versions
Revises: 0007_catalog_depth
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_cache_versions"
down_revision: str | None = "0007_catalog_depth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )
    op.bulk_insert(table, [{"name": "catalog", "version": 0}])


def downgrade() -> None:
    op.drop_table("cache_versions")
