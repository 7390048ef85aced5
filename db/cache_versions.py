"""Version numbers of what each process caches: the catalogue (core.catalog_cache) and the
customers' chat facts — language, names, blocked or not (bot.middlewares.KnownUsers).

Each number is raised in the same transaction as the change it stands for, so a replica can
tell with one cheap read that what it holds is stale. Nobody raises one by hand: every
session of the app is a PanelSession, whose events see each write (ORM objects flushed, and
INSERT/UPDATE/DELETE statements) and raise the numbers it concerns just before that
transaction commits; a write path added later is covered without anyone remembering to.
The same process learns of its own commits at once (`local_changes`); other replicas read
the number (at most once per short interval).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session

from db.models import (
    CacheVersion,
    Category,
    Provider,
    ProviderService,
    Service,
    ServiceMapping,
    User,
)

CATALOG = "catalog"
USERS = "users"
CATALOG_TABLES = frozenset(
    m.__tablename__ for m in (Category, Service, ServiceMapping, ProviderService)
)
# A provider row also carries its balance, failures and backoff, written all the time: only
# these columns belong to the catalogue (who offers what, switched on or off, paced how).
PROVIDER_COLUMNS = frozenset(
    {"name", "enabled", "api_url", "currency", "fx_rate", "rate_per_second", "concurrency"}
)
# What a chat update needs of its customer before any handler runs (the balance is read
# where it is shown). A new row concerns no cache: an unknown customer is never cached.
USER_COLUMNS = frozenset({"language", "first_name", "username", "is_blocked"})
_CHANGED = "cache_changed"  # session.info: the caches this transaction's writes concern
_RAISED = "cache_raised"  # session.info: the numbers raised in this transaction

# Per database (engine): how many changes of each kind this process has committed.
_local: WeakKeyDictionary[Engine, dict[str, int]] = WeakKeyDictionary()


class PanelSession(Session):
    """The sync session behind every AsyncSession of the app (db.engine.make_sessionmaker)."""


def local_changes(engine: Engine, kind: str) -> int:
    """Changes of `kind` this process committed to this database (a cache compares it with
    what it saw at its last load: a change made here is seen at once, with no interval)."""
    return _local.get(engine, {}).get(kind, 0)


async def read_version(session: Any, kind: str) -> int:
    """The committed version of `kind` (an AsyncSession; one statement)."""
    found = await session.scalar(select(CacheVersion.version).where(CacheVersion.name == kind))
    return int(found or 0)


def _changed(obj: Any, columns: frozenset[str]) -> bool:
    state = inspect(obj)
    for key in columns:
        history = state.attrs[key].history
        if history.added and history.added != history.deleted:
            return True
    return False


def _object_kinds(session: Session) -> set[str]:
    kinds = set()
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, Provider) or obj.__tablename__ in CATALOG_TABLES:
            kinds.add(CATALOG)
    for obj in session.dirty:
        if isinstance(obj, Provider):
            if _changed(obj, PROVIDER_COLUMNS):
                kinds.add(CATALOG)
        elif isinstance(obj, User):
            if _changed(obj, USER_COLUMNS):
                kinds.add(USERS)
        elif obj.__tablename__ in CATALOG_TABLES and session.is_modified(obj):
            kinds.add(CATALOG)
    return kinds


def _set_columns(state: ORMExecuteState) -> set[str]:
    """The columns an UPDATE sets (empty when they cannot be told: counted as a change)."""
    values = getattr(state.statement, "_values", None) or {}
    columns = {getattr(k, "key", k) for k in values}
    if not columns:  # UPDATE ... with parameter sets: the keys of the first one
        params = state.parameters
        first = params[0] if isinstance(params, list) and params else params
        columns = set(first or ())
    return columns


def _statement_kinds(state: ORMExecuteState) -> set[str]:
    name = getattr(getattr(state.statement, "table", None), "name", None)
    if name in CATALOG_TABLES:
        return {CATALOG}
    if name == Provider.__tablename__:
        if not state.is_update:
            return {CATALOG}
        columns = _set_columns(state)
        return {CATALOG} if not columns or columns & PROVIDER_COLUMNS else set()
    if name == User.__tablename__ and not state.is_insert:
        columns = _set_columns(state) if state.is_update else set()
        return {USERS} if not columns or columns & USER_COLUMNS else set()
    return set()


@event.listens_for(PanelSession, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_select or not (state.is_insert or state.is_update or state.is_delete):
        return
    kinds = _statement_kinds(state)
    if kinds:
        state.session.info.setdefault(_CHANGED, set()).update(kinds)


@event.listens_for(PanelSession, "after_flush")
def _on_flush(session: Session, _context: Any) -> None:
    kinds = _object_kinds(session)
    if kinds:
        session.info.setdefault(_CHANGED, set()).update(kinds)


@event.listens_for(PanelSession, "before_commit")
def _raise_versions(session: Session) -> None:
    """Raise the numbers inside the transaction that made the change (objects still pending
    are flushed after this hook, so they are looked at here too). In name order, so that two
    transactions raising both never wait on each other's rows crosswise."""
    raised = session.info.setdefault(_RAISED, set())
    kinds = (session.info.get(_CHANGED, set()) | _object_kinds(session)) - raised
    for kind in sorted(kinds):
        raised.add(kind)
        done = session.execute(
            update(CacheVersion)
            .where(CacheVersion.name == kind)
            .values(version=CacheVersion.version + 1)
        )
        if done.rowcount == 0:  # a database made without the migration's rows
            session.execute(insert(CacheVersion).values(name=kind, version=1))


@event.listens_for(PanelSession, "after_commit")
def _on_commit(session: Session) -> None:
    raised = session.info.pop(_RAISED, set())
    session.info.pop(_CHANGED, None)
    engine = session.bind
    if raised and isinstance(engine, Engine):
        counts = _local.setdefault(engine, {})
        for kind in raised:
            counts[kind] = counts.get(kind, 0) + 1


@event.listens_for(PanelSession, "after_rollback")
def _on_rollback(session: Session) -> None:
    session.info.pop(_RAISED, None)
    session.info.pop(_CHANGED, None)


class VersionWatch:
    """When a cache of `kind` must read the version again: at once after a change this
    process committed, otherwise at most once per `check_every` seconds (the bound on how
    long another replica's change can go unseen)."""

    def __init__(
        self, kind: str, *, check_every: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.kind = kind
        self.check_every = check_every
        self.clock = clock
        self._seen_local = -1
        self._next_check = 0.0

    def due(self, engine: Engine) -> bool:
        return local_changes(engine, self.kind) != self._seen_local or (
            self.clock() >= self._next_check
        )

    async def version(self, session: Any) -> int:
        """The committed version now; not due again until the interval passed or this
        process commits another change."""
        engine = session.get_bind()
        local = local_changes(engine, self.kind)  # before the read: a later change is not lost
        found = await read_version(session, self.kind)
        self._seen_local, self._next_check = local, self.clock() + self.check_every
        return found
