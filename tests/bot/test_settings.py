import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings, describe_error

ROOT = Path(__file__).resolve().parents[2]


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def error_line(**values: object) -> str:
    with pytest.raises(ValidationError) as info:
        settings(**values)
    return describe_error(info.value)


def test_missing_token_is_one_clear_line() -> None:
    line = error_line()
    assert line == "invalid configuration: BOT_TOKEN: is required"


def test_token_shape_is_checked() -> None:
    assert "BOT_TOKEN" in error_line(bot_token="not-a-token")


def test_admin_ids_are_comma_separated_integers() -> None:
    ok = settings(bot_token="1:abc", admin_ids="1, 22,333")
    assert ok.admin_ids == {1, 22, 333}
    line = error_line(bot_token="1:abc", admin_ids="1,abc")
    assert "ADMIN_IDS" in line and "'abc'" in line


def test_database_url_driver_is_checked_and_normalised() -> None:
    assert "DATABASE_URL" in error_line(bot_token="1:abc", database_url="mysql://a/b")
    assert "DATABASE_URL" in error_line(bot_token="1:abc", database_url="::::")
    pg = settings(bot_token="1:abc", database_url="postgresql://u:p@localhost/panel")
    assert pg.database_url == "postgresql+asyncpg://u:p@localhost/panel"
    assert settings(bot_token="1:abc").database_url.startswith("sqlite+aiosqlite:///")


def test_status_sync_minimum_and_webhook_pair() -> None:
    assert "STATUS_SYNC_SECONDS" in error_line(bot_token="1:abc", status_sync_seconds=0)
    assert "WEBHOOK_SECRET" in error_line(bot_token="1:abc", webhook_url="https://x.example")
    assert "DEFAULT_LANGUAGE" in error_line(bot_token="1:abc", default_language="xx")


def test_token_is_never_printed() -> None:
    s = settings(bot_token="123:SECRETVALUE")
    assert "SECRETVALUE" not in repr(s) and "SECRETVALUE" not in str(s)


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({}, "BOT_TOKEN"),
        ({"BOT_TOKEN": "1:a", "ADMIN_IDS": "x"}, "ADMIN_IDS"),
        ({"BOT_TOKEN": "1:a", "DATABASE_URL": "oracle://x"}, "DATABASE_URL"),
    ],
)
def test_python_m_bot_exits_2_with_one_line(
    tmp_path: Path, env: dict[str, str], field: str
) -> None:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"BOT_TOKEN", "ADMIN_IDS", "DATABASE_URL", "TELEGRAM_API_URL"}
    }
    clean["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert field in lines[0] and "Traceback" not in result.stderr


def test_unusable_database_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """asyncpg's 'database does not exist' / bad login arrive as a plain DBAPIError."""
    from sqlalchemy.exc import DBAPIError

    import bot.__main__ as entry
    import bot.app
    from bot.logging import RedactSecrets

    async def refuse(*_args: object, **_kwargs: object) -> None:
        raise DBAPIError("SELECT 1", None, Exception('database "nodb" does not exist'))

    monkeypatch.setattr(bot.app, "create_app", refuse)
    monkeypatch.setattr(entry, "setup_logging", lambda *_args, **_kwargs: RedactSecrets())
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:1/nodb")
    with pytest.raises(SystemExit) as info:
        entry.main()
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "nodb" in lines[0] and "Traceback" not in lines[0]


@pytest.mark.skipif(not os.environ.get("TEST_POSTGRES_URL"), reason="needs TEST_POSTGRES_URL")
def test_python_m_bot_missing_postgres_database_exits_2(tmp_path: Path) -> None:
    url = os.environ["TEST_POSTGRES_URL"].rsplit("/", 1)[0] + "/no_such_database_here"
    env = {k: v for k, v in os.environ.items() if k not in {"ADMIN_IDS", "TELEGRAM_API_URL"}}
    env.update(PYTHONPATH=str(ROOT), BOT_TOKEN="1:abc", DATABASE_URL=url)
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
