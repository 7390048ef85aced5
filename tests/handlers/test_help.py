"""/help: every customer command, and link examples that the link check itself accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from core.links import check_link
from handlers.commands import customer_commands
from handlers.help import LINK_EXAMPLES
from tests.harness.dispatcher import TgChat

if TYPE_CHECKING:
    from bot.app import App


@pytest.mark.parametrize("platform", sorted(LINK_EXAMPLES))
def test_every_example_link_is_accepted_for_its_platform(platform: str) -> None:
    for link in LINK_EXAMPLES[platform]:
        assert check_link(link, platform).link == link


async def test_help_lists_every_command_of_the_menu_and_the_links(
    app: App, chat: Callable[..., TgChat]
) -> None:
    text = (await chat(1001).send("/help")).text
    with app.i18n.context(), app.i18n.use_locale("en"):
        commands = customer_commands()
    for command in commands:
        if command.command not in ("start", "help"):
            assert f"/{command.command}" in text, command.command
    assert "https://www.tiktok.com/@username" in text and "https://t.me/channel" in text
    ru = (await chat(1002, language_code="ru").send("/help")).text
    assert "Как выглядит ссылка" in ru and "/search" in ru
