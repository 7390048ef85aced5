"""provider keys may be stored encrypted (SECRET_KEY): the column holds a Fernet token

Revision ID: 0003_provider_key_encryption
Revises: 0002_payments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_provider_key_encryption"
down_revision: str | None = "0002_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("providers") as batch:
        batch.alter_column("api_key", type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("providers") as batch:
        batch.alter_column("api_key", type_=sa.String(length=256), existing_nullable=False)
