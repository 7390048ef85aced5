"""A loopback SMM panel (API v2) for the benchmarks, run as its own process.

    python -m bench.fake_provider            # prints "port N" once listening on 127.0.0.1

It runs outside the bot's process so that the bot's CPU time is the bot's alone. Orders
are numbered 1, 2, 3 ...; every order answers the status of the current *phase*, set with
``POST /control {"phase": ...}``: ``pending``, ``progress`` (In progress), ``finish`` (odd
ids Partial with 250 remains, even ids Completed). ``{"seed": N}`` makes orders 1..N exist
(for the status-sync benchmarks); ``{"trickle": true}`` answers one byte per second (a slow
provider). Answers come at once otherwise: the figures measure the bot, not the fake.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aiohttp import web

API_PATH = "/api/v2"
SERVICE = {
    "service": 1,
    "name": "Followers",
    "type": "Default",
    "category": "Instagram",
    "rate": "0.90",
    "min": "10",
    "max": "100000",
    "refill": False,
    "cancel": False,
}


class BenchProvider:
    """The panel's state: how many orders exist and the phase every order reports."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.last_id = 0
        self.phase = "pending"
        self.trickle = False
        self.counts: dict[str, int] = {}

    def status_of(self, order_id: int) -> dict[str, Any]:
        status, remains, start = "Pending", 1000, 0
        if self.phase == "progress":
            status, remains, start = "In progress", 1000, 5
        elif self.phase == "finish":
            status, remains, start = ("Partial", 250, 5) if order_id % 2 else ("Completed", 0, 5)
        return {
            "charge": "0.9",
            "start_count": str(start),
            "status": status,
            "remains": str(remains),
            "currency": "USD",
        }

    def answer(self, form: dict[str, str]) -> Any:
        if form.get("key") != self.api_key:
            return {"error": "Invalid API key"}
        action = form.get("action", "")
        self.counts[action] = self.counts.get(action, 0) + 1
        if action == "add":
            self.last_id += 1
            return {"order": self.last_id}
        if action == "status" and "orders" in form:
            return {
                raw: self._one(raw) for raw in form["orders"].split(",") if raw.strip()
            }  # fmt: skip
        if action == "status":
            return self._one(form.get("order", ""))
        if action == "services":
            return [SERVICE]
        if action == "balance":
            return {"balance": "1000000.00", "currency": "USD"}
        return {"error": "Incorrect request"}

    def _one(self, raw: str) -> dict[str, Any]:
        order_id = int(raw) if raw.strip().isdigit() else 0
        if not 0 < order_id <= self.last_id:
            return {"error": "Incorrect order ID"}
        return self.status_of(order_id)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form = {key: str(value) for key, value in (await request.post()).items()}
        body = json.dumps(self.answer(form)).encode()
        if not self.trickle:
            return web.Response(body=body, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        for byte in body:
            await response.write(bytes([byte]))
            await asyncio.sleep(1.0)
        return response

    async def control(self, request: web.Request) -> web.Response:
        command = await request.json()
        if "seed" in command:
            self.last_id = max(self.last_id, int(command["seed"]))
        if "phase" in command:
            self.phase = str(command["phase"])
        if "trickle" in command:
            self.trickle = bool(command["trickle"])
        return web.json_response({"last_id": self.last_id, "counts": self.counts})


async def serve(api_key: str) -> None:
    panel = BenchProvider(api_key)
    app = web.Application()
    app.router.add_post(API_PATH, panel.handle)
    app.router.add_post("/control", panel.control)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1] if len(sys.argv) > 1 else "bench-key"))
