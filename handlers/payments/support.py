"""/paysupport: the payment-support command Telegram expects of bots that take Stars.

Alone it shows the customer's recent payments and how to ask; with a question it goes to
the admins (through the outbox) with those payments attached.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from core.payment_admin import ask_about_payments, recent_payments
from db.models import User
from handlers.payments import texts


async def pay_support(
    message: Message, command: CommandObject, session: AsyncSession, user: User, settings: Settings
) -> None:
    question = (command.args or "").strip()
    if not question:
        payments = await recent_payments(session, user.id, limit=5)
        lines = [
            texts.customer_payment_line(
                f"{p.created_at:%Y-%m-%d %H:%M}",
                p.method,
                p.amount if p.amount else p.price,
                p.currency if p.amount else p.price_currency,
                p.status,
                p.external_id,
            )
            for p in payments
        ]
        await message.answer(texts.payment_support_text(lines))
        return
    name = f"@{user.username}" if user.username else user.first_name
    await ask_about_payments(
        session,
        settings.admin_ids,
        user_id=user.id,
        name=name,
        question=question,
        key=f"{message.chat.id}:{message.message_id}",
    )
    await message.answer(texts.payment_support_sent_text())


def create_router() -> Router:
    router = Router(name="payments.support")
    router.message.register(pay_support, Command("paysupport"))
    return router
