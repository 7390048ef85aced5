"""The catalogue's version: one number, raised in the same transaction as every change to
the catalogue, so that each replica's catalogue cache (core.catalog_cache) can tell with one
cheap read that what it holds is stale.

Nobody calls a "bump" by hand: every session of the app is a PanelSession, whose events see
each write to the catalogue tables (ORM objects flushed, and INSERT/UPDATE/DELETE statements)
and raise the version just before that transaction commits. A write path added later is
covered without anyone remembering to. The same process learns of its own commits at once
(`local_changes`); other replicas read the number (at most once per short interval).
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session

from db.models import CatalogVersion, Category, Provider, ProviderService, Service, ServiceMapping

ROW_ID = 1
CATALOG_TABLES = frozenset(
    m.__tablename__ for m in (Category, Service, ServiceMapping, ProviderService)
)
# A provider row also carries its balance, failures and backoff, written all the time: only
# these columns belong to the catalogue (who offers what, switched on or off, paced how).
PROVIDER_COLUMNS = frozenset(
    {"name", "enabled", "api_url", "currency", "fx_rate", "rate_per_second", "concurrency"}
)
_CHANGED = "catalog_changed"  # session.info: a catalogue write in this transaction
_RAISED = "catalog_raised"  # session.info: the version was raised in this transaction

# Per database (engine): how many catalogue changes this process has committed.
_local: WeakKeyDictionary[Engine, int] = WeakKeyDictionary()


class PanelSession(Session):
    """The sync session behind every AsyncSession of the app (db.engine.make_sessionmaker)."""


def local_changes(engine: Engine) -> int:
    """Catalogue changes this process committed to this database (a cache compares it with
    what it saw at its last load: a change made here is seen at once, with no interval)."""
    return _local.get(engine, 0)


async def read_version(session: Any) -> int:
    """The committed catalogue version (an AsyncSession; one statement)."""
    return int(await session.scalar(select(CatalogVersion.version)) or 0)


def _provider_changed(obj: Provider) -> bool:
    state = inspect(obj)
    for key in PROVIDER_COLUMNS:
        history = state.attrs[key].history
        if history.added and history.added != history.deleted:
            return True
    return False


def _objects_touch_catalog(session: Session) -> bool:
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, Provider) or obj.__tablename__ in CATALOG_TABLES:
            return True
    for obj in session.dirty:
        if isinstance(obj, Provider):
            if _provider_changed(obj):
                return True
        elif obj.__tablename__ in CATALOG_TABLES and session.is_modified(obj):
            return True
    return False


def _statement_touches_catalog(state: ORMExecuteState) -> bool:
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in CATALOG_TABLES:
        return True
    if name != Provider.__tablename__ or state.is_insert or state.is_delete:
        return name == Provider.__tablename__
    values = getattr(state.statement, "_values", None) or {}
    columns = {getattr(k, "key", k) for k in values}
    if not columns:  # UPDATE ... with parameter sets: the keys of the first one
        params = state.parameters
        first = params[0] if isinstance(params, list) and params else params
        columns = set(first or ())
    return not columns or bool(columns & PROVIDER_COLUMNS)


@event.listens_for(PanelSession, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_select:
        return
    if (state.is_insert or state.is_update or state.is_delete) and _statement_touches_catalog(
        state
    ):
        state.session.info[_CHANGED] = True


@event.listens_for(PanelSession, "after_flush")
def _on_flush(session: Session, _context: Any) -> None:
    if not session.info.get(_CHANGED) and _objects_touch_catalog(session):
        session.info[_CHANGED] = True


@event.listens_for(PanelSession, "before_commit")
def _raise_version(session: Session) -> None:
    """Raise the version inside the transaction that changed the catalogue (objects still
    pending are flushed after this hook, so they are looked at here too)."""
    if session.info.get(_RAISED):
        return
    if not (session.info.get(_CHANGED) or _objects_touch_catalog(session)):
        return
    session.info[_RAISED] = True
    raised = session.execute(
        update(CatalogVersion)
        .where(CatalogVersion.id == ROW_ID)
        .values(version=CatalogVersion.version + 1)
    )
    if raised.rowcount == 0:  # a database made without the migration's row
        session.execute(insert(CatalogVersion).values(id=ROW_ID, version=1))


@event.listens_for(PanelSession, "after_commit")
def _on_commit(session: Session) -> None:
    raised = session.info.pop(_RAISED, False)
    session.info.pop(_CHANGED, None)
    engine = session.bind
    if raised and isinstance(engine, Engine):
        _local[engine] = _local.get(engine, 0) + 1


@event.listens_for(PanelSession, "after_rollback")
def _on_rollback(session: Session) -> None:
    session.info.pop(_RAISED, None)
    session.info.pop(_CHANGED, None)
