"""The admin's order buttons: callback data carrying ids, never text."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from handlers.ui import ButtonId


class OrderAction(CallbackData, prefix="adm_ord"):
    # card | resend | resend_ok | refund | refund_ok | status | set
    action: str
    order_id: ButtonId
    value: str = ""


class ReviewPage(CallbackData, prefix="adm_rev"):
    page: ButtonId
