"""catalog version: the number every catalogue change raises (the catalogue cache's check)

Revision ID: 0008_catalog_version
Revises: 0007_catalog_depth
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_catalog_version"
down_revision: str | None = "0007_catalog_depth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_version")),
    )
    op.bulk_insert(table, [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("catalog_version")
