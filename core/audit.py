"""The admin audit trail: one row per admin change, written in the change's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AdminAuditLog


def audit(
    session: AsyncSession,
    admin_id: int,
    action: str,
    target: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AdminAuditLog:
    """One audit row, in the caller's transaction."""
    row = AdminAuditLog(admin_id=admin_id, action=action, target=target, before=before, after=after)
    session.add(row)
    return row
