"""/massorder: many `service_id | link | quantity` lines, a preview, one Confirm (SPEC §3).

The preview stores only the valid drafts (ids, links, quantities) and a nonce; Confirm places
them all with core.mass_order.place_mass_order under the key `mass:<user>:<nonce>` (one balance
check for the total, idempotent on a double tap), then submits each order.
"""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal

from aiogram import Bot, F, Router, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.billing import InsufficientFunds
from core.links import PLATFORM_NAMES
from core.mass_order import (
    MAX_LINES,
    MassLine,
    MassPreview,
    TooManyLines,
    check_mass_order,
    orders_by_key_prefix,
    place_mass_order,
)
from core.money import ZERO
from core.ordering import OrderDraft, OrderError
from core.statuses import OrderStatus
from core.submission import submit_order
from db.models import Order, User
from handlers.menu import main_menu_keyboard
from handlers.order_views import after_order_keyboard, failure_reason, status_label
from handlers.ui import NOT_A_COMMAND, clip, money_text, show, split_message
from providers import ProviderRegistry

log = logging.getLogger(__name__)


class MassOrderFlow(StatesGroup):
    lines = State()
    confirm = State()


class MassCallback(CallbackData, prefix="mass"):
    action: str  # confirm | cancel
    nonce: str


def mass_key(user_id: int, nonce: str) -> str:
    return f"mass:{user_id}:{nonce}"


# --- texts and keyboards (pure) ---------------------------------------------------------


def prompt_text() -> str:
    return _(
        "<b>Mass order</b>\nSend one order per line (at most {limit} lines):\n"
        "<code>service_id | link | quantity</code>\n\nExample:\n"
        "<code>12 | https://instagram.com/yourname | 1000\n"
        "15 | https://tiktok.com/@yourname/video/123 | 5000</code>\n\n"
        "/cancel to leave."
    ).format(limit=MAX_LINES)


def problem_text(line: MassLine) -> str:
    details = line.details
    platform = PLATFORM_NAMES.get(details.get("platform") or "", "")
    reasons = {
        "bad_format": _("bad format, expected: service_id | link | quantity"),
        "unknown_service": _("unknown service {id}").format(id=details.get("service_id")),
        "needs_list": _("this service needs a list; order it with /neworder"),
        "not_a_link": _("bad link"),
        "wrong_platform": _("bad link: this service takes {platform} links").format(
            platform=platform
        ),
        "too_long": _("bad link: too long"),
        "not_a_number": _("the quantity is not a number"),
        "below_min": _("quantity below the minimum {min}").format(min=details.get("min")),
        "above_max": _("quantity above the maximum {max}").format(max=details.get("max")),
        "step": _("the quantity must be a multiple of {step}").format(step=details.get("step")),
    }
    return reasons.get(line.problem or "", _("bad line"))


def preview_lines(preview: MassPreview, currency: str) -> list[str]:
    lines = [_("<b>Mass order preview</b>")]
    for line in preview.lines:
        if line.draft is not None:
            lines.append(
                _("✅ Line {n}: #{id} {name} · {quantity} · {charge}\n    {link}").format(
                    n=line.number,
                    id=line.draft.service_id,
                    name=html.quote(clip(line.service_name, 40)),
                    quantity=line.draft.quantity,
                    charge=money_text(line.charge, currency),
                    link=html.quote(clip(line.draft.link, 100)),
                )
            )
        else:
            lines.append(
                _("❌ Line {n}: {reason}").format(n=line.number, reason=problem_text(line))
            )
    valid = len(preview.valid)
    lines += [
        "",
        _("Valid orders: {valid} of {total}").format(valid=valid, total=len(preview.lines)),
        _("Total charge: {amount}").format(amount=money_text(preview.total, currency)),
    ]
    return lines


