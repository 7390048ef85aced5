"""Link validation: the URL shape and the platform of the category (SPEC §3, step 3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

PLATFORM_HOSTS: dict[str, tuple[str, ...]] = {
    "instagram": ("instagram.com", "instagr.am"),
    "tiktok": ("tiktok.com",),
    "youtube": ("youtube.com", "youtu.be"),
    "telegram": ("t.me", "telegram.me", "telegram.dog"),
    "twitter": ("x.com", "twitter.com"),
    "facebook": ("facebook.com", "fb.com", "fb.watch"),
    "spotify": ("spotify.com",),
    "twitch": ("twitch.tv",),
    "threads": ("threads.net", "threads.com"),
    "linkedin": ("linkedin.com",),
    "discord": ("discord.gg", "discord.com"),
    "soundcloud": ("soundcloud.com",),
    "vk": ("vk.com",),
}
PLATFORM_NAMES = {
    "instagram": "Instagram",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "telegram": "Telegram",
    "twitter": "X (Twitter)",
    "facebook": "Facebook",
    "spotify": "Spotify",
    "twitch": "Twitch",
    "threads": "Threads",
    "linkedin": "LinkedIn",
    "discord": "Discord",
    "soundcloud": "SoundCloud",
    "vk": "VK",
}
# Where a plain username becomes a profile link.
PROFILE_URLS = {
    "instagram": "https://www.instagram.com/{}/",
    "tiktok": "https://www.tiktok.com/@{}",
    "telegram": "https://t.me/{}",
    "twitter": "https://x.com/{}",
    "threads": "https://www.threads.net/@{}",
    "twitch": "https://www.twitch.tv/{}",
}
_KEYWORDS = {
    "instagram": ("instagram", "insta", "ig "),
    "tiktok": ("tiktok", "tik tok"),
    "youtube": ("youtube", "yt "),
    "telegram": ("telegram",),
    "twitter": ("twitter", " x ", "x.com", "tweet"),
    "facebook": ("facebook", "fb "),
    "spotify": ("spotify",),
    "twitch": ("twitch",),
    "threads": ("threads",),
    "linkedin": ("linkedin",),
    "discord": ("discord",),
    "soundcloud": ("soundcloud",),
    "vk": ("vk ", "vkontakte"),
}
_PROFILE_WORDS = ("follower", "subscriber", "member", "friend")
_USERNAME = re.compile(r"^@?([A-Za-z0-9_.]{2,64})$")
MAX_LINK_LENGTH = 2000


def guess_platform(*names: str | None) -> str | None:
    """instagram / tiktok / ... from a category or service name, else None (any URL)."""
    text = " " + " ".join(n for n in names if n).lower() + " "
    for platform, words in _KEYWORDS.items():
        if any(word in text for word in words):
            return platform
    return None


def accepts_username(service_name: str, platform: str | None) -> bool:
    """Profile services (followers, subscribers, members) take a plain @username too."""
    return platform in PROFILE_URLS and any(w in service_name.lower() for w in _PROFILE_WORDS)


def example_host(platform: str | None) -> str | None:
    """The host a customer would recognise for a platform ("instagram.com"), else None."""
    hosts = PLATFORM_HOSTS.get(platform or "")
    return hosts[0] if hosts else None


@dataclass(frozen=True)
class LinkCheck:
    link: str | None  # the normalised link to order with, when valid
    problem: str | None = None  # not_a_link | wrong_platform | too_long


def check_link(text: str, platform: str | None, *, username_ok: bool = False) -> LinkCheck:
    text = text.strip()
    if len(text) > MAX_LINK_LENGTH:
        return LinkCheck(None, "too_long")
    if username_ok and platform and (m := _USERNAME.match(text)) and "." not in m.group(1)[:1]:
        return LinkCheck(PROFILE_URLS[platform].format(m.group(1)))
    candidate = text if "://" in text else f"https://{text}"
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return LinkCheck(None, "not_a_link")
    host = (parts.hostname or "").lower()
    # urlsplit silently drops tabs and newlines: two links pasted together are not one link.
    if parts.scheme not in ("http", "https") or "." not in host or any(c.isspace() for c in text):
        return LinkCheck(None, "not_a_link")
    if platform and platform in PLATFORM_HOSTS:
        allowed = PLATFORM_HOSTS[platform]
        if not any(host == h or host.endswith("." + h) for h in allowed):
            return LinkCheck(None, "wrong_platform")
    return LinkCheck(candidate)
