"""Crypto Pay's webhook (served by the webhook server next to Telegram's updates).

Only a body whose signature checks out (HMAC-SHA256 of the raw body keyed by SHA-256 of the
app token, compared in constant time) is read; anything else is refused with 401 and
logged. A paid invoice is credited exactly once (core.cryptopay_payments.record_crypto_payment), so
Crypto Pay's retries and a concurrent poll of getInvoices change nothing more. A failure
to store answers 500, so Crypto Pay tries again later.
"""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.cryptopay_payments import PaidInvoice, record_crypto_payment
from payments import CryptoPayClient, parse_webhook
from payments.cryptopay import SIGNATURE_HEADER

log = logging.getLogger(__name__)

CRYPTO_PAY_PATH = "/cryptopay/webhook"
MAX_BODY = 64 * 1024  # an update is one invoice: a few KB


def add_crypto_pay_route(
    web_app: web.Application,
    client: CryptoPayClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    currency: str,
    admin_ids: frozenset[int],
) -> None:
    async def crypto_pay_update(request: web.Request) -> web.Response:
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            log.warning("Crypto Pay webhook: body over %d bytes refused", MAX_BODY)
            return web.json_response({"ok": False}, status=413)
        if not client.verify(body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("Crypto Pay webhook: bad signature from %s refused", request.remote)
            return web.json_response({"ok": False}, status=401)
        update_type, invoice = parse_webhook(body)
        if update_type != "invoice_paid" or invoice is None or invoice.status != "paid":
            log.info("Crypto Pay webhook: %s ignored", update_type)
            return web.json_response({"ok": True})
        async with sessionmaker() as session:
            outcome = await record_crypto_payment(
                session,
                PaidInvoice.of(invoice),
                panel_currency=currency,
                admin_ids=admin_ids,
            )
        log.info("Crypto Pay invoice %s: %s", invoice.invoice_id, outcome.result)
        return web.json_response({"ok": True})

    web_app.router.add_post(CRYPTO_PAY_PATH, crypto_pay_update)
