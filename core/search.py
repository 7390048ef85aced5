"""Service search for customers: every word of the query in the service's or its category's
name (case-insensitive in any alphabet), or a Service ID.

Matched here rather than with SQL LIKE, which ignores case only for ASCII on SQLite, over
the cached catalogue (core.catalog_cache): a few thousand services at most, no statement.
"""

from __future__ import annotations

import re

from core.catalog_cache import Catalog, ServiceView

MAX_QUERY = 100  # characters; longer input is cut (it is a search box, not a document)
MAX_WORDS = 6
LIMIT = 20
WORD = re.compile(r"[\w+#@.-]+", re.UNICODE)


def query_words(text: str) -> list[str]:
    """The words to look for, lower-cased and bounded; [] when there is nothing to search."""
    return [w.casefold() for w in WORD.findall(text[:MAX_QUERY])][:MAX_WORDS]


def search_services(catalog: Catalog, text: str, limit: int = LIMIT) -> list[ServiceView]:
    """Orderable services matching every word, best first (more words in the service's own
    name, then the lower Service ID)."""
    words = query_words(text)
    if not words:
        return []
    scored = []
    for service in catalog.services.values():
        own = service.name.casefold()
        where = f"{service.name} {service.category.name}".casefold()
        if all(word in where or word == str(service.id) for word in words):
            scored.append((-sum(word in own for word in words), service.id))
    return [catalog.services[service_id] for _, service_id in sorted(scored)[:limit]]
