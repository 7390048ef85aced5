"""Broadcast screens: callback data, keyboards and texts (pure functions)."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.broadcast import ALL, CANCELLED, DONE, LANGUAGE_PREFIX, ORDERED, Progress
from handlers.menu import LANGUAGE_NAMES
from handlers.ui import ButtonId

BAR_CELLS = 10


class BroadcastCallback(CallbackData, prefix="bc"):
    action: str  # audience | send | drop | skip | stop
    broadcast_id: ButtonId
    audience: str = ALL


def message_prompt() -> str:
    return _(
        "📣 <b>Broadcast</b>\nSend the message for your customers: text (formatting is kept), "
        "or a photo with a caption. /cancel to stop."
    )


def button_prompt() -> str:
    return _(
        "Add a link button under it? Send <code>Button text | https://link</code>, or press Skip."
    )


def skip_keyboard(broadcast_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("Skip ▶"), callback_data=BroadcastCallback(action="skip", broadcast_id=broadcast_id)
    )
    return kb.as_markup()


def problem_text(code: str, details: dict[str, object]) -> str:
    if code == "too_long":
        return _("Too long for Telegram: {length} characters, at most {limit}.").format(
            length=details.get("length"), limit=details.get("limit")
        )
    if code == "bad_button":
        return _(
            "Send the button as <code>Button text | https://link</code> (text up to 64 "
            "characters, an http(s) link), or press Skip."
        )
    if code == "not_draft":
        return _("This broadcast was already started or cancelled.")
    if code == "unknown":
        return _("This broadcast is not yours or no longer exists.")
    return _("Send text, or a photo with a caption.")


def audience_label(audience: str) -> str:
    if audience == ALL:
        return _("Everyone")
    if audience == ORDERED:
        return _("Customers with an order")
    code = audience.removeprefix(LANGUAGE_PREFIX)
    return _("Language: {language}").format(language=LANGUAGE_NAMES.get(code, code))


def preview_text(broadcast_id: int, audience: str, sizes: dict[str, int]) -> str:
    return _(
        "📣 <b>Broadcast #{id}</b>: the preview is above.\n"
        "Audience: <b>{audience}</b> · {count} customers (who blocked the bot are left out).\n"
        "Choose the audience, then send."
    ).format(id=broadcast_id, audience=audience_label(audience), count=sizes.get(audience, 0))


def preview_keyboard(
    broadcast_id: int, audience: str, sizes: dict[str, int]
) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for option, count in sizes.items():
        mark = "✅ " if option == audience else ""
        kb.button(
            text=f"{mark}{audience_label(option)} ({count})",
            callback_data=BroadcastCallback(
                action="audience", broadcast_id=broadcast_id, audience=option
            ),
        )
    kb.adjust(2)
    kb.row(
        InlineKeyboardButton(
            text=_("🚀 Send to {count}").format(count=sizes.get(audience, 0)),
            callback_data=BroadcastCallback(
                action="send", broadcast_id=broadcast_id, audience=audience
            ).pack(),
        ),
        InlineKeyboardButton(
            text=_("✖ Cancel"),
            callback_data=BroadcastCallback(action="drop", broadcast_id=broadcast_id).pack(),
        ),
    )
    return kb.as_markup()


def bar(done: int, total: int) -> str:
    filled = BAR_CELLS if total == 0 else done * BAR_CELLS // total
    percent = 100 if total == 0 else done * 100 // total
    return "▓" * filled + "░" * (BAR_CELLS - filled) + f" {percent}%"


def progress_text(progress: Progress) -> str:
    if progress.status == DONE:
        state = _("done ✅")
    elif progress.status == CANCELLED:
        state = _("stopped ✋")
    else:
        state = _("sending…")
    lines = [
        _("📣 <b>Broadcast #{id}</b> — {state}").format(id=progress.broadcast_id, state=state),
        bar(progress.total - progress.left, progress.total),
        _("Sent: {sent} · Blocked: {blocked} · Failed: {failed} · Left: {left} of {total}").format(
            sent=progress.sent,
            blocked=progress.blocked,
            failed=progress.failed,
            left=progress.left,
            total=progress.total,
        ),
    ]
    if progress.cancelled:
        lines.append(_("Not sent (stopped): {count}").format(count=progress.cancelled))
    return "\n".join(lines)


def progress_keyboard(progress: Progress) -> InlineKeyboardMarkup | None:
    if progress.finished:
        return None
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("✋ Stop"),
        callback_data=BroadcastCallback(action="stop", broadcast_id=progress.broadcast_id),
    )
    return kb.as_markup()


def progress_views(
    i18n: I18n,
) -> Callable[[str | None, Progress], tuple[str, InlineKeyboardMarkup | None]]:
    """The progress message and its buttons in a language, bound to the app's translations:
    what the scheduler's progress job shows."""

    def view(locale: str | None, progress: Progress) -> tuple[str, InlineKeyboardMarkup | None]:
        with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
            return progress_text(progress), progress_keyboard(progress)

    return view


def dropped_text(broadcast_id: int) -> str:
    return _("Broadcast #{id} cancelled; nothing was sent.").format(id=broadcast_id)
