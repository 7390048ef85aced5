"""The /stats chart: a PNG drawn with matplotlib (Agg, object API) from core.stats_daily.

`draw` is a plain function of its arguments, run in a worker thread (asyncio.to_thread) so
the event loop never waits for it; it builds its own Figure (pyplot's global state is not
thread-safe) and returns the PNG bytes. Words come in already translated: the thread has no
locale context.
"""

from __future__ import annotations

import asyncio
import html as html_lib
import io
import logging
import re
from dataclasses import dataclass

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.stats_daily import Series, daily_series

log = logging.getLogger(__name__)

WIDTH, HEIGHT, DPI = 10.0, 7.5, 100  # 1000 × 750 px: sharp in Telegram, ~60 KB


@dataclass(frozen=True)
class ChartWords:
    title: str
    orders: str
    revenue: str
    profit: str
    top_services: str
    no_orders: str
    currency: str


def draw(series: Series, words: ChartWords) -> bytes:
    """PNG bytes of: orders per day (bars), revenue and profit per day (lines), and the top
    services by revenue (horizontal bars). Plot coordinates are floats; no money is
    computed from them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    daily, top = figure.subplots(2, 1, height_ratios=[3, 2])
    labels = [day.day.strftime("%d.%m") for day in series.days]
    positions = list(range(len(labels)))

    daily.set_title(words.title)
    daily.bar(positions, [day.orders for day in series.days], color="#9ecae1", label=words.orders)
    daily.set_ylabel(words.orders)
    daily.set_xticks(positions[::3], labels[::3])
    money = daily.twinx()
    money.plot(positions, [float(day.revenue) for day in series.days], color="#08519c",
               marker="o", markersize=3, label=words.revenue)  # fmt: skip
    money.plot(positions, [float(day.profit) for day in series.days], color="#31a354",
               marker="o", markersize=3, label=words.profit)  # fmt: skip
    money.axhline(0, color="#999999", linewidth=0.5)
    money.set_ylabel(words.currency)
    handles = daily.get_legend_handles_labels()[0] + money.get_legend_handles_labels()[0]
    daily.legend(handles=handles, loc="upper left", fontsize="small")

    top.set_title(words.top_services)
    if series.top:
        names = [_short(service.name) for service in series.top][::-1]
        revenue = [float(service.revenue) for service in series.top][::-1]
        bars = top.barh(range(len(names)), revenue, color="#6baed6")
        top.set_yticks(range(len(names)), names)
        top.bar_label(bars, labels=[f"{service.orders}" for service in series.top][::-1], padding=3)
        top.set_xlabel(words.currency)
    else:
        top.text(0.5, 0.5, words.no_orders, ha="center", va="center", transform=top.transAxes)
        top.set_axis_off()

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _short(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


CAPTION_LIMIT = 1024  # Telegram's, in visible characters
DRAW_TIMEOUT = 20.0


def chart_words(currency: str) -> ChartWords:
    """In the current locale (call it in the handler, not in the drawing thread)."""
    return ChartWords(
        title=_("Last 30 days (UTC)"),
        orders=_("Orders"),
        revenue=_("Revenue"),
        profit=_("Profit"),
        top_services=_("Top services by revenue (bar label: orders)"),
        no_orders=_("No orders in the last 30 days"),
        currency=currency,
    )


async def render_chart(session: AsyncSession, currency: str) -> bytes | None:
    """The PNG, drawn off the event loop; None when it cannot be drawn (the caller then
    answers with text only)."""
    try:
        series = await daily_series(session, currency=currency)
        words = chart_words(currency)
        return await asyncio.wait_for(asyncio.to_thread(draw, series, words), DRAW_TIMEOUT)
    except Exception:
        log.exception("the /stats chart could not be drawn; answering with text")
        return None


async def answer_with_chart(message: Message, summary: str, png: bytes | None) -> None:
    """The chart with the summary as caption (or right under it when too long for one);
    the summary alone when there is no chart or Telegram refuses the photo."""
    if png is not None:
        photo = BufferedInputFile(png, filename="stats.png")
        fits = len(html_to_plain(summary)) <= CAPTION_LIMIT
        try:
            await message.answer_photo(photo, caption=summary if fits else None)
            if fits:
                return
        except TelegramBadRequest:
            log.exception("Telegram refused the /stats chart; answering with text")
    await message.answer(summary)


def html_to_plain(text: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", "", text))
