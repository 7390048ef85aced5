"""users version: the number a change of a customer's language, names or blocked flag raises

Revision ID: 0010_users_version
Revises: 0009_failover_tried
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_users_version"
down_revision: str | None = "0009_failover_tried"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    versions = sa.table("cache_versions", sa.column("name", sa.String), sa.column("version"))
    op.bulk_insert(versions, [{"name": "users", "version": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM cache_versions WHERE name = 'users'")
