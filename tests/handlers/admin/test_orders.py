"""/order, /review, /resend, /refund, /setstatus and the review buttons."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiogram.types import Update
from sqlalchemy import select

from core import notify
from core.lifecycle import change_status
from core.statuses import LedgerKind
from core.submission import submit_order
from db.engine import write_tx
from db.models import AdminAuditLog, LedgerEntry, Notification, Order
from handlers.admin.orders.callbacks import OrderAction
from tests.harness.console import connect_and_import, place, service_id_for
from tests.harness.databases import BACKENDS
from tests.harness.ledger import balance, give_money
from tests.harness.settings import ADMIN_ID, CUSTOMER


async def order_row(app, order_id: int) -> Order:
    async with app.sessionmaker() as session:
        order = await session.get(Order, order_id)
    assert order is not None
    return order


async def review_order(app, admin, fake, quantity: int = 1000) -> int:
    """An order whose add answer was unreadable: the provider has it, we cannot know."""
    await connect_and_import(admin, fake)
    await give_money(app.sessionmaker, CUSTOMER, "20")
    order = await place(app, await service_id_for(app, "1"), quantity)
    fake.set_fault("add", "malformed_json", times=1)
    async with app.sessionmaker() as session:
        await submit_order(session, app.registry, order.id)
    assert (await order_row(app, order.id)).status == "review"
    return order.id


async def manual_order(app, admin, fake, quantity: int = 1000) -> int:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    await admin.send(f"/service {followers} manual")
    await give_money(app.sessionmaker, CUSTOMER, "20")
    order = await place(app, followers, quantity, key="manual")
    assert order.status == "manual"
    return order.id


async def test_review_lists_orders_with_reasons_and_actions(app, admin, fake) -> None:
    assert "Nothing to review" in (await admin.send("/review")).text
    first = await review_order(app, admin, fake)
    followers = await service_id_for(app, "1")
    await admin.send(f"/service {followers} manual")
    second = (await place(app, followers, 500, key="m")).id
    reply = await admin.send("/review")
    assert "<b>Orders waiting for you</b>: 2" in reply.text
    assert f"<b>#{first}</b> · review" in reply.text and "may have the order" in reply.text
    assert f"<b>#{second}</b> · manual" in reply.text and "manual service" in reply.text
    labels = [label for label, _ in reply.buttons()]
    assert labels == [f"#{first} ↻", f"#{first} ↩", f"#{first} ✎",
                      f"#{second} ↻", f"#{second} ↩", f"#{second} ✎"]  # fmt: skip


async def test_resending_an_ambiguous_order_needs_a_confirmation(app, admin, fake) -> None:
    order_id = await review_order(app, admin, fake)
    assert fake.count("add") == 1
    await admin.send("/review")
    reply = await admin.press_button(f"#{order_id} ↻")
    assert "The provider may already have" in reply.text
    assert fake.count("add") == 1  # nothing sent yet
    assert "/resend" not in reply.text and f"/setstatus {order_id} pending" in reply.text
    reply = await admin.press_button("Yes, send")
    assert f"#{order_id} sent: pending, provider order" in reply.text
    assert fake.count("add") == 2
    order = await order_row(app, order_id)
    assert order.status == "pending" and order.provider_order_id
    # The same confirmation pressed again (a stale button) does not send a third time.
    reply = await admin.press(OrderAction(action="resend_ok", order_id=order_id).pack())
    assert "only orders in review or manual can be resent" in reply.text
    assert fake.count("add") == 2
    async with app.sessionmaker() as session:
        audit = await session.scalar(
            select(AdminAuditLog).where(AdminAuditLog.action == "order.resend")
        )
    assert audit is not None and audit.admin_id == ADMIN_ID and audit.before["status"] == "review"


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
@pytest.mark.parametrize(
    "duplicate",
    [
        "You have active order with this link. Please wait until order being completed.",
        "neworder.error.link_duplicate",
    ],
)
async def test_a_resend_the_provider_calls_a_duplicate_goes_back_to_review(
    app, admin, fake, duplicate: str
) -> None:
    """The first add may have arrived: "active order with this link" most likely means it
    did. Back to review (not failed and refunded while the provider delivers), and the
    admin attaches the provider's id from there."""
    order_id = await review_order(app, admin, fake)
    await admin.send("/review")
    await admin.press_button(f"#{order_id} ↻")
    fake.respond("add", body={"error": duplicate})
    reply = await admin.press_button("Yes, send")
    order = await order_row(app, order_id)
    assert order.status == "review" and order.refunded == 0, reply.text
    assert "/setstatus ID pending" in (order.last_error or "")
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal("18.65")  # still charged
    [first] = fake.orders  # the provider's first order, the one being delivered
    reply = await admin.send(f"/setstatus {order_id} pending {first}")
    assert "review → pending" in reply.text
    assert (await order_row(app, order_id)).provider_order_id == first


