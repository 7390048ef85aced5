"""The Russian catalog: complete, format-safe, and used for Russian-speaking customers."""

from __future__ import annotations

import re
import string

from sqlalchemy import select

from bot.translations import load, missing_translations
from db.models import User
from handlers.menu import LanguageCallback

TAG = re.compile(r"</?[a-zA-Z][^>]*>")
MENU_WORDS = ("Новый заказ", "Мои заказы", "Баланс")


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_russian_catalog_covers_every_string_in_the_code() -> None:
    assert missing_translations("ru") == set()


def test_russian_translations_keep_placeholders_and_tags() -> None:
    problems = []
    for message in load("ru"):
        if not message.id:
            continue
        source, translated = message.id, message.string
        names = placeholders(source)
        if placeholders(translated) != names:
            problems.append(f"placeholders: {source!r}")
        if TAG.findall(translated) != TAG.findall(source):
            problems.append(f"HTML tags: {source!r}")
        if source.count("\n") != translated.count("\n"):
            problems.append(f"newlines: {source!r}")
        translated.format(**{name: "x" for name in names})
    assert problems == []


async def test_start_in_russian_for_a_russian_telegram_user(app, chat) -> None:
    ivan = chat(2001, first_name="Иван", language_code="ru")
    reply = await ivan.send("/start")
    assert "Иван" in reply.text and "Здравствуйте" in reply.text
    labels = [text for text, _ in reply.buttons()]
    for word in MENU_WORDS:
        assert any(word in label for label in labels), labels


async def test_language_command_switches_an_english_user_to_russian(app, chat) -> None:
    alice = chat(2002, language_code="en")
    reply = await alice.send("/language")
    assert reply.button("Русский") == LanguageCallback(code="ru").pack()
    reply = await alice.press_button("Русский")
    assert "Русский" in reply.text
    labels = [text for text, _ in reply.buttons()]
    for word in MENU_WORDS:
        assert any(word in label for label in labels), labels

    async with app.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.id == 2002))
        assert user is not None and user.language == "ru"

    reply = await alice.send("/start")
    assert any("Новый заказ" in label for label, _ in reply.buttons())
    help_text = (await alice.send("/help")).text
    assert "Как сделать заказ" in help_text and "/neworder" in help_text
