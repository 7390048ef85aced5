"""Balance → ➕ Top up → method → amount → invoice (SPEC §10).

Only configured methods are offered. A Stars invoice is sent at once (Telegram shows what
is paid); a Crypto Pay invoice is created in the background, because the chat never waits
for an outside service: the customer sees "creating…" and the message turns into the
invoice with its Pay button (or an apology) when Crypto Pay answers.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, LabeledPrice, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from core.cryptopay_payments import attach_external_invoice, mark_failed
from core.money import InvalidAmount, parse_amount
from core.payments import MAX_STARS, STARS_CURRENCY, open_invoice, payload_of, stars_for
from core.statuses import PaymentMethod
from db.models import Payment, User
from handlers.payments import texts
from handlers.payments.keyboards import (
    TopupCallback,
    amounts_keyboard,
    methods_keyboard,
    pay_keyboard,
    topup_button_keyboard,
)
from handlers.ui import NOT_A_COMMAND, answers_itself, show
from payments import CryptoPayClient, CryptoPayError

log = logging.getLogger(__name__)

# Background invoice creations in flight (a task nobody references may be collected).
_creations: set[asyncio.Task[Any]] = set()


class TopupFlow(StatesGroup):
    amount = State()


def _limits(settings: Settings) -> tuple[Decimal, Decimal]:
    return settings.topup_min, settings.topup_max


async def start(query: CallbackQuery, bot: Bot, settings: Settings, state: FSMContext) -> None:
    await state.clear()
    methods = settings.payment_methods
    if not methods:
        await show(query, bot, texts.no_methods_text())
        return
    if len(methods) == 1:
        await _show_amounts(query, bot, settings, methods[0])
        return
    low, high = _limits(settings)
    await show(
        query, bot, texts.methods_text(settings.currency, low, high), methods_keyboard(methods)
    )


async def _show_amounts(query: CallbackQuery, bot: Bot, settings: Settings, method: str) -> None:
    low, high = _limits(settings)
    await show(
        query,
        bot,
        texts.amounts_text(method, settings.currency, low, high),
        amounts_keyboard(
            method, settings.topup_presets, settings.currency, settings.stars_per_unit
        ),
    )


def method_open(query: CallbackQuery, callback_data: TopupCallback, settings: Settings) -> bool:
    """The filter of every button naming a method: the method is still offered. A button
    shown before it was switched off reaches method_closed instead."""
    return callback_data.method in settings.payment_methods


@answers_itself
async def method_closed(query: CallbackQuery) -> None:
    await query.answer(texts.method_closed_text(), show_alert=True)


async def method_chosen(
    query: CallbackQuery, callback_data: TopupCallback, bot: Bot, settings: Settings
) -> None:
    await _show_amounts(query, bot, settings, callback_data.method)


async def other_amount(
    query: CallbackQuery, callback_data: TopupCallback, settings: Settings, state: FSMContext
) -> None:
    await state.set_state(TopupFlow.amount)
    await state.update_data(method=callback_data.method)
    if query.message is not None:
        low, high = _limits(settings)
        await query.message.answer(texts.other_amount_prompt(settings.currency, low, high))


@answers_itself
async def preset_chosen(
    query: CallbackQuery,
    callback_data: TopupCallback,
    bot: Bot,
    settings: Settings,
    session: AsyncSession,
    user: User,
    sessionmaker: async_sessionmaker[AsyncSession],
    crypto_pay: CryptoPayClient | None = None,
) -> None:
    amount = _parse(callback_data.amount, settings)
    if amount is None:  # a preset beyond the limits set since the button was shown
        await method_closed(query)
        return
    await query.answer()
    chat_id = query.message.chat.id if query.message is not None else user.id
    await issue_invoice(
        bot,
        session,
        sessionmaker,
        settings,
        crypto_pay,
        user,
        chat_id,
        callback_data.method,
        amount,
    )


async def amount_typed(
    message: Message,
    state: FSMContext,
    bot: Bot,
    settings: Settings,
    session: AsyncSession,
    user: User,
    sessionmaker: async_sessionmaker[AsyncSession],
    crypto_pay: CryptoPayClient | None = None,
) -> None:
    amount = _parse(message.text or "", settings)
    low, high = _limits(settings)
    if amount is None:
        await message.answer(texts.bad_amount_text(settings.currency, low, high))
        return
    method = (await state.get_data()).get("method", "")
    await state.clear()
    if method not in settings.payment_methods:
        await message.answer(texts.method_closed_text())
        return
    await issue_invoice(
        bot, session, sessionmaker, settings, crypto_pay, user, message.chat.id, method, amount
    )


async def amount_wrong_input(message: Message, settings: Settings) -> None:
    low, high = _limits(settings)
    await message.answer(texts.other_amount_prompt(settings.currency, low, high))


def _parse(text: str, settings: Settings) -> Decimal | None:
    """An amount within the limits, with at most cents (bounded once, here)."""
    try:
        amount = parse_amount(text.strip().removesuffix(settings.currency).strip())
    except (InvalidAmount, ArithmeticError, ValueError):
        return None
    if amount != amount.quantize(Decimal("0.01")):
        return None
    low, high = _limits(settings)
    return amount if low <= amount <= high else None


async def issue_invoice(
    bot: Bot,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    crypto_pay: CryptoPayClient | None,
    user: User,
    chat_id: int,
    method: str,
    amount: Decimal,
) -> None:
    currency = settings.currency
    # What the customer pays: whole Stars, or the amount itself through Crypto Pay.
    price, price_currency = amount, currency
    if method == PaymentMethod.STARS:
        stars = stars_for(amount, settings.stars_per_unit)
        if stars > MAX_STARS:
            await bot.send_message(chat_id, texts.too_many_stars_text(MAX_STARS))
            return
        price, price_currency = Decimal(stars), STARS_CURRENCY
    elif crypto_pay is None:  # configured methods only reach here; a stale button may not
        await bot.send_message(chat_id, texts.method_closed_text())
        return
    payment = await open_invoice(
        session,
        user_id=user.id,
        chat_id=chat_id,
        method=PaymentMethod(method),
        amount=amount,
        currency=currency,
        price=price,
        price_currency=price_currency,
        lifetime=timedelta(minutes=settings.payment_invoice_minutes),
    )
    if method == PaymentMethod.STARS:
        title = texts.stars_invoice_title(amount, currency)
        await bot.send_invoice(
            chat_id,
            title=title,
            description=texts.stars_invoice_description(
                amount, currency, int(price), settings.payment_invoice_minutes
            ),
            payload=payload_of(payment),
            currency=STARS_CURRENCY,
            prices=[LabeledPrice(label=title, amount=int(price))],
        )
        return
    assert crypto_pay is not None  # refused above
    note = await bot.send_message(chat_id, texts.crypto_creating_text(amount, currency))
    task = asyncio.create_task(
        _create_crypto_invoice(bot, sessionmaker, settings, crypto_pay, payment, note)
    )
    _creations.add(task)
    task.add_done_callback(_creations.discard)


async def _create_crypto_invoice(
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    crypto_pay: CryptoPayClient,
    payment: Payment,
    note: Message,
) -> None:
    """createInvoice (bounded by the client's deadline), then the message becomes the
    invoice. The payload carries our token, so even an invoice created although the call
    timed out is matched when it is paid."""
    currency = settings.currency
    try:
        invoice = await crypto_pay.create_invoice(
            amount=payment.amount,
            fiat=currency,
            accepted_assets=settings.crypto_pay_assets,
            description=texts.crypto_description(payment.amount, currency),
            payload=payload_of(payment),
            expires_in=settings.payment_invoice_minutes * 60,
        )
    except CryptoPayError as exc:
        log.warning("Crypto Pay createInvoice for payment %s failed: %s", payment.id, exc)
        async with sessionmaker() as session:
            await mark_failed(session, payment.id, str(exc))
        await _edit(bot, note, texts.crypto_unavailable_text(), topup_button_keyboard())
        return
    async with sessionmaker() as session:
        await attach_external_invoice(session, payment.id, invoice.invoice_id, invoice.pay_url)
    text = texts.crypto_invoice_text(
        payment.amount,
        currency,
        ", ".join(settings.crypto_pay_assets),
        settings.payment_invoice_minutes,
    )
    markup = pay_keyboard(invoice.pay_url, payment.amount, currency) if invoice.pay_url else None
    await _edit(bot, note, text, markup)


async def _edit(bot: Bot, note: Message, text: str, markup: Any = None) -> None:
    try:
        await bot.edit_message_text(
            text, chat_id=note.chat.id, message_id=note.message_id, reply_markup=markup
        )
    except TelegramAPIError:
        log.warning("could not show the invoice in chat %s", note.chat.id, exc_info=True)


def create_router() -> Router:
    router = Router(name="payments.topup")
    router.callback_query.register(start, TopupCallback.filter(F.action == "start"))
    for handler, action in (
        (method_chosen, "method"),
        (preset_chosen, "amount"),
        (other_amount, "other"),
    ):
        router.callback_query.register(
            handler, TopupCallback.filter(F.action == action), method_open
        )
    router.callback_query.register(
        method_closed, TopupCallback.filter(F.action.in_({"method", "amount", "other"}))
    )
    router.message.register(amount_typed, TopupFlow.amount, F.text, NOT_A_COMMAND)
    router.message.register(amount_wrong_input, TopupFlow.amount, NOT_A_COMMAND)
    return router
