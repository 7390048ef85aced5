"""/stats: orders per status, revenue, provider cost and profit per period."""

from __future__ import annotations

from aiogram import Router, html
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.payment_admin import payment_totals
from core.stats import panel_stats, providers_without_rate
from handlers.admin.common import amount
from handlers.admin.payments import totals_lines
from handlers.admin.stats_chart import answer_with_chart, render_chart


def period_title(period: str) -> str:
    titles = {"today": _("Today (UTC)"), "week": _("Last 7 days"), "all": _("All time")}
    return titles.get(period, period)


async def stats_command(message: Message, session: AsyncSession, currency: str) -> None:
    lines = [_("<b>Panel statistics</b>")]
    for period in await panel_stats(session, currency):
        by_status = ", ".join(
            f"{html.quote(status)} {count}" for status, count in sorted(period.counts.items())
        )
        lines += [
            "",
            f"<b>{period_title(period.period)}</b>",
            _("Orders: {count}").format(count=period.orders)
            + (f" ({by_status})" if by_status else ""),
            _("Revenue: {revenue} {currency} (charges {charges} − refunds {refunds})").format(
                revenue=amount(period.revenue),
                currency=currency,
                charges=amount(period.charges),
                refunds=amount(period.refunds),
            ),
            _("Provider cost: {cost} · Profit: {profit} {currency}").format(
                cost=amount(period.cost), profit=amount(period.profit), currency=currency
            ),
            *totals_lines(await payment_totals(session, period.since), currency),
        ]
        if period.unconverted:
            lines.append(
                _("⚠️ {count} orders' costs are left out: their provider has no rate.").format(
                    count=period.unconverted
                )
            )
    missing = await providers_without_rate(session, currency)
    if missing:
        names = ", ".join(f"{html.quote(p.name)} ({html.quote(p.currency or '')})" for p in missing)
        lines += [
            "",
            _(
                "⚠️ No conversion rate for {providers}: set one with "
                "<code>/providerset NAME fx RATE</code> ({ours} per 1 unit of theirs)."
            ).format(providers=names, ours=currency),
        ]
    await answer_with_chart(message, "\n".join(lines), await render_chart(session, currency))


def create_router() -> Router:
    router = Router(name="admin.stats")
    router.message.register(stats_command, Command("stats"))
    return router
