"""/massorder's texts and its keyboard: the prompt, the preview, the placed orders."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from aiogram import html
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.links import PLATFORM_NAMES
from core.mass_order import MAX_LINES, MassLine, MassPreview
from core.money import ZERO
from core.statuses import OrderStatus
from handlers.mass_order.callbacks import MassCallback
from handlers.order_views import failure_reason, status_label
from handlers.ui import clip, money_text


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
        "needs_chat": _("this service asks for more details; order it with /neworder"),
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


def placed_text(view: dict[str, Any], currency: str) -> str:
    """One message of a mass confirmation (core.mass_order.page_view): as Confirm answers
    it, and as the providers' answers edit it (each line's outcome in plain words)."""
    lines = []
    if view.get("count") is not None:
        lines.append(_("✅ Mass order placed: {count} orders.").format(count=view["count"]))
    refunded, review = ZERO, False
    for item in view.get("lines") or []:
        status = str(item.get("status") or "")
        line = (
            f"#{item.get('order_id')} · {html.quote(clip(str(item.get('service') or ''), 40))}"
            f" — {status_label(status)}"
        )
        if status == OrderStatus.FAILED:
            line += f": {failure_reason(item.get('error_code'))}"
        lines.append(line)
        refunded += _amount(item.get("refunded"))
        review = review or status == OrderStatus.REVIEW
    if refunded > 0:
        lines.append(
            _("{amount} was returned to your balance for the failed ones.").format(
                amount=money_text(refunded, currency)
            )
        )
    if review:
        lines.append(_("Orders awaiting review are checked by hand first; you will get a message."))
    return "\n".join(lines)


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ZERO


def stale_text() -> str:
    return _("This preview is no longer active. Send /massorder again.")