async def test_a_duplicate_refusal_of_a_first_send_is_still_a_refusal(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    await give_money(app.sessionmaker, CUSTOMER, "20")
    order = await place(app, await service_id_for(app, "1"), 1000)
    fake.respond("add", body={"error": "You have active order with this link."})
    async with app.sessionmaker() as session:
        await submit_order(session, app.registry, order.id)
    assert (await order_row(app, order.id)).status == "failed"
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(20)


async def test_resend_command(app, admin, fake) -> None:
    order_id = await manual_order(app, admin, fake)
    reply = await admin.send(f"/resend {order_id}")  # manual: the provider never had it
    assert f"#{order_id} sent: pending" in reply.text
    assert fake.count("add") == 1
    assert "Usage: <code>/resend ORDER_ID</code>" in (await admin.send("/resend")).text
    assert "No order #77" in (await admin.send("/resend 77")).text


async def test_resend_to_a_provider_without_funds_stays_queued(app, admin, fake) -> None:
    order_id = await manual_order(app, admin, fake)
    fake.set_fault("add", "not_enough_funds", times=1)
    reply = await admin.send(f"/resend {order_id}")
    assert f"#{order_id} is queued: the provider did not take it yet" in reply.text
    assert "Not enough funds" in reply.text
    assert (await order_row(app, order_id)).status == "queued"


async def test_resend_of_a_rejected_order_reports_it(app, admin, fake) -> None:
    order_id = await manual_order(app, admin, fake)
    fake.services[0]["min"] = "5000"  # the provider changed its mind since the import
    reply = await admin.send(f"/resend {order_id}")
    assert "is now failed" in reply.text and "Quantity less than minimal 5000" in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(20)  # refunded in full


async def test_full_refund_cancels_and_notifies(app, admin, fake) -> None:
    order_id = await review_order(app, admin, fake)
    await admin.send("/review")
    reply = await admin.press_button(f"#{order_id} ↩")
    assert "Refund 1.35 USD of" in reply.text
    reply = await admin.press_button("Refund 1.35")
    assert "Refunded 1.35 USD" in reply.text and "The order is canceled." in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(20)
    order = await order_row(app, order_id)
    assert order.status == "canceled" and order.refunded == Decimal("1.35")
    async with app.sessionmaker() as session:
        refund = await session.scalar(
            select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.REFUND)
        )
        pushes = list(await session.scalars(
            select(Notification).where(Notification.chat_id == CUSTOMER,
                                       Notification.kind == notify.ORDER_STATUS)))  # fmt: skip
    assert refund is not None and refund.admin_id == ADMIN_ID
    assert pushes[-1].payload["new"] == "canceled" and pushes[-1].payload["refund"] == "1.35000000"
    # Pressed again on the old message: nothing left, nothing paid twice.
    reply = await admin.press(OrderAction(action="refund_ok", order_id=order_id).pack())
    assert "nothing left to refund" in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(20)


async def test_partial_refunds_by_command(app, admin, fake) -> None:
    order_id = await manual_order(app, admin, fake)  # charge 1.35
    reply = await admin.send(f"/refund {order_id} 0.35")
    assert "Refunded 0.35 USD" in reply.text and "canceled" not in reply.text
    assert "At most 1.00 USD" in (await admin.send(f"/refund {order_id} 2")).text
    reply = await admin.send(f"/refund {order_id}")
    assert "Refunded 1.00 USD" in reply.text and "The order is canceled." in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(20)
    assert "nothing left to refund" in (await admin.send(f"/refund {order_id}")).text
    for bad in ("/refund", "/refund x", f"/refund {order_id} -1", f"/refund {order_id} 1 2"):
        assert "Usage: <code>/refund ORDER_ID [AMOUNT]</code>" in (await admin.send(bad)).text


async def test_a_redelivered_refund_command_refunds_once(app, admin, fake) -> None:
    """Telegram may deliver the same update twice (webhook retry, polling restart): the same
    /refund message must not pay twice, although what is left has changed in between."""
    order_id = await manual_order(app, admin, fake)  # charge 1.35
    message = admin._message(f"/refund {order_id} 0.35")
    reply = await admin._feed(Update(update_id=990001, message=message))
    assert "Refunded 0.35 USD" in reply.text
    reply = await admin._feed(Update(update_id=990002, message=message))
    assert "this refund was already made" in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal("18.65") + Decimal("0.35")
    assert (await order_row(app, order_id)).refunded == Decimal("0.35")
    # A new /refund message of the same amount is a deliberate second refund.
    assert "Refunded 0.35 USD" in (await admin.send(f"/refund {order_id} 0.35")).text
    assert (await order_row(app, order_id)).refunded == Decimal("0.70")


