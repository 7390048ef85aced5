from aiogram.methods import SendMessage
from sqlalchemy import select

from db.models import User


async def test_start_registers_the_user_and_shows_the_menu(app, chat) -> None:
    alice = chat(1001, first_name="<Alice & Co>")
    reply = await alice.send("/start")
    assert isinstance(reply.calls[-1], SendMessage)
    assert "&lt;Alice &amp; Co&gt;" in reply.text  # the name is escaped, not parsed as HTML
    labels = [text for text, _ in reply.buttons()]
    for word in ("New order", "My orders", "Balance", "Help"):
        assert any(word in label for label in labels), labels
    async with app.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.id == 1001))
        assert user is not None and user.language == "en" and user.balance == 0


async def test_start_twice_keeps_one_user(app, chat) -> None:
    alice = chat(1002)
    await alice.send("/start")
    await alice.send("/start")
    async with app.sessionmaker() as session:
        users = (await session.scalars(select(User))).all()
    assert [u.id for u in users] == [1002]


async def test_unknown_command_and_help(app, chat) -> None:
    bob = chat(1003)
    assert "Unknown command" in (await bob.send("/nonsense")).text
    assert "/neworder" in (await bob.send("/help")).text


async def test_balance_shows_the_number(app, chat) -> None:
    bob = chat(1004)
    assert "Balance: 0.00 USD" in (await bob.send("/balance")).text
