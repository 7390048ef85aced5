"""Drip-feed and subscription steps of the order flow, each value bounded by core.order_fields.

Drip-feed: after the quantity, a service that offers it asks "all at once or drip-feed";
drip-feed then asks the runs and the minutes between them (the quantity is per run).
Subscriptions (auto likes/views on new posts) ask, instead of a link and a quantity: the
account's username, the least and most per new post, how many posts, the delay before each
and an optional end date. FSM data keeps only the small values typed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.types import User as TgUser
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog_cache import CatalogCache, ServiceView
from core.order_fields import (
    DELAYS,
    MAX_INTERVAL,
    MAX_POSTS,
    MAX_RUNS,
    MIN_INTERVAL,
    MIN_POSTS,
    MIN_RUNS,
    DripFeed,
    FieldError,
    Subscription,
    parse_delay,
    parse_expiry,
    parse_interval,
    parse_per_post,
    parse_posts,
    parse_runs,
    parse_username,
)
from core.ordering import OrderDraft
from db.types import utcnow
from handlers.order import steps, texts
from handlers.order.callbacks import FlowCallback, OrderFlow
from handlers.order.keyboards import cancel_keyboard
from handlers.placing import confirmation_data
from handlers.ui import answers_itself, show


def draft_extra(data: dict[str, Any], service: ServiceView) -> OrderDraft | None:
    """The draft of a drip-feed or subscription flow (None for a plain one)."""
    if data.get("username"):
        expiry = data.get("expiry")
        sub = Subscription(
            data["username"],
            int(data["per_min"]),
            int(data["per_max"]),
            int(data["posts"]),
            int(data["delay"]),
            date.fromisoformat(expiry) if expiry else None,
        )
        return OrderDraft(service.id, sub.username, sub.posts, sub.as_extra())
    if data.get("runs"):
        drip = DripFeed(int(data["runs"]), int(data["interval"]))
        return OrderDraft(service.id, data["link"], int(data["quantity"]), drip.as_extra())
    return None


# --- drip-feed ------------------------------------------------------------------------------


def dripfeed_keyboard(flow: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📦 All at once"), callback_data=FlowCallback(action="once", nonce=flow))
    kb.button(text=_("💧 Drip-feed"), callback_data=FlowCallback(action="drip", nonce=flow))
    kb.button(text=_("✖ Cancel"), callback_data=FlowCallback(action="cancel", nonce=flow))
    kb.adjust(2)
    return kb.as_markup()


async def offer_dripfeed(message: Message, state: FSMContext, quantity: int) -> None:
    data = await state.get_data()
    await state.set_state(OrderFlow.dripfeed)
    await message.answer(
        _(
            "Deliver all {quantity} at once, or drip-feed: {quantity} in each of several runs "
            "with a pause between them?"
        ).format(quantity=quantity),
        reply_markup=dripfeed_keyboard(data["flow"]),
    )


@answers_itself
async def dripfeed_chosen(
    query: CallbackQuery,
    callback_data: FlowCallback,
    session: AsyncSession,
    catalog: CatalogCache,
    event_from_user: TgUser,
    state: FSMContext,
    bot: Bot,
    currency: str,
) -> None:
    data = await confirmation_data(state, OrderFlow.dripfeed, "flow", callback_data.nonce)
    if data is None:
        await query.answer(texts.stale_text(), show_alert=True)
        return
    await query.answer()
    if callback_data.action == "drip":
        await state.set_state(OrderFlow.runs)
        await show(query, bot, runs_prompt(int(data["quantity"])), cancel_keyboard(data["flow"]))
        return
    if not isinstance(query.message, Message):
        return
    # The question keeps its answer and loses its buttons; the confirmation follows.
    await show(query, bot, _("📦 All {quantity} at once.").format(quantity=data["quantity"]))
    found = await steps.flow_service(query.message, session, catalog, state)
    if found is not None:
        await steps.show_confirmation(
            query.message, session, event_from_user.id, state, found[1], currency
        )


def runs_prompt(quantity: int) -> str:
    return _(
        "How many runs? Send a number from {min} to {max}. Each run delivers {quantity}."
    ).format(min=MIN_RUNS, max=MAX_RUNS, quantity=quantity)


def interval_prompt() -> str:
    return _("How many minutes between runs? Send a number from {min} to {max}.").format(
        min=MIN_INTERVAL, max=MAX_INTERVAL
    )


# --- subscriptions --------------------------------------------------------------------------


def per_post_prompt(low: int, high: int, most: bool) -> str:
    if most:
        return _("The most per new post? Send a number from {min} to {max}.").format(
            min=low, max=high
        )
    return _("The fewest per new post? Send a number from {min} to {max}.").format(
        min=low, max=high
    )


def posts_prompt() -> str:
    return _("How many new posts should it cover? Send a number from {min} to {max}.").format(
        min=MIN_POSTS, max=MAX_POSTS
    )


def delay_prompt() -> str:
    return _("Delay before each post is served, in minutes: one of {delays}.").format(
        delays=", ".join(map(str, DELAYS))
    )


def expiry_prompt() -> str:
    return _("End date as dd/mm/yyyy (within a year), or - for none.")


def field_problem_text(error: FieldError) -> str:
    d = error.details
    texts = {
        "bad_runs": _("Send the runs as a number from {min} to {max}."),
        "bad_interval": _("Send the minutes as a number from {min} to {max}."),
        "bad_posts": _("Send the posts as a number from {min} to {max}."),
        "bad_per_post": _("Send a number from {min} to {max}."),
        "bad_delay": _("The delay must be one of: {delays}."),
        "bad_username": _("That does not look like a username. Send it as @name."),
        "bad_expiry": _("Send a future date within a year as dd/mm/yyyy, or - for none."),
    }
    return texts.get(error.code, error.code).format(**d)


Step = tuple[str, Callable[[str, ServiceView, dict[str, Any]], Any], State | None]


def _steps() -> dict[str | None, Step]:
    """state → (data key, parser, next state); None next: the confirmation."""
    return {
        OrderFlow.runs.state: ("runs", lambda t, s, d: parse_runs(t), OrderFlow.interval),
        OrderFlow.interval.state: ("interval", lambda t, s, d: parse_interval(t), None),
        OrderFlow.username.state: (
            "username",
            lambda t, s, d: parse_username(t),
            OrderFlow.per_min,
        ),
        OrderFlow.per_min.state: (
            "per_min",
            lambda t, s, d: parse_per_post(t, s.min, s.max),
            OrderFlow.per_max,
        ),
        OrderFlow.per_max.state: (
            "per_max",
            lambda t, s, d: parse_per_post(t, int(d["per_min"]), s.max),
            OrderFlow.posts,
        ),
        OrderFlow.posts.state: ("posts", lambda t, s, d: parse_posts(t), OrderFlow.delay),
        OrderFlow.delay.state: ("delay", lambda t, s, d: parse_delay(t), OrderFlow.expiry),
        OrderFlow.expiry.state: (
            "expiry",
            lambda t, s, d: _iso(parse_expiry(t, utcnow().date())),
            None,
        ),
    }


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def next_prompt(step: State, service: ServiceView, data: dict[str, Any]) -> str:
    prompts = {
        OrderFlow.interval: interval_prompt,
        OrderFlow.per_min: lambda: per_post_prompt(service.min, service.max, most=False),
        OrderFlow.per_max: lambda: per_post_prompt(int(data["per_min"]), service.max, most=True),
        OrderFlow.posts: posts_prompt,
        OrderFlow.delay: delay_prompt,
        OrderFlow.expiry: expiry_prompt,
    }
    return prompts[step]()


async def field_sent(
    message: Message,
    session: AsyncSession,
    catalog: CatalogCache,
    event_from_user: TgUser,
    state: FSMContext,
    currency: str,
) -> None:
    """One text step of a drip-feed or subscription: checked, stored, the next one asked."""
    key, parse, following = _steps()[await state.get_state()]

    def checked(text: str, service: ServiceView, data: dict[str, Any]) -> dict[str, Any] | str:
        try:
            return {key: parse(text, service, data)}
        except FieldError as error:
            return field_problem_text(error)

    step = await steps.text_step(message, session, catalog, state, checked)
    if step is None:
        return
    data, service = step
    if following is None:
        await steps.show_confirmation(
            message, session, event_from_user.id, state, service, currency
        )
        return
    await state.set_state(following)
    await message.answer(
        next_prompt(following, service, data), reply_markup=cancel_keyboard(data["flow"])
    )
