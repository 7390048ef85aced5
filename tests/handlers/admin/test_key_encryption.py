"""Provider keys at rest: encrypted with SECRET_KEY (Fernet), rotatable, and /check says so
when they are not."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import text

from bot.app import App
from bot.secrets import _run as run_secrets_command
from db.engine import create_engine
from db.secrets import SecretKeyError
from tests.fakes.provider_server import FakeProvider
from tests.harness.apps import chat_on, recording_app
from tests.harness.console import API_KEY
from tests.harness.dispatcher import TgChat
from tests.harness.settings import ADMIN_ID, make_settings

K1, K2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()


async def start(database_url: str, secret_key: str | None = None) -> App:
    return await recording_app(database_url, secret_key=secret_key)


def admin_of(app: App) -> TgChat:
    return chat_on(app, ADMIN_ID, first_name="Owner")


async def stored_key(database_url: str) -> str:
    """The api_key column as the database holds it (no keyring: no decryption)."""
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        value = (await conn.execute(text("SELECT api_key FROM providers"))).scalar_one()
    await engine.dispose()
    return value


def database_files_hold(folder: Path, secret: str) -> bool:
    """The secret in the SQLite file or its WAL, byte for byte."""
    files = [path.read_bytes() for path in folder.glob("panel.db*")]
    assert files
    return any(secret.encode() in data for data in files)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(api_key=API_KEY) as fp:
        yield fp


async def test_with_secret_key_the_key_is_encrypted_at_rest_and_still_works(
    any_database_url: str, fake: FakeProvider, tmp_path: Path
) -> None:
    app = await start(any_database_url, K1)
    try:
        admin = admin_of(app)
        assert "connected" in (await admin.send(f"/addprovider fp {fake.url} {API_KEY}")).text
        assert "Imported" in (await admin.send("/import fp 50")).text  # the decrypted key
        check = (await admin.send("/check")).text
    finally:
        await app.close()
    assert fake.requests_for("services")[-1].form["key"] == API_KEY
    assert "stored in clear" not in check and "key OK" in check
    stored = await stored_key(any_database_url)
    assert stored.startswith("fernet:") and API_KEY not in stored
    if any_database_url.startswith("sqlite"):
        assert not database_files_hold(tmp_path, API_KEY)


async def test_without_secret_key_the_panel_runs_and_check_says_keys_are_in_clear(
    database_url: str, fake: FakeProvider
) -> None:
    app = await start(database_url)
    try:
        admin = admin_of(app)
        await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
        check = (await admin.send("/check")).text
    finally:
        await app.close()
    assert "1 provider API keys are stored in clear" in check and "SECRET_KEY" in check
    assert await stored_key(database_url) == API_KEY


async def test_keys_stored_before_are_encrypted_at_start_and_rotation_keeps_them_readable(
    any_database_url: str, fake: FakeProvider
) -> None:
    app = await start(any_database_url)  # no SECRET_KEY yet: stored in clear
    try:
        await admin_of(app).send(f"/addprovider fp {fake.url} {API_KEY}")
    finally:
        await app.close()
    await (await start(any_database_url, K1)).close()  # SECRET_KEY set: encrypted at start
    under_k1 = await stored_key(any_database_url)
    assert under_k1.startswith("fernet:")

    rotated = make_settings(any_database_url, secret_key=f"{K2},{K1}")
    assert "encrypted 1" in await run_secrets_command(rotated, "rotate")
    assert await stored_key(any_database_url) != under_k1

    app = await start(any_database_url, K2)  # the old key is no longer needed
    try:
        admin = admin_of(app)
        assert "Imported" in (await admin.send("/import fp 50")).text
    finally:
        await app.close()
    assert fake.requests_for("services")[-1].form["key"] == API_KEY
    for wrong in (K1, None):  # a key that is not theirs, or none: a clear refusal to start
        with pytest.raises(SecretKeyError):
            await start(any_database_url, wrong)


def test_a_malformed_secret_key_is_a_settings_error() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY must be Fernet keys"):
        make_settings("sqlite+aiosqlite:///x.db", secret_key="not-a-fernet-key")


def test_new_key_prints_a_usable_fernet_key() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "bot.secrets", "new-key"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    [line] = done.stdout.splitlines()  # the key alone, ready to paste into .env
    key = Fernet(line.encode())  # raises on anything that is not a Fernet key
    assert key.decrypt(key.encrypt(b"provider key")) == b"provider key"
