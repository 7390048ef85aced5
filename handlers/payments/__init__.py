"""Self-service top-ups in the chat (SPEC §10): the top-up flow and Telegram Stars checkout.

The Crypto Pay webhook endpoint (handlers.payments.crypto_webhook) is mounted by the
webhook server; admin commands live in handlers.admin.payments.
"""

from __future__ import annotations

from aiogram import Router

from handlers.payments import checkout, support, topup


def create_router() -> Router:
    router = Router(name="payments")
    router.include_routers(checkout.create_router(), support.create_router(), topup.create_router())
    return router