def confirm_keyboard(nonce: str, with_confirm: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if with_confirm:
        kb.button(text=_("✅ Confirm"), callback_data=MassCallback(action="confirm", nonce=nonce))
    kb.button(text=_("✖ Cancel"), callback_data=MassCallback(action="cancel", nonce=nonce))
    return kb.as_markup()


def result_text(orders: list[Order], currency: str) -> list[str]:
    """The placed orders, as messages that each fit Telegram's limit (50 lines can exceed it)."""
    lines = [_("✅ Mass order placed: {count} orders.").format(count=len(orders))]
    for order in orders:
        line = (
            f"#{order.id} · {html.quote(clip(order.service.name, 40))} — "
            f"{status_label(order.status)}"
        )
        if order.status == OrderStatus.FAILED:
            line += f": {failure_reason(order.error_code)}"
        lines.append(line)
    refunded = sum((order.refunded for order in orders), ZERO)
    if refunded > 0:
        lines.append(
            _("{amount} was returned to your balance for the failed ones.").format(
                amount=money_text(refunded, currency)
            )
        )
    return split_message(lines)


def stale_text() -> str:
    return _("This preview is no longer active. Send /massorder again.")


async def answer_already_placed(query: CallbackQuery, orders: list[Order]) -> None:
    await query.answer(
        _("Already placed: {ids}.").format(ids=", ".join(f"#{o.id}" for o in orders)),
        show_alert=True,
    )


# --- handlers ---------------------------------------------------------------------------


def create_router() -> Router:
    router = Router(name="mass_order")

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

    @router.message(Command("massorder"))
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

    @router.message(MassOrderFlow.lines, F.text, NOT_A_COMMAND)
    @router.message(MassOrderFlow.confirm, F.text, NOT_A_COMMAND)
    async def lines_sent(
        message: Message, session: AsyncSession, user: User, state: FSMContext, currency: str
    ) -> None:
        await preview(message, message.text or "", session, user, state, currency)

    @router.message(MassOrderFlow.lines, NOT_A_COMMAND)
    @router.message(MassOrderFlow.confirm, NOT_A_COMMAND)
    async def wrong_input(message: Message) -> None:
        await message.answer(
            _("Please send the lines as a text message: service_id | link | quantity (or /cancel).")
        )

    @router.callback_query(MassCallback.filter(F.action == "cancel"))
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

    @router.callback_query(MassCallback.filter(F.action == "confirm"))
    async def confirm(
        query: CallbackQuery,
        callback_data: MassCallback,
        session: AsyncSession,
        user: User,
        state: FSMContext,
        bot: Bot,
        registry: ProviderRegistry,
        admin_ids: frozenset[int],
        currency: str,
    ) -> None:
        user_id = user.id
        key = mass_key(user_id, callback_data.nonce)
        placed = await orders_by_key_prefix(session, user_id, key)
        if placed:  # a double tap or a replay
            await answer_already_placed(query, placed)
            return
        data = await state.get_data()
        if await state.get_state() != MassOrderFlow.confirm or data.get("mass") != (
            callback_data.nonce
        ):
            await query.answer(stale_text(), show_alert=True)
            return
        drafts = [OrderDraft(int(sid), str(link), int(qty)) for sid, link, qty in data["drafts"]]
        # The previewed total: prices changed since then are not charged unseen.
        expected = Decimal(data["total"]) if data.get("total") else None
        try:
            result = await place_mass_order(
                session, user_id, drafts, key=key, admin_ids=admin_ids, expected_total=expected
            )
        except InsufficientFunds as exc:
            await query.answer(
                _("Not enough balance: {missing} missing.").format(
                    missing=money_text(exc.missing, currency)
                ),
                show_alert=True,
            )
            return
        except OrderError:
            await state.set_state(MassOrderFlow.lines)
            await query.answer(
                _("Some services changed meanwhile. Send the lines again."), show_alert=True
            )
            return
        if not result.new:  # a concurrent tap placed them first
            await answer_already_placed(query, result.orders)
            return
        await state.clear()
        await query.answer()
        for order in result.orders:
            try:
                await submit_order(
                    session, registry, order.id, admin_ids=admin_ids, notify_customer=False
                )
            except Exception:  # left queued: the scheduler sends it
                log.exception("submitting order %s failed", order.id)
        orders = await orders_by_key_prefix(session, user_id, key)
        *first, last = result_text(orders, currency)
        if first:
            await show(query, bot, first[0])
            for chunk in first[1:]:
                await bot.send_message(query.from_user.id, chunk)
            await bot.send_message(query.from_user.id, last, reply_markup=after_order_keyboard())
        else:
            await show(query, bot, last, after_order_keyboard())

    return router
