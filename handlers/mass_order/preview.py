"""/massorder and the lines the customer sends: every line checked, one preview, and the
Confirm button only when something can be ordered and the balance covers it."""

from __future__ import annotations

import secrets

from aiogram import Bot
from aiogram.filters import CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.mass_order import TooManyLines, check_mass_order
from db.models import User
from handlers.mass_order.callbacks import MassCallback, MassOrderFlow
from handlers.mass_order.texts import confirm_keyboard, preview_lines, prompt_text, stale_text
from handlers.menu import main_menu_keyboard
from handlers.ui import answers_itself, money_text, show, split_message


async def preview(
    message: Message,
    text: str,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    currency: str,
) -> None:
    try:
        checked = await check_mass_order(session, text)
    except TooManyLines as exc:
        await state.set_state(MassOrderFlow.lines)
        await message.answer(
            _("Too many lines: {count}. At most {limit} per mass order.").format(
                count=exc.count, limit=exc.limit
            )
        )
        return
    await session.refresh(user, ["balance"])
    lines = preview_lines(checked, currency)
    nonce = secrets.token_hex(6)
    await state.set_data({"mass": nonce})
    with_confirm = False
    if not checked.valid:
        lines.append(_("Nothing to order. Fix the lines and send them again, or /cancel."))
        await state.set_state(MassOrderFlow.lines)
    elif checked.total > user.balance:
        lines.append(
            _("⚠️ Not enough balance ({balance}): {missing} missing.").format(
                balance=money_text(user.balance, currency),
                missing=money_text(checked.total - user.balance, currency),
            )
        )
        await state.set_state(MassOrderFlow.lines)
    else:
        lines.append(
            _("Balance after: {amount}").format(
                amount=money_text(user.balance - checked.total, currency)
            )
        )
        if checked.bad:
            lines.append(_("Only the valid lines will be ordered."))
        with_confirm = True
        drafts = [
            [line.draft.service_id, line.draft.link, line.draft.quantity]
            for line in checked.valid
            if line.draft is not None
        ]
        await state.set_state(MassOrderFlow.confirm)
        await state.set_data({"mass": nonce, "drafts": drafts, "total": str(checked.total)})
    chunks = split_message(lines)
    for chunk in chunks[:-1]:
        await message.answer(chunk)
    await message.answer(chunks[-1], reply_markup=confirm_keyboard(nonce, with_confirm))


async def mass_order(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    currency: str,
) -> None:
    await state.clear()
    if command.args and command.args.strip():
        await preview(message, command.args, session, user, state, currency)
        return
    await state.set_state(MassOrderFlow.lines)
    await message.answer(prompt_text())


async def lines_sent(
    message: Message, session: AsyncSession, user: User, state: FSMContext, currency: str
) -> None:
    await preview(message, message.text or "", session, user, state, currency)


async def wrong_input(message: Message) -> None:
    await message.answer(
        _("Please send the lines as a text message: service_id | link | quantity (or /cancel).")
    )


@answers_itself
async def cancel_button(
    query: CallbackQuery, callback_data: MassCallback, state: FSMContext, bot: Bot
) -> None:
    state_name = await state.get_state()
    data = await state.get_data()
    in_flow = state_name in (MassOrderFlow.lines.state, MassOrderFlow.confirm.state)
    if not in_flow or data.get("mass") != callback_data.nonce:
        await query.answer(stale_text(), show_alert=True)
        return
    await state.clear()
    await query.answer()
    await show(query, bot, _("Cancelled. Nothing was ordered."), main_menu_keyboard())
