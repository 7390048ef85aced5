"""/help: every customer command, and what a link looks like on each platform."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from core.links import PLATFORM_NAMES

# What customers paste, per platform: a profile and a post (each passes core.links).
LINK_EXAMPLES: dict[str, tuple[str, ...]] = {
    "instagram": (
        "https://www.instagram.com/username/",
        "https://www.instagram.com/p/C1a2B3c4D5e/",
    ),
    "tiktok": (
        "https://www.tiktok.com/@username",
        "https://www.tiktok.com/@username/video/7301234567890123456",
    ),
    "youtube": ("https://www.youtube.com/@channel", "https://youtu.be/dQw4w9WgXcQ"),
    "telegram": ("https://t.me/channel", "https://t.me/channel/123"),
    "twitter": ("https://x.com/username", "https://x.com/username/status/1720000000000000000"),
    "facebook": ("https://www.facebook.com/page", "https://www.facebook.com/page/posts/123456789"),
    "spotify": ("https://open.spotify.com/artist/0TnOYISbd1XYRBk9myaseg",),
    "twitch": ("https://www.twitch.tv/channel",),
    "threads": ("https://www.threads.net/@username",),
}


def help_text() -> str:
    lines = [
        _("<b>How to order</b>"),
        _("1. 🛒 New order → pick a category and a service (or type a word to search)."),
        _("2. Send the link, then the quantity."),
        _("3. Check the price and confirm. Your balance is charged and the order starts."),
        _("You get a message on every status change; 🔁 Order again repeats an order."),
        "",
        _("<b>Commands</b>"),
        _("/neworder: place an order"),
        _("/search WORDS: find a service, e.g. /search instagram likes"),
        _("/orders: your orders and their status"),
        _("/balance: your balance and recent payments"),
        _("/paysupport: help with a payment"),
        _("/massorder: many orders at once"),
        _("/referrals: your invite link and what it earned"),
        _("/support: ask us a question"),
        _("/language: change the language"),
        _("/cancel: leave the current step"),
        "",
        _("<b>What a link looks like</b>"),
    ]
    for platform, examples in LINK_EXAMPLES.items():
        lines.append(f"{PLATFORM_NAMES[platform]}: " + " · ".join(examples))
    lines.append(_("Followers and subscribers of Instagram, TikTok, Telegram, X, Threads and "
                   "Twitch also take a plain @username."))  # fmt: skip
    return "\n".join(lines)
