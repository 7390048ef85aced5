"""/massorder: many `service_id | link | quantity` lines, a preview, one Confirm (SPEC §3).

The preview stores only the valid drafts (ids, links, quantities) and a nonce; Confirm places
them all with core.mass_order.place_mass_order (one balance check for the total, idempotent on
a double tap) and shows them; the providers' answers edit that confirmation (see confirm).
Handlers live in preview and confirm; create_router registers them.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter

from handlers.mass_order import confirm, preview
from handlers.mass_order.callbacks import MassCallback, MassOrderFlow
from handlers.ui import NOT_A_COMMAND

IN_FLOW = StateFilter(MassOrderFlow.lines, MassOrderFlow.confirm)


def create_router() -> Router:
    router = Router(name="mass_order")
    router.message.register(preview.mass_order, Command("massorder"))
    router.message.register(preview.lines_sent, IN_FLOW, F.text, NOT_A_COMMAND)
    router.message.register(preview.wrong_input, IN_FLOW, NOT_A_COMMAND)
    router.callback_query.register(preview.cancel_button, MassCallback.filter(F.action == "cancel"))
    router.callback_query.register(confirm.confirm, MassCallback.filter(F.action == "confirm"))
    return router
