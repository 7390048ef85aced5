"""notifications: a sender's lease is its own column, apart from the retry time

Revision ID: 0004_notification_lease
Revises: 0003_provider_key_encryption
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0004_notification_lease"
down_revision: str | None = "0003_provider_key_encryption"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(
            sa.Column("leased_until", db.types.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("leased_until")
