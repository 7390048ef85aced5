"""fast lane: provider pacing settings, the confirmation message to edit

Revision ID: 0006_fast_lane
Revises: 0005_growth
Create Date: 2026-11-30 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_fast_lane"
down_revision: str | None = "0005_growth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("providers") as batch:
        batch.add_column(sa.Column("rate_per_second", sa.Float(), nullable=True))
        batch.add_column(sa.Column("concurrency", sa.Integer(), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("confirm_message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("confirm_message_id")
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("concurrency")
        batch.drop_column("rate_per_second")
