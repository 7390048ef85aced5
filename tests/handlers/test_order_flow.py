"""New order in the chat, driven through the real Dispatcher (feed_update, recorded Bot calls)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import Chat, Message, PhotoSize, Sticker, Update

from handlers.menu import MenuCallback
from handlers.order.callbacks import CategoryPick, FlowCallback, ServicePick
from tests.harness.ledger import balance, give_money
from tests.harness.order_seed import charges_of, fsm, orders_of, seed_catalog

ALICE = 1001


@pytest.fixture
async def catalog(app):
    return await seed_catalog(app.sessionmaker)


async def open_service(alice, catalog_category: str, service: str):
    """/neworder → category → service, by the labels a person would tap."""
    await alice.send("/neworder")
    await alice.press_button(catalog_category)
    return await alice.press_button(service)


async def to_quantity(alice, link: str = "https://instagram.com/alice"):
    await open_service(alice, "Instagram", "Instagram Followers ·")
    return await alice.send(link)


def confirm_data(reply) -> str:
    return reply.button("Confirm")


async def test_catalog_lists_only_orderable_categories_and_services(app, chat, catalog) -> None:
    alice = chat(ALICE)
    reply = await alice.send("/neworder")
    labels = [label for label, _ in reply.buttons()]
    assert any("Instagram" in label for label in labels)
    assert any("TikTok" in label for label in labels)
    assert not any("Closed" in label for label in labels), labels

    reply = await alice.press_button("Instagram")
    labels = [label for label, _ in reply.buttons()]
    assert "Instagram Followers · 2.00 USD/1000" in labels
    assert "Instagram Starter Package · 5.00 USD" in labels
    assert not any("Old Followers" in label for label in labels)
    assert isinstance(reply.calls[-1], EditMessageText)  # the list replaces the categories


async def test_main_menu_new_order_button_opens_the_catalogue(app, chat, catalog) -> None:
    alice = chat(ALICE)
    await alice.send("/start")
    reply = await alice.press_button("New order")
    assert "Choose a category" in reply.text


async def test_long_service_lists_are_paginated(app, chat, catalog) -> None:
    from db.engine import write_tx
    from db.models import Service

    async with app.sessionmaker() as session, write_tx(session):
        for n in range(12):
            session.add(
                Service(category_id=2, name=f"TikTok Likes {n}", price=Decimal(1), min=10, max=99)
            )
    alice = chat(ALICE)
    await alice.send("/neworder")
    first = await alice.press_button("TikTok")
    assert len([b for b in first.buttons() if "TikTok" in b[0]]) == 8
    assert any(label == "▶" for label, _ in first.buttons())
    second = await alice.press_button("▶")
    names = [label for label, _ in second.buttons() if "TikTok" in label]
    assert len(names) == 5 and "TikTok Likes 11 · 1.00 USD/1000" in names


async def test_service_card_shows_everything_and_asks_for_the_link(app, chat, catalog) -> None:
    alice = chat(ALICE)
    card = await open_service(alice, "Instagram", "Instagram Followers ·")
    text = card.text
    assert f"Service ID: {catalog.followers}" in text
    assert "Instagram Followers" in text
    assert "2.00 USD per 1000" in text
    assert "Min / max: 100 / 10000" in text
    assert "Refill: ✅ yes · Cancel: ✖ no" in text
    assert "Real &lt;b&gt;looking&lt;/b&gt; &amp; fast" in text  # description escaped
    assert "Send a link to Instagram (instagram.com/…) or an @username." in text
    state = await fsm(app.dp, app.bot, ALICE).get_state()
    assert state == "OrderFlow:link"


async def test_whole_flow_places_one_order_and_charges_once(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await to_quantity(alice)
    assert "from 100 to 10000" in alice.last.text
    confirm = await alice.send("1 500")
    text = confirm.text
    assert "Please check your order" in text
    assert "Quantity: 1500" in text
    assert "Charge: 3.00 USD" in text
    assert "Balance now: 10.00 USD" in text
    assert "Balance after: 7.00 USD" in text
    assert [label for label, _ in confirm.buttons()] == ["✅ Confirm", "✖ Cancel"]

    done = await alice.press_button("Confirm")
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert f"#{order.id}" in done.text and "processed manually" in done.text
    assert order.quantity == 1500 and order.link == "https://instagram.com/alice"
    assert order.charge == Decimal("3.00") and order.status == "manual"
    assert await balance(app.sessionmaker, ALICE) == Decimal("7.00")
    assert await fsm(app.dp, app.bot, ALICE).get_state() is None


async def test_username_becomes_a_profile_link(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    reply = await to_quantity(alice, "@alice_shop")
    assert "How many?" in reply.text
    assert (await fsm(app.dp, app.bot, ALICE).get_data())["link"] == (
        "https://www.instagram.com/alice_shop/"
    )


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("not a link", "does not look like a link"),
        ("https://tiktok.com/@alice", "link is for another site"),
        ("https://" + "a" * 2100 + ".com", "too long"),
    ],
)
async def test_bad_links_are_refused_and_the_flow_waits(
    app, chat, catalog, link: str, expected: str
) -> None:
    alice = chat(ALICE)
    reply = await to_quantity(alice, link)
    assert expected in reply.text
    assert "a link to Instagram (instagram.com/…)" in reply.text
    assert await fsm(app.dp, app.bot, ALICE).get_state() == "OrderFlow:link"
    assert await orders_of(app.sessionmaker, ALICE) == []
    good = await alice.send("instagram.com/alice")
    assert "How many?" in good.text


async def test_a_link_with_markup_is_echoed_escaped(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await to_quantity(alice, "https://instagram.com/p/<b>x</b>?a=1&b=2")
    reply = await alice.send("100")
    assert "https://instagram.com/p/&lt;b&gt;x&lt;/b&gt;?a=1&amp;b=2" in reply.text


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("ten", "whole number, from 100 to 10000"),
        ("99", "minimum for this service is 100"),
        ("10001", "maximum for this service is 10000"),
        ("-5", "whole number"),
        ("1.5", "whole number"),
    ],
)
async def test_bad_quantities_are_refused(app, chat, catalog, quantity: str, expected: str) -> None:
    alice = chat(ALICE)
    await to_quantity(alice)
    reply = await alice.send(quantity)
    assert expected in reply.text
    assert await fsm(app.dp, app.bot, ALICE).get_state() == "OrderFlow:quantity"


async def test_quantity_must_follow_the_step(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await open_service(alice, "Instagram", "Instagram Likes")
    prompt = await alice.send("https://instagram.com/p/abc")
    assert "in steps of 50" in prompt.text
    assert "multiple of 50" in (await alice.send("120")).text
    assert "Please check your order" in (await alice.send("150")).text


async def test_photo_and_sticker_get_a_hint_in_every_state(app, chat, catalog) -> None:
    alice = chat(ALICE)

    async def send_media(kind: str):
        content = (
            {"photo": [PhotoSize(file_id="p", file_unique_id="p", width=1, height=1)]}
            if kind == "photo"
            else {
                "sticker": Sticker(
                    file_id="s",
                    file_unique_id="s",
                    type="regular",
                    width=1,
                    height=1,
                    is_animated=False,
                    is_video=False,
                )
            }
        )
        message = Message(
            message_id=int(time.time() * 1000) % 10**9,
            date=int(time.time()),
            chat=Chat(id=ALICE, type="private"),
            from_user=alice.user,
            **content,
        )
        return await alice._feed(Update(update_id=int(time.time() * 1000), message=message))

    await open_service(alice, "Instagram", "Instagram Followers ·")
    assert "send the link as a text message" in (await send_media("sticker")).text
    await alice.send("https://instagram.com/alice")
    assert "quantity as a number" in (await send_media("photo")).text
    await alice.send("100")
    assert "press ✅ Confirm" in (await send_media("sticker")).text
    assert "press ✅ Confirm" in (await alice.send("yes please")).text
    assert await fsm(app.dp, app.bot, ALICE).get_state() == "OrderFlow:confirm"


async def test_not_enough_balance_is_said_at_confirmation_and_nothing_is_created(
    app, chat, catalog
) -> None:
    await give_money(app.sessionmaker, ALICE, "1")
    alice = chat(ALICE)
    await to_quantity(alice)
    reply = await alice.send("2000")  # 4.00
    assert "Charge: 4.00 USD" in reply.text
    assert "Not enough balance: 3.00 USD missing" in reply.text
    labels = [label for label, _ in reply.buttons()]
    assert not any("Confirm" in label for label in labels)
    assert "🔄 Check again" in labels
    assert await orders_of(app.sessionmaker, ALICE) == []

    # a forged Confirm with the flow's nonce still refuses: the debit is conditional
    nonce = (await fsm(app.dp, app.bot, ALICE).get_data())["confirm"]
    forged = await alice.press(FlowCallback(action="confirm", nonce=nonce).pack())
    assert "Not enough balance: 3.00 USD missing" in forged.alerts[-1].text
    assert await orders_of(app.sessionmaker, ALICE) == []
    assert await balance(app.sessionmaker, ALICE) == Decimal("1")

    await give_money(app.sessionmaker, ALICE, "5")
    again = await alice.press(reply.button("Check again"))
    assert "Balance after: 2.00 USD" in again.text
    await alice.press_button("Confirm")
    assert len(await orders_of(app.sessionmaker, ALICE)) == 1
    assert await balance(app.sessionmaker, ALICE) == Decimal("2.00")


async def test_double_confirm_places_one_order_and_charges_once(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await to_quantity(alice)
    screen = await alice.send("1000")
    data = confirm_data(screen)
    first = await alice.press(data)
    second = await alice.press(data)
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert f"#{order.id}" in first.text
    assert f"Order #{order.id} is already placed" in second.alerts[-1].text
    assert await charges_of(app.sessionmaker, ALICE) == 1
    assert await balance(app.sessionmaker, ALICE) == Decimal("8.00")

    # replaying that old confirmation later, in the middle of another order, changes nothing
    await to_quantity(alice)
    replay = await alice.press(data)
    assert f"#{order.id}" in replay.alerts[-1].text
    assert len(await orders_of(app.sessionmaker, ALICE)) == 1
    assert await fsm(app.dp, app.bot, ALICE).get_state() == "OrderFlow:quantity"


async def test_confirm_after_cancel_creates_nothing(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await to_quantity(alice)
    data = confirm_data(await alice.send("1000"))
    assert "Cancelled" in (await alice.send("/cancel")).text
    reply = await alice.press(data)
    assert "no longer active" in reply.alerts[-1].text
    assert reply.alerts[-1].show_alert
    assert await orders_of(app.sessionmaker, ALICE) == []
    assert await balance(app.sessionmaker, ALICE) == Decimal("10")


async def test_forged_callbacks_have_no_effect(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await to_quantity(alice)
    await alice.send("1000")
    before = await fsm(app.dp, app.bot, ALICE).get_data()

    wrong_nonce = await alice.press(FlowCallback(action="confirm", nonce="deadbeef").pack())
    assert "no longer active" in wrong_nonce.alerts[-1].text
    wrong_cancel = await alice.press(FlowCallback(action="cancel", nonce="deadbeef").pack())
    assert "no longer active" in wrong_cancel.alerts[-1].text
    unknown = await alice.press(ServicePick(service_id=99999).pack())
    assert "not available" in unknown.alerts[-1].text
    hidden = await alice.press(ServicePick(service_id=catalog.hidden).pack())
    assert "not available" in hidden.alerts[-1].text
    closed = await alice.press(CategoryPick(category_id=3, page=0).pack())
    assert "not available" in closed.alerts[-1].text
    assert not [c for c in closed.calls if isinstance(c, SendMessage | EditMessageText)]

    # Bob pressing Alice's confirmation data does nothing for either of them
    bob = chat(1002)
    stolen = await bob.press(FlowCallback(action="confirm", nonce=before["confirm"]).pack())
    assert "no longer active" in stolen.alerts[-1].text
    assert await orders_of(app.sessionmaker, ALICE) == []
    assert await orders_of(app.sessionmaker, 1002) == []
    assert await fsm(app.dp, app.bot, ALICE).get_data() == before
    assert await fsm(app.dp, app.bot, ALICE).get_state() == "OrderFlow:confirm"


@pytest.mark.parametrize("step", ["link", "quantity", "lines", "confirm"])
async def test_cancel_works_from_every_state(app, chat, catalog, step: str) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    if step == "lines":
        await open_service(alice, "Instagram", "Custom Comments")
        await alice.send("https://instagram.com/p/abc")
    else:
        await to_quantity(alice)
        if step == "link":
            await open_service(alice, "Instagram", "Instagram Followers ·")
        if step == "confirm":
            await alice.send("1000")
    assert await fsm(app.dp, app.bot, ALICE).get_state() == f"OrderFlow:{step}"
    reply = await alice.send("/cancel")
    assert "Cancelled. Nothing was ordered." in reply.text
    assert await fsm(app.dp, app.bot, ALICE).get_state() is None
    assert await orders_of(app.sessionmaker, ALICE) == []


async def test_cancel_button_leaves_the_flow(app, chat, catalog) -> None:
    alice = chat(ALICE)
    await to_quantity(alice)
    reply = await alice.press_button("Cancel")
    assert "Cancelled" in reply.text
    assert await fsm(app.dp, app.bot, ALICE).get_state() is None
    assert "Nothing to cancel" in (await alice.send("/cancel")).text


async def test_other_commands_still_work_inside_the_flow(app, chat, catalog) -> None:
    alice = chat(ALICE)
    await to_quantity(alice)
    assert "Balance: 0.00 USD" in (await alice.send("/balance")).text
    assert "no orders yet" in (await alice.send("/orders")).text
    assert await fsm(app.dp, app.bot, ALICE).get_state() == "OrderFlow:quantity"


async def test_comment_list_counts_lines(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    card = await open_service(alice, "Instagram", "Custom Comments")
    assert "send the list, one per line" in card.text
    prompt = await alice.send("https://instagram.com/p/abc")
    assert "comments, one per line (2 to 5 lines)" in prompt.text
    assert "You sent 1 lines" in (await alice.send("only one")).text
    assert "You sent 6 lines" in (await alice.send("a\nb\nc\nd\ne\nf")).text
    screen = await alice.send("Nice!\n\n  <3 this  \nWow")
    assert "Quantity: 3" in screen.text and "&lt;3 this" in screen.text
    assert "Charge: 0.03 USD" in screen.text
    await alice.press_button("Confirm")
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert order.quantity == 3
    assert order.extra == {"comments": ["Nice!", "<3 this", "Wow"]}


async def test_package_skips_the_quantity(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    card = await open_service(alice, "Instagram", "Starter Package")
    assert "5.00 USD per package" in card.text
    screen = await alice.send("https://instagram.com/alice")
    assert "Quantity: 1" in screen.text and "Charge: 5.00 USD" in screen.text
    await alice.press_button("Confirm")
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert order.quantity == 1 and order.charge == Decimal("5.00")


async def test_back_to_services_drops_the_picked_service(app, chat, catalog) -> None:
    alice = chat(ALICE)
    await open_service(alice, "Instagram", "Instagram Followers ·")
    reply = await alice.press_button("◀ Services")
    assert "Choose a service" in reply.text
    assert await fsm(app.dp, app.bot, ALICE).get_state() is None


async def test_menu_button_callback_shape(app, chat, catalog) -> None:
    alice = chat(ALICE)
    reply = await alice.press(MenuCallback(action="new_order").pack())
    assert "Choose a category" in reply.text


async def test_concurrent_double_tap_without_isolation_still_places_one_order(
    app, chat, catalog
) -> None:
    """Event isolation is not the guard: the idempotency key is (SPEC §5, STYLE 8)."""
    from aiogram.fsm.storage.memory import DisabledEventIsolation

    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await to_quantity(alice)
    data = confirm_data(await alice.send("1000"))
    app.dp.fsm.events_isolation = DisabledEventIsolation()
    await asyncio.gather(alice.press(data), alice.press(data), alice.press(data))
    assert len(await orders_of(app.sessionmaker, ALICE)) == 1
    assert await charges_of(app.sessionmaker, ALICE) == 1
    assert await balance(app.sessionmaker, ALICE) == Decimal("8.00")


async def set_price(app, service_id: int, price: str) -> None:
    from db.engine import write_tx
    from db.models import Service

    async with app.sessionmaker() as session, write_tx(session):
        service = await session.get(Service, service_id)
        assert service is not None
        service.price = Decimal(price)


async def test_a_price_changed_after_the_confirmation_is_not_charged_unseen(
    app, chat, catalog
) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await to_quantity(alice)
    screen = await alice.send("1000")
    assert "Charge: 2.00 USD" in screen.text
    await set_price(app, catalog.followers, "3.00")  # the admin reprices meanwhile
    old = confirm_data(screen)
    changed = await alice.press(old)
    assert "price has changed: the charge is now 3.00 USD" in changed.alerts[-1].text
    assert "Charge: 3.00 USD" in changed.text and "Balance after: 7.00 USD" in changed.text
    assert await orders_of(app.sessionmaker, ALICE) == []
    assert await balance(app.sessionmaker, ALICE) == Decimal("10.00")
    stale = await alice.press(old)  # the old screen's button no longer confirms
    assert stale.alerts[-1].show_alert and await orders_of(app.sessionmaker, ALICE) == []

    await alice.press(confirm_data(changed))
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert order.charge == Decimal("3.00")
    assert await balance(app.sessionmaker, ALICE) == Decimal("7.00")


async def test_losing_the_unique_key_race_answers_already_placed(
    app, chat, catalog, monkeypatch
) -> None:
    """The other tap commits the key after our handler found the confirmation current: our
    insert meets the key and inserts nothing (no error, nothing charged), and the answer is
    the order already placed."""
    from core import ordering
    from core.ordering import OrderDraft
    from handlers.order import confirm as order_confirm

    real_place = order_confirm.place_order

    async def other_tap_commits_first(session, user_id, draft, **options):
        other_draft = OrderDraft(catalog.followers, "https://instagram.com/alice", 1000)
        async with app.sessionmaker() as other:  # the concurrent tap
            await ordering.place_order(other, user_id, other_draft, key=options["key"])
        return await real_place(session, user_id, draft, **options)

    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await to_quantity(alice)
    data = confirm_data(await alice.send("1000"))
    monkeypatch.setattr(order_confirm, "place_order", other_tap_commits_first)
    reply = await alice.press(data)
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert f"Order #{order.id} is already placed" in reply.alerts[-1].text
    assert await balance(app.sessionmaker, ALICE) == Decimal("8.00")


async def test_a_free_service_can_be_ordered(app, chat, catalog) -> None:
    """A provider rate of 0 imports as price 0: the order is placed, nothing is debited."""
    await set_price(app, catalog.followers, "0")
    alice = chat(ALICE)
    await to_quantity(alice)
    screen = await alice.send("1000")
    assert "Charge: 0.00 USD" in screen.text
    done = await alice.press(confirm_data(screen))
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert f"#{order.id}" in done.text and order.charge == 0
    assert await charges_of(app.sessionmaker, ALICE) == 0
    assert await balance(app.sessionmaker, ALICE) == Decimal("0")
