"""Top-up jobs: find paid Crypto Pay invoices by polling (the only way in polling mode, a
safety net beside the webhook) and mark invoices whose time ran out.

Both are safe on several replicas: crediting is exactly-once per invoice in core, and
expiry is a conditional UPDATE from pending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.cryptopay_payments import PaidInvoice, record_crypto_payment
from core.payment_sync import (
    expire_crypto_invoice,
    expire_overdue,
    open_crypto_invoice_ids,
    settled_crypto_invoice_ids,
)
from core.payments import Credit
from payments import CryptoInvoice, CryptoPayClient

log = logging.getLogger(__name__)

RECENT_PAID = 100  # the newest paid invoices, checked every poll


@dataclass
class PollReport:
    checked: int = 0
    credited: int = 0
    expired: int = 0
    unmatched: int = 0


async def poll_crypto_invoices(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: CryptoPayClient,
    *,
    currency: str,
    admin_ids: frozenset[int],
) -> PollReport:
    """Our open invoices by id, plus the newest paid ones (an invoice paid after we marked
    it expired, or created although createInvoice timed out, is found there too)."""
    async with sessionmaker() as session:
        open_ids = await open_crypto_invoice_ids(session)
    invoices: list[CryptoInvoice] = []
    if open_ids:
        invoices += await client.get_invoices(open_ids)
    invoices += await client.get_invoices(status="paid", count=RECENT_PAID)
    report = PollReport()
    async with sessionmaker() as session:
        paid_ids = [i.invoice_id for i in invoices if i.status == "paid"]
        settled = await settled_crypto_invoice_ids(session, paid_ids)
        seen: set[str] = set()
        for invoice in invoices:
            if invoice.invoice_id in seen or invoice.invoice_id in settled:
                continue
            seen.add(invoice.invoice_id)
            report.checked += 1
            if invoice.status == "expired":
                report.expired += await expire_crypto_invoice(session, invoice.invoice_id)
            elif invoice.status == "paid":
                outcome = await record_crypto_payment(
                    session,
                    PaidInvoice.of(invoice),
                    panel_currency=currency,
                    admin_ids=admin_ids,
                )
                report.credited += outcome.result == Credit.CREDITED
                report.unmatched += outcome.result == Credit.UNMATCHED
    return report


async def expire_payments(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return await expire_overdue(session)
