import asyncio
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from db.engine import create_engine
from db.migrate import alembic_config, upgrade
from db.models import Base

TABLES = {
    "users",
    "ledger_entries",
    "providers",
    "provider_services",
    "categories",
    "services",
    "orders",
    "order_status_history",
    "refills",
    "notifications",
    "admin_audit_log",
    "provider_errors",
    "admin_alerts",
    "panel_settings",
    "support_tickets",
    "support_messages",
    "broadcasts",
}


async def test_upgrade_head_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'fresh.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(upgrade, url)  # idempotent: a restart applies nothing new
    engine = create_engine(url)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables >= TABLES
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        version = (await conn.execute(text("select version_num from alembic_version"))).scalar()
        assert version is not None
    await engine.dispose()


async def test_models_and_migrations_agree(any_database_url: str) -> None:
    """A model change without a migration fails here (on SQLite and on PostgreSQL)."""
    engine = create_engine(any_database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    await engine.dispose()
    assert diff == []


def schema(conn: Connection) -> dict[str, object]:
    """Every table's columns, primary key, indexes, unique constraints and foreign keys."""
    insp = inspect(conn)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
            insp.get_pk_constraint(table)["constrained_columns"],
            sorted(
                (i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table)
            ),
            sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in insp.get_foreign_keys(table)
            ),
        )
        for table in insp.get_table_names()
    }


async def test_downgrade_to_base_and_up_again(any_database_url: str) -> None:
    """Every migration's downgrade removes what its upgrade made, and the chain replays to
    the same schema (on SQLite and on PostgreSQL)."""
    url = any_database_url
    engine = create_engine(url)
    async with engine.connect() as conn:
        before = await conn.run_sync(schema)
    assert set(before) >= TABLES

    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    async with engine.connect() as conn:
        assert set(await conn.run_sync(schema)) == {"alembic_version"}
        assert (await conn.execute(text("select version_num from alembic_version"))).all() == []

    await asyncio.to_thread(upgrade, url)
    async with engine.connect() as conn:
        assert await conn.run_sync(schema) == before
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    await engine.dispose()
    assert diff == []


async def test_a_table_rebuilt_by_a_migration_keeps_the_rows_that_refer_to_it(
    tmp_path: Path,
) -> None:
    """SQLite rebuilds `providers` to change a column: its services must not cascade away."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(upgrade, url, "0001")
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO providers (id, name, api_url, api_key, low_balance_threshold, enabled,"
            " consecutive_failures, created_at, updated_at) VALUES (1, 'p', 'https://x.io/api',"
            " 'k', 0, 1, 0, '2026-01-01', '2026-01-01')"
        )
        await conn.exec_driver_sql(
            "INSERT INTO provider_services (provider_id, service_id, name, type, rate,"
            " rate_basis, min, max, available, updated_at) VALUES (1, '7', 's', 'default', 1,"
            " 'per_1000', 1, 10, 1, '2026-01-01')"
        )
    await engine.dispose()
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    async with engine.connect() as conn:
        services = (await conn.exec_driver_sql("SELECT count(*) FROM provider_services")).scalar()
        key = (await conn.exec_driver_sql("SELECT api_key FROM providers")).scalar()
        fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    await engine.dispose()
    assert services == 1 and key == "k" and fks == 1
