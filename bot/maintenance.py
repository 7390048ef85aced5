"""The owner's maintenance commands, beside `python -m bot` itself:

  python -m bot backup PATH   a consistent copy of the SQLite database, taken while the bot
                              runs (PATH: a file, or a directory for a time-stamped file)
  python -m bot check-db      the audit of the books: every balance equals its ledger, none
                              is negative, no order refunded beyond its charge

They read DATABASE_URL like the bot. Exit codes: 0 done / clean, 1 the audit found
problems, 2 the command cannot run (bad path, no database, PostgreSQL for `backup`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from core.money_audit import MoneyAudit, audit_money
from db.backup import BackupError, backup_sqlite, sqlite_file
from db.engine import create_engine, make_sessionmaker

SHOWN = 20  # problems listed per rule; the count says how many more


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(
        prog="python -m bot", description="Without a command: run the bot."
    )
    sub = commands.add_subparsers(dest="command", metavar="COMMAND")
    backup = sub.add_parser("backup", help="copy the SQLite database while the bot runs")
    backup.add_argument("path", type=Path, help="the backup file, or a directory for it")
    sub.add_parser("check-db", help="check every balance against its ledger, and refunds")
    return commands


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "backup":
        return backup(settings.database_url, args.path)
    return check_db(settings.database_url)


def backup(url: str, path: Path) -> int:
    source = sqlite_file(url)
    if source is None:
        print(postgres_backup_hint(url, path), file=sys.stderr)
        return 2
    try:
        done = backup_sqlite(source, path)
    except BackupError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 2
    print(f"backed up {source} to {done.path} ({done.size:,} bytes in {done.seconds:.1f} s)")
    return 0


def postgres_backup_hint(url: str, path: Path) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return "backup: DATABASE_URL is an in-memory database; there is nothing to copy"
    options = [f"--host={parsed.host or 'localhost'}", f"--port={parsed.port or 5432}"]
    if parsed.username:
        options.append(f"--username={parsed.username}")
    return (
        "backup: DATABASE_URL is a PostgreSQL database; back it up with pg_dump "
        "(consistent while the bot runs; the password from PGPASSWORD or ~/.pgpass):\n"
        f"  pg_dump --format=custom --file={path} {' '.join(options)} {parsed.database}\n"
        "restore into an empty database with:\n"
        f"  pg_restore --no-owner --dbname={parsed.database} {path}"
    )


def check_db(url: str) -> int:
    source = sqlite_file(url)
    if source is not None and not source.is_file():
        print(f"check-db: no database file at {source}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_audit(url))
    except (OSError, DBAPIError) as exc:  # no server there, a database not the panel's
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        print(f"check-db: cannot read the database: {str(reason).strip()}", file=sys.stderr)
        return 2
    print(render(report))
    return 0 if report.clean else 1


async def _audit(url: str) -> MoneyAudit:
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await audit_money(session)
    finally:
        await engine.dispose()


def render(report: MoneyAudit) -> str:
    """The audit for a terminal: what was checked, then each broken rule with its rows."""
    lines = [
        f"checked {report.users:,} users, {report.orders:,} orders, "
        f"{report.ledger_rows:,} ledger rows"
    ]
    if report.clean:
        lines.append(
            "OK: every balance equals the sum of its ledger, no balance is negative, "
            "no order got back more than it was charged"
        )
        return "\n".join(lines)
    mismatches = [
        f"user {m.user_id}: balance {_amount(m.balance)}, ledger sum {_amount(m.ledger)} "
        f"(off by {_amount(m.balance - m.ledger, sign=True)})"
        for m in report.mismatches
    ]
    negative = [f"user {n.user_id}: balance {_amount(n.balance)}" for n in report.negative]
    refunds = [
        f"order #{r.order_id} (user {r.user_id}): charged {_amount(r.charge)}, "
        f"order says refunded {_amount(r.refunded)}, ledger refunds {_amount(r.ledger_refunds)}"
        for r in report.refunds
    ]
    for title, rows in (
        ("balance differs from the sum of its ledger", mismatches),
        ("negative balance", negative),
        ("refunds beyond the charge, or the order's refunded differs from its ledger", refunds),
    ):
        if rows:
            lines.append(f"PROBLEM: {title} ({len(rows)}):")
            lines.extend(f"  {row}" for row in rows[:SHOWN])
            if len(rows) > SHOWN:
                lines.append(f"  … and {len(rows) - SHOWN} more")
    return "\n".join(lines)


def _amount(value: Decimal, *, sign: bool = False) -> str:
    """Exact (an audit must show a difference of 0.00000001), at least two places."""
    text = f"{value.normalize():{'+' if sign else ''}f}"
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
