"""The admin console (SPEC §4): every command here is for ADMIN_IDS only.

The IsAdmin filter sits on this parent router, so it guards every sub-router; anyone else
falls through to the customer routers and finally to fallback, getting exactly what an
unknown command gets.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.admin import catalog, mappings, money, orders, payments, providers, stats
from handlers.admin.filters import IsAdmin
from handlers.broadcast import admin as broadcast
from handlers.referrals import admin as referrals
from handlers.support import admin as support


def admin_help_text() -> str:
    return "\n".join(
        [
            _("<b>Admin console</b>"),
            "",
            _("<b>Providers</b>"),
            _("/addprovider NAME API_URL API_KEY [THRESHOLD]: connect (checks the key at once)"),
            _("/providerset NAME on|off|threshold AMOUNT|fx RATE"),
            _("/providers: balances, errors, services mapped"),
            _("/check [NAME]: Auto Order health check"),
            _("/errors [NAME]: recent provider errors"),
            "",
            _("<b>Catalogue</b>"),
            _("/import NAME MARKUP_PERCENT: import or update a provider's services"),
            _("/services [CATEGORY]: services with their IDs and mapping"),
            _("/map SERVICE_ID NAME PROVIDER_SERVICE_ID [PRIORITY]: map (2, 3 ...: backups)"),
            _("/unmap SERVICE_ID NAME PROVIDER_SERVICE_ID"),
            _("/setprice SERVICE_ID PRICE_PER_1000 [force]"),
            _("/service SERVICE_ID [on|off|manual|auto]: show or switch a service"),
            "",
            _("<b>Customers and orders</b>"),
            _("/topup USER_ID AMOUNT [note]: credit (negative: debit)"),
            _("/user USER_ID · /order ORDER_ID"),
            _("/review: orders waiting for you"),
            _("/resend ORDER_ID · /refund ORDER_ID [AMOUNT]"),
            _("/setstatus ORDER_ID STATUS [REMAINS]"),
            _("/stats: orders, revenue, cost, profit"),
            "",
            _("<b>Payments</b>"),
            _("/payments [USER_ID]: recent top-ups, method, amount, status"),
            _("/refundpayment CHARGE_ID: give Telegram Stars back (only if not spent)"),
            "",
            _("<b>Growth and support</b>"),
            _("/tickets: open support tickets; reply to a ticket message to answer"),
            _("/reply TICKET_ID TEXT: answer a ticket"),
            _("/broadcast: message every customer (with progress, stoppable)"),
            _("/referrers [percent P | admintopups on|off]: referral terms, top referrers"),
        ]
    )


async def admin_help(message: Message) -> None:
    await message.answer(admin_help_text())


def create_router() -> Router:
    router = Router(name="admin")
    router.message.filter(IsAdmin())
    router.callback_query.filter(IsAdmin())
    router.message.register(admin_help, Command("admin"))
    router.include_routers(
        providers.create_router(),
        catalog.create_router(),
        mappings.create_router(),
        money.create_router(),
        payments.create_router(),
        orders.create_router(),
        stats.create_router(),
        support.create_router(),
        broadcast.create_router(),
        referrals.create_router(),
    )
    return router


__all__ = ["IsAdmin", "create_router"]