async def test_setstatus_partials_and_cancel_refund_each_difference_once(app, admin, fake) -> None:
    order_id = await manual_order(app, admin, fake)  # 1000 for 1.35
    reply = await admin.send(f"/setstatus {order_id} partial 250")
    assert "manual → partial" in reply.text and "Refunded 0.3375 USD" in reply.text
    # Less undelivered than first said: nothing is taken back, the admins are told.
    reply = await admin.send(f"/setstatus {order_id} partial 100")
    assert "0.2025 USD more was refunded before" in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal("18.9875")
    async with app.sessionmaker() as session:
        alerts = await session.scalars(select(Notification).where(Notification.chat_id == ADMIN_ID))
        assert any(n.payload.get("alert") == "refund_above_status" for n in alerts)
    reply = await admin.send(f"/setstatus {order_id} partial 600")  # more: the difference
    assert "Refunded 0.4725 USD" in reply.text
    reply = await admin.send(f"/setstatus {order_id} canceled")
    assert "Refunded 0.54 USD" in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(20)
    reply = await admin.send(f"/setstatus {order_id} completed")
    assert "cannot be reopened" in reply.text


async def test_manual_order_completed_by_hand_via_buttons(app, admin, fake) -> None:
    order_id = await manual_order(app, admin, fake)
    await admin.send(f"/order {order_id}")
    reply = await admin.press_button("Mark status")
    assert f"Mark #{order_id} (manual) as" in reply.text
    reply = await admin.press_button("Completed")
    assert f"#{order_id}: manual → completed" in reply.text
    order = await order_row(app, order_id)
    assert order.status == "completed" and order.remains == 0
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal("18.65")


async def test_setstatus_pending_with_the_providers_order_id(app, admin, fake) -> None:
    order_id = await review_order(app, admin, fake)
    provider_order = next(iter(fake.orders))  # the provider did create it
    reply = await admin.send(f"/setstatus {order_id} pending {provider_order}")
    assert "review → pending" in reply.text and "status sync follows it" in reply.text
    order = await order_row(app, order_id)
    assert order.provider_order_id == provider_order and order.status == "pending"
    assert fake.count("add") == 1


async def test_setstatus_arguments(app, admin, fake) -> None:
    order_id = await manual_order(app, admin, fake)
    for bad in ("/setstatus", f"/setstatus {order_id}", f"/setstatus {order_id} done",
                f"/setstatus {order_id} partial", f"/setstatus {order_id} partial x",
                f"/setstatus {order_id} completed 5", f"/setstatus {order_id} failed"):  # fmt: skip
        assert "Usage: <code>/setstatus ORDER_ID STATUS" in (await admin.send(bad)).text
    text = (await admin.send(f"/setstatus {order_id} partial 5000")).text
    assert "between 0 and the quantity 1000" in text
    assert "already manual" not in text
    assert "No order #999" in (await admin.send("/setstatus 999 completed")).text
    await admin.send(f"/setstatus {order_id} completed")
    assert "is already completed" in (await admin.send(f"/setstatus {order_id} completed")).text


async def test_order_card_shows_the_full_record(app, admin, fake) -> None:
    order_id = await review_order(app, admin, fake)
    await admin.send(f"/refund {order_id} 0.35")
    reply = await admin.send(f"/order {order_id}")
    text = reply.text
    assert f"<b>Order #{order_id}</b> · review" in text
    assert "Customer: 1001" in text and "Provider: fp · service 1" in text
    assert "Attempts: 1" in text and "(code ambiguous)" in text
    assert "queued → submitting" not in text
    assert "∅ → queued" in text and "submitting → review" in text
    assert "+0.35 USD by admin 9001 (admin)" in text
    assert "review → review by admin 9001 · refund by admin" in text
    labels = [label for label, _ in reply.buttons()]
    assert labels == ["↻ Resend", "↩ Refund", "✎ Mark status"]
    assert "Usage: <code>/order ORDER_ID</code>" in (await admin.send("/order")).text
    assert "No order #999" in (await admin.send("/order 999")).text


async def test_a_refund_reason_used_twice_is_not_counted_twice(app, admin, fake) -> None:
    """core.ordering.change_status: the second refund with the same reason moves no money and
    must not be added to order.refunded (it was, and under-refunded the later cancel)."""
    order_id = await manual_order(app, admin, fake)
    async with app.sessionmaker() as session, write_tx(session):
        order = await session.get(Order, order_id)
        assert order is not None
        for _ in range(2):
            await change_status(
                session, order, "partial", service_name="x", refund=Decimal("0.5"),
                refund_reason="partial",
            )  # fmt: skip
        assert order.refunded == Decimal("0.5")
    await admin.send(f"/setstatus {order_id} canceled")
    assert (await order_row(app, order_id)).refunded == Decimal("1.35")
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(20)


async def test_review_pages_and_the_order_card_button(app, admin, fake) -> None:
    await manual_order(app, admin, fake, quantity=100)
    followers = await service_id_for(app, "1")
    for i in range(9):
        await place(app, followers, 100, key=f"more{i}")
    reply = await admin.send("/review")
    assert "<b>Orders waiting for you</b>: 10 · page 1/2" in reply.text
    assert len(reply.buttons()) == 8 * 3 + 1
    reply = await admin.press_button("▶")
    assert "page 2/2" in reply.text and "<b>#9</b>" in reply.text
    await admin.press_button("#10 ↻")  # manual: sent at once, no warning needed
    assert fake.count("add") == 1
    reply = await admin.press(OrderAction(action="card", order_id=10).pack())
    assert "<b>Order #10</b> · pending" in reply.text
