"""Telegram Stars: pre_checkout_query (answered within Telegram's 10 s from the database)
and successful_payment (credited exactly once per charge; the receipt goes through the
outbox in the credit's transaction)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message, PreCheckoutQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from core.payments import Credit, check_stars_checkout, record_stars_payment
from core.statuses import PaymentMethod
from handlers.payments import texts


async def pre_checkout(query: PreCheckoutQuery, session: AsyncSession, settings: Settings) -> None:
    refusal = await check_stars_checkout(
        session,
        user_id=query.from_user.id,
        payload=query.invoice_payload,
        currency=query.currency,
        total_amount=query.total_amount,
        open_for_topups=PaymentMethod.STARS in settings.payment_methods,
        limits=(settings.topup_min, settings.topup_max),
    )
    if refusal is None:
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=texts.checkout_refusal_text(refusal))


async def successful_payment(message: Message, session: AsyncSession, settings: Settings) -> None:
    paid = message.successful_payment
    assert paid is not None and message.from_user is not None
    outcome = await record_stars_payment(
        session,
        user_id=message.from_user.id,
        payload=paid.invoice_payload,
        charge_id=paid.telegram_payment_charge_id,
        currency=paid.currency,
        total_amount=paid.total_amount,
        panel_currency=settings.currency,
        admin_ids=settings.admin_ids,
    )
    if outcome.result == Credit.UNMATCHED:
        await message.answer(texts.unmatched_payment_text())
    # Credited: the receipt is already in the outbox. Duplicate: said once already.


def create_router() -> Router:
    router = Router(name="payments.checkout")
    router.pre_checkout_query.register(pre_checkout)
    router.message.register(successful_payment, F.successful_payment)
    return router
