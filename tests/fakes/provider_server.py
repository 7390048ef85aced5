"""FakeProvider: a real loopback HTTP server speaking the canonical Perfect Panel API v2.

Form POST in, HTTP 200 + ``{"error": ...}`` on refusals, numbers as strings — like the panels
most owners connect. Tests (and a bot running as a subprocess) talk to it over real HTTP:

    async with FakeProvider(api_key="test-key") as fp:
        client = SmmApiClient(http, fp.url, "test-key")
        outcome = await client.add(AddRequest(service="1", link="https://x.y/p", quantity=100))
        fp.set_status(outcome.provider_order_id, "Partial", remains=40)
        fp.set_fault("add", "timeout", times=1)   # next add: order created, answer never comes
        fp.respond("status", body={"status": "Cancelled"}, times=1)   # exact canned answer
        assert fp.count("add") == 1 and fp.requests[-1].form["action"] == "status"

Faults (per action, or "*" for all): timeout, http_500, http_500_json, html (Cloudflare 503),
maintenance (200 HTML), malformed_json, empty_body, disconnect, not_enough_funds,
rate_limited (429 + Retry-After), bad_entry (multi status: one id answers an error),
trickle (the answer one byte per ``trickle_interval`` seconds, padded so it never ends), huge
(``huge_bytes`` of whitespace before the answer), endless (whitespace as fast as it goes,
never ending).
For timeout / malformed_json / empty_body / disconnect / trickle / huge the request IS
processed first (an
``add`` creates and charges the order), which is exactly the ambiguous case. For a refused
connection use ``FakeProvider.closed_url()`` or ``await fp.stop()``.

``fp.hold("add")`` keeps every later ``add`` waiting before it is processed, until
``fp.release("add")``; a client that goes away meanwhile (a killed process) leaves nothing
processed. ``fp.held("add")`` counts the requests waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.fakes.perfect_panel import PerfectPanel

FAULTS = frozenset(
    {
        "timeout",
        "http_500",
        "http_500_json",
        "html",
        "maintenance",
        "malformed_json",
        "empty_body",
        "disconnect",
        "not_enough_funds",
        "rate_limited",
        "bad_entry",
        "trickle",
        "huge",
        "endless",
    }
)
_PROCESS_FIRST = frozenset(
    {"timeout", "malformed_json", "empty_body", "disconnect", "trickle", "huge", "endless"}
)
_CLOUDFLARE_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>'
    "<body><noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)
_MAINTENANCE_PAGE = "<html><head><title>Maintenance</title></head><body>Back soon</body></html>"
_ERROR_PAGE = "<html><head><title>500 Internal Server Error</title></head><body></body></html>"


@dataclass
class RecordedRequest:
    """One request as received: its action and every form field (the key included)."""

    action: str
    form: dict[str, str]
    method: str
    query: str  # raw query string: must stay empty, the key never goes in the URL
    headers: dict[str, str]


@dataclass
class CannedResponse:
    """An exact answer (e.g. a fixture's ``response``) served instead of the normal logic."""

    http_status: int = 200
    content_type: str = "application/json"
    body: Any = None
    body_text: str | None = None  # raw text wins over body (HTML, BOM, truncated JSON...)
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1  # None: every request until cleared


class FakeProvider(PerfectPanel):
    """See the module docstring. ``url`` is set once started.

    Panel state and behaviour (``services``, ``orders``, ``refills``, ``balance``,
    ``create_order``, ``set_status``...) come from PerfectPanel.
    """

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        balance: Decimal | str = "100.00",
        currency: str = "USD",
        timeout_sleep: float = 5.0,
        retry_after: str = "1",
        trickle_interval: float = 1.0,
        huge_bytes: int = 5 * 1024 * 1024,
    ) -> None:
        super().__init__(api_key, balance=balance, currency=currency)
        self.timeout_sleep = timeout_sleep  # the "timeout" fault; above the client's read timeout
        self.retry_after = retry_after  # Retry-After of the "rate_limited" fault
        self.trickle_interval = trickle_interval
        self.huge_bytes = huge_bytes
        self.requests: list[RecordedRequest] = []
        self.responses: dict[str, list[CannedResponse]] = defaultdict(list)
        self.faults: dict[str, str] = {}
        self._fault_budget: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._holds: dict[str, asyncio.Event] = {}
        self._held: dict[str, int] = defaultdict(int)
        self.url = ""

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> FakeProvider:
        app = web.Application()
        app.router.add_route("*", "/api/v2", self._handle)
        # handler_cancellation: a client that timed out disconnects and the sleep ends.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/api/v2"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeProvider:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @staticmethod
    def closed_url() -> str:
        """A loopback URL nobody listens on (connection refused)."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}/api/v2"

    # --- test controls --------------------------------------------------------------------

    def count(self, action: str | None = None, **fields: str) -> int:
        """Requests received (of ``action``, optionally only those with these form fields)."""
        return len(self.requests_for(action, **fields))

    def requests_for(self, action: str | None = None, **fields: str) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if (action is None or r.action == action)
            and all(r.form.get(k) == v for k, v in fields.items())
        ]

    def respond(self, action: str, *, times: int | None = 1, **response: Any) -> None:
        """Queue an exact answer for the next ``times`` requests of ``action``."""
        self.responses[action].append(CannedResponse(times=times, **response))

    def serve_fixture(self, fixture: dict[str, Any], *, times: int | None = None) -> None:
        """Serve a provider_fixtures.json entry's ``response`` for its request's action."""
        response = fixture["response"]
        self.respond(
            fixture["request"]["action"],
            times=times,
            http_status=response["http_status"],
            content_type=response["content_type"],
            body=response.get("body"),
            body_text=response.get("body_text"),
            headers=dict(response.get("headers") or {}),
        )

    def set_fault(self, action: str, fault: str, *, times: int | None = None) -> None:
        """Break ``action`` ("*" = every action) for ``times`` requests (None: until cleared)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {sorted(FAULTS)}")
        self.faults[action] = fault
        if times is None:
            self._fault_budget.pop(action, None)
        else:
            self._fault_budget[action] = times

    def hold(self, action: str) -> None:
        """Keep later requests of `action` waiting, unprocessed, until release(action)."""
        self._holds.setdefault(action, asyncio.Event())

    def release(self, action: str) -> None:
        hold = self._holds.pop(action, None)
        if hold is not None:
            hold.set()

    def held(self, action: str) -> int:
        """Requests of `action` waiting in a hold right now."""
        return self._held[action]

    def clear_faults(self) -> None:
        self.faults.clear()
        self._fault_budget.clear()
        self.responses.clear()

    # --- HTTP -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in request.query.items()}
        form.update({k: str(v) for k, v in (await request.post()).items()})
        action = form.get("action", "")
        self.requests.append(
            RecordedRequest(
                action, form, request.method, request.query_string, dict(request.headers)
            )
        )
        hold = self._holds.get(action)
        if hold is not None:
            self._held[action] += 1
            try:
                await hold.wait()  # cancelled with the request if the client goes away
            finally:
                self._held[action] -= 1
        canned = self._take(self.responses.get(action)) or self._take(self.responses.get("*"))
        if canned is not None:
            return _canned(canned)
        fault = self._take_fault(action)
        if fault is None:
            return _json(self.answer(action, form))
        if fault in _PROCESS_FIRST:
            body = self.answer(action, form)
            return await self._broken(request, fault, body)
        if fault == "bad_entry":
            return _json(self.answer(action, form, bad_entry=True))
        return _fault_response(fault, self.retry_after)

    async def _broken(self, request: web.Request, fault: str, body: Any) -> web.StreamResponse:
        if fault == "timeout":
            await asyncio.sleep(self.timeout_sleep)
            return _json(body)
        if fault in ("trickle", "huge", "endless"):
            return await self._stream(request, fault, json.dumps(body).encode())
        if fault == "disconnect":
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=200)
        text = "" if fault == "empty_body" else json.dumps(body)[:-3]
        return web.Response(status=200, text=text, content_type="application/json")

    async def _stream(self, request: web.Request, fault: str, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        if fault == "huge":
            pad = b" " * 65536
            for _ in range(self.huge_bytes // len(pad)):
                await response.write(pad)
            await response.write(body)
        elif fault == "endless":  # never a JSON start: only whitespace, as fast as it goes
            pad = b" " * 65536
            while True:
                await response.write(pad)
        else:  # trickle: the answer, then spaces, one byte at a time, for as long as asked
            for byte in itertools.chain(body, itertools.repeat(ord(" "))):
                await response.write(bytes([byte]))
                await asyncio.sleep(self.trickle_interval)
        await response.write_eof()
        return response

    def _take(self, queue: list[CannedResponse] | None) -> CannedResponse | None:
        if not queue:
            return None
        canned = queue[0]
        if canned.times is not None:
            canned.times -= 1
            if canned.times <= 0:
                queue.pop(0)
        return canned

    def _take_fault(self, action: str) -> str | None:
        key = action if action in self.faults else "*" if "*" in self.faults else None
        if key is None:
            return None
        fault = self.faults[key]
        if key in self._fault_budget:
            self._fault_budget[key] -= 1
            if self._fault_budget[key] <= 0:
                del self._fault_budget[key], self.faults[key]
        return fault


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _canned(canned: CannedResponse) -> web.Response:
    text = canned.body_text if canned.body_text is not None else json.dumps(canned.body)
    headers = {**canned.headers, "Content-Type": canned.content_type}
    return web.Response(status=canned.http_status, body=text.encode("utf-8"), headers=headers)


def _fault_response(fault: str, retry_after: str) -> web.Response:
    if fault == "http_500":
        return web.Response(status=500, text=_ERROR_PAGE, content_type="text/html")
    if fault == "http_500_json":
        return _json({"message": "Server Error"}, status=500)
    if fault == "html":
        headers = {"Server": "cloudflare", "CF-RAY": "8fcb3f8a0cc56750-FRA"}
        return web.Response(
            status=503, text=_CLOUDFLARE_PAGE, content_type="text/html", headers=headers
        )
    if fault == "maintenance":
        return web.Response(status=200, text=_MAINTENANCE_PAGE, content_type="text/html")
    if fault == "rate_limited":
        return web.Response(
            status=429,
            text=json.dumps({"error": "Rate limit exceeded"}),
            content_type="application/json",
            headers={"Retry-After": retry_after},
        )
    if fault == "not_enough_funds":
        return _json({"error": "Not enough funds on balance"})
    raise AssertionError(f"unhandled fault {fault}")
