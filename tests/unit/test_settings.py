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
