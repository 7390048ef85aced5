"""What reaches the bot from the fake Bot API (telegram_server.py): the queue of updates users
made, fetched by a getUpdates long poll, or not at all while a webhook is set.

As in Telegram: updates outside allowed_updates are never delivered (kept in
`filtered_updates` so a failed wait can say why), drop_pending_updates drops the queue, and a
second getUpdates terminates the one still waiting.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.telegram_wire import TERMINATED, ApiError, api

# Telegram's default when allowed_updates was never given or was an empty list.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdateQueue:
    """The FakeTelegram side that holds updates until the bot confirms them by an offset."""

    _notify: Callable[[], None]
    wait_for: Callable[..., Awaitable[Any]]

    def __init__(self) -> None:
        super().__init__()
        self.filtered_updates: list[dict[str, Any]] = []  # dropped by allowed_updates
        self.webhook_url = ""
        self.webhook_allowed_updates: list[str] | None = None
        self._updates: list[dict[str, Any]] = []  # not yet confirmed by an offset
        self._update_ids = itertools.count(1)
        self._allowed_updates: set[str] | None = None
        self._poll_generation = 0
        self._stopping = False

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    def enqueue_update(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Used by FakeUser: one update of `kind` (message, callback_query...) for the bot."""
        update = {"update_id": next(self._update_ids), kind: body}
        self._updates.append(update)
        self._notify()
        return update

    def describe_updates(self) -> list[str]:
        """Why nothing reached the bot, if that is so (for a failed wait's message)."""
        lines = []
        if self._updates:
            lines.append(f"{len(self._updates)} update(s) not yet fetched: is the bot polling?")
        if self.filtered_updates:
            kinds = sorted({update_kind(u) for u in self.filtered_updates})
            lines.append(
                f"dropped by allowed_updates={sorted(self._allowed_updates or [])}: {kinds}"
            )
        return lines

    @api("getUpdates")
    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self._allowed_updates = set(params["allowed_updates"] or []) or None
        offset = params.get("offset")
        if offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older waiting getUpdates is terminated, as Telegram does
        timeout = min(float(params.get("timeout", 0)), 50.0)
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        await self.wait_for(
            lambda: self._stopping or generation != self._poll_generation or self._deliverable(),
            timeout,
        )
        if generation != self._poll_generation:
            raise ApiError(409, TERMINATED)
        return self._deliverable()[:limit]

    def _deliverable(self) -> list[dict[str, Any]]:
        wanted = []
        for update in self._updates:
            kind = update_kind(update)
            if self._allowed_updates is None:
                allowed = kind not in _OPT_IN_UPDATES
            else:
                allowed = kind in self._allowed_updates
            (wanted if allowed else self.filtered_updates).append(update)
        self._updates = wanted
        return wanted

    def _drop_pending(self, params: dict[str, Any]) -> None:
        if params.get("drop_pending_updates"):
            self._updates.clear()

    @api("setWebhook")
    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = params.get("url") or ""
        self.webhook_allowed_updates = params.get("allowed_updates")
        self._drop_pending(params)
        return True

    @api("deleteWebhook")
    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        self._drop_pending(params)
        return True

    @api("getWebhookInfo")
    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_allowed_updates:
            info["allowed_updates"] = self.webhook_allowed_updates
        return info


def update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")
