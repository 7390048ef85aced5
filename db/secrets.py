"""Provider API keys encrypted at rest with Fernet (the `cryptography` package).

SECRET_KEY holds one or more Fernet keys, comma-separated: the first encrypts, every one of
them decrypts (MultiFernet), so a key is rotated by putting a new one first and running
`python -m bot.secrets rotate`. A stored value carries a prefix, so clear values written
before SECRET_KEY was set are still read, and encrypted ones are never taken for clear.

The keyring belongs to an engine (its dialect): the same process can open one database with
a key and another without, and no module-level state is involved.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "fernet:"
_DIALECT_ATTRIBUTE = "panel_keyring"


class SecretKeyError(ValueError):
    """SECRET_KEY is malformed, missing for encrypted values, or not the key they need."""


class KeyRing:
    def __init__(self, setting: str) -> None:
        keys = [part.strip() for part in setting.split(",") if part.strip()]
        if not keys:
            raise SecretKeyError("SECRET_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError:
            raise SecretKeyError(
                "SECRET_KEY must be Fernet keys (32 url-safe base64 bytes, comma-separated); "
                "make one with: python -m bot.secrets new-key"
            ) from None

    def encrypt(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not is_encrypted(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                "a provider key was encrypted with a key that is not in SECRET_KEY"
            ) from None

    def rotate(self, stored: str) -> str:
        """The same secret, encrypted with the first key (clear values get encrypted)."""
        if not is_encrypted(stored):
            return self.encrypt(stored)
        try:
            token = self._fernet.rotate(stored[len(PREFIX) :].encode())
        except InvalidToken:
            raise SecretKeyError(
                "a provider key was encrypted with a key that is not in SECRET_KEY"
            ) from None
        return PREFIX + token.decode()


def new_key() -> str:
    return Fernet.generate_key().decode()


def is_encrypted(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(PREFIX)  # type: ignore[union-attr]


def attach(dialect: Any, keyring: KeyRing | None) -> None:
    setattr(dialect, _DIALECT_ATTRIBUTE, keyring)


def keyring_of(dialect: Any) -> KeyRing | None:
    return getattr(dialect, _DIALECT_ATTRIBUTE, None)
