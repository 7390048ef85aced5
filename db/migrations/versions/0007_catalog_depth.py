"""catalog depth: failover mappings, provider exchange rates, drip-feed/subscription progress

Revision ID: 0007_catalog_depth
Revises: 0006_fast_lane
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0007_catalog_depth"
down_revision: str | None = "0006_fast_lane"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("provider_service_id", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_service_mappings_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_mappings_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_mappings")),
        sa.UniqueConstraint("service_id", "priority", name=op.f("uq_service_mappings_service_id")),
    )
    with op.batch_alter_table("service_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_mappings_provider_id"), ["provider_id"], unique=False
        )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fx_rate", db.types.Money(), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("runs_done", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("posts_done", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("posts_done")
        batch_op.drop_column("runs_done")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("fx_rate")
    with op.batch_alter_table("service_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_mappings_provider_id"))
    op.drop_table("service_mappings")
