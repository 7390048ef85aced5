"""Service search for customers: every word of the query in the service's or its category's
name (case-insensitive in any alphabet), or a Service ID.

Matched here rather than with SQL LIKE, which ignores case only for ASCII on SQLite: the
orderable catalogue is read once (ids and names), a few thousand rows at most.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.ordering import _orderable
from db.models import Category, Service

MAX_QUERY = 100  # characters; longer input is cut (it is a search box, not a document)
MAX_WORDS = 6
LIMIT = 20
WORD = re.compile(r"[\w+#@.-]+", re.UNICODE)


def query_words(text: str) -> list[str]:
    """The words to look for, lower-cased and bounded; [] when there is nothing to search."""
    return [w.casefold() for w in WORD.findall(text[:MAX_QUERY])][:MAX_WORDS]


async def search_services(session: AsyncSession, text: str, limit: int = LIMIT) -> list[Service]:
    """Orderable services matching every word, best first (more words in the service's own
    name, then the lower Service ID)."""
    words = query_words(text)
    if not words:
        return []
    rows = await session.execute(
        select(Service.id, Service.name, Category.name).join(Category).where(*_orderable())
    )
    scored = []
    for service_id, name, category in rows:
        own, where = name.casefold(), f"{name} {category}".casefold()
        if all(word in where or word == str(service_id) for word in words):
            scored.append((-sum(word in own for word in words), service_id))
    ids = [service_id for _, service_id in sorted(scored)[:limit]]
    if not ids:
        return []
    services = await session.scalars(
        select(Service).where(Service.id.in_(ids)).options(selectinload(Service.category))
    )
    by_id = {service.id: service for service in services}
    return [by_id[i] for i in ids if i in by_id]
