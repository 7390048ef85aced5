"""Service search through the real Dispatcher: /search WORDS and words typed at the category
step, any alphabet, a result opens the order flow; a step's own input is never a search."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from core.search import query_words
from db.engine import write_tx
from tests.harness import seed
from tests.harness.dispatcher import TgChat

if TYPE_CHECKING:
    from bot.app import App


async def catalogue(app: App) -> dict[str, int]:
    async with app.sessionmaker() as session, write_tx(session):
        telegram = await seed.category(session, "Telegram", "telegram")
        ids = {
            "followers": (await seed.service(session, name="Instagram Followers")).id,
            "likes": (await seed.service(session, name="Instagram Likes HQ")).id,
            "members": (
                await seed.service(
                    session, name="Подписчики канала", category_id=telegram.id, price=Decimal(2)
                )
            ).id,
            "off": (await seed.service(session, name="Instagram Views", enabled=False)).id,
        }
    return ids


def test_queries_are_bounded() -> None:
    assert query_words("  ") == []
    assert query_words("Instagram   LIKES") == ["instagram", "likes"]
    assert len(query_words("a " * 500)) == 6


async def test_search_command_and_words_at_the_category_step(
    app: App, chat: Callable[..., TgChat]
) -> None:
    ids = await catalogue(app)
    alice = chat(1001)
    reply = await alice.send("/search instagram")
    labels = [label for label, _ in reply.buttons()]
    assert any("Instagram Followers" in label for label in labels)
    assert any("Instagram Likes HQ" in label for label in labels)
    assert not any("Views" in label for label in labels)  # switched off: not orderable
    assert "Services for «instagram»" in reply.text

    reply = await alice.send("/neworder")
    assert "type a word to search" in reply.text
    reply = await alice.send("ПОДПИСЧИКИ telegram")  # any case, service + category words
    assert [label for label, _ in reply.buttons() if "Подписчики" in label]
    reply = await alice.press(reply.button("Подписчики канала"))
    assert "Service ID" in reply.text and str(ids["members"]) in reply.text
    # In the link step, text is the link, not a search.
    reply = await alice.send("likes")
    assert "Nothing found" not in reply.text and "Services for" not in reply.text

    await alice.send("/cancel")
    reply = await alice.send(str(ids["likes"]))
    assert [label for label, _ in reply.buttons() if "Likes HQ" in label]
    reply = await alice.send("tiktok <script>")
    assert "Nothing found for «tiktok &lt;script&gt;»" in reply.text
    assert "Usage: /search" in (await alice.send("/search")).text
