"""FakeCryptoPay: a loopback HTTP server speaking the Crypto Pay API (CryptoBot) as it does.

    async with FakeCryptoPay(token="1:AA") as cp:
        client = CryptoPayClient(http, "1:AA", api_url=cp.url)
        invoice = await client.create_invoice(...)
        cp.pay(invoice.invoice_id, asset="USDT")          # the customer paid in the bot
        await cp.deliver_webhook(url, invoice.invoice_id)  # signed like Crypto Pay signs
        cp.set_fault("getInvoices", "timeout", times=1)

What it reproduces: GET or POST ``/api/<method>`` with params in the query, a form or
JSON; the token in the ``Crypto-Pay-API-Token`` header (else 401 UNAUTHORIZED); every
answer in an ``{"ok": …}`` envelope; amounts as strings with the service's own formatting
(``"10"`` for 10.00); invoice ids as numbers; getInvoices newest first, filtered by
``invoice_ids`` and ``status``; webhook updates signed with HMAC-SHA256 of the raw body keyed
by SHA-256 of the token. Faults: timeout (the call is processed, the answer never comes),
http_500, garbage (HTML), huge (a body over the client's cap).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web

FAULTS = frozenset({"timeout", "http_500", "garbage", "huge"})


@dataclass
class Request:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class _Fault:
    kind: str
    times: int


@dataclass
class FakeCryptoPay:
    token: str = "4321:AAfakeCryptoPayToken"
    timeout_sleep: float = 30.0
    url: str = ""
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    webhook_answers: list[int] = field(default_factory=list)
    _faults: dict[str, list[_Fault]] = field(default_factory=dict)
    _next_id: int = 1000
    _update_id: int = 1
    _runner: web.AppRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> FakeCryptoPay:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeCryptoPay:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- what tests do -----------------------------------------------------------------

    def set_fault(self, method: str, kind: str, times: int = 1) -> None:
        assert kind in FAULTS, kind
        self._faults.setdefault(method, []).append(_Fault(kind, times))

    def count(self, method: str) -> int:
        return sum(1 for r in self.requests if r.method == method)

    def pay(self, invoice_id: int | str, asset: str = "USDT", paid_amount: str = "10.02") -> dict:
        """The customer paid the invoice in @CryptoBot."""
        invoice = self.invoices[int(invoice_id)]
        assert invoice["status"] == "active", invoice["status"]
        invoice.update(
            status="paid",
            paid_asset=asset,
            paid_amount=paid_amount,
            paid_at=_iso(datetime.now(UTC)),
            paid_anonymously=False,
            paid_usd_rate="1.0",
            fee_asset=asset,
            fee_amount="0.03",
        )
        return invoice

    def expire(self, invoice_id: int | str) -> None:
        self.invoices[int(invoice_id)]["status"] = "expired"

    def add_foreign_paid_invoice(self, amount: str = "7", fiat: str = "USD") -> int:
        """An invoice of this app the bot never created (e.g. made by hand), already paid."""
        invoice = self._new_invoice({"amount": amount, "fiat": fiat, "currency_type": "fiat"})
        self.pay(invoice["invoice_id"])
        return invoice["invoice_id"]

    def signed_update(
        self, invoice_id: int | str, *, signature: str = "good"
    ) -> tuple[bytes, dict]:
        """An invoice_paid update as Crypto Pay posts it; signature good | bad | missing."""
        body = json.dumps(
            {
                "update_id": self._update_id,
                "update_type": "invoice_paid",
                "request_date": _iso(datetime.now(UTC)),
                "payload": self.invoices[int(invoice_id)],
            }
        ).encode()
        self._update_id += 1
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers["crypto-pay-api-signature"] = sign(self.token, body)
        elif signature == "bad":
            headers["crypto-pay-api-signature"] = sign("other:token", body)
        return body, headers

    async def deliver_webhook(
        self, url: str, invoice_id: int | str, *, signature: str = "good", body: bytes | None = None
    ) -> int:
        """POST the update to the bot's webhook; returns the HTTP status it answered."""
        update, headers = self.signed_update(invoice_id, signature=signature)
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=body if body is not None else update, headers=headers) as response,
        ):
            self.webhook_answers.append(response.status)
            return response.status

    # --- the API -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                params |= await request.json()
            else:
                params |= dict(await request.post())
        self.requests.append(Request(method, params, dict(request.headers)))
        if request.headers.get("Crypto-Pay-API-Token") != self.token:
            return _error(401, "UNAUTHORIZED")
        handler = {
            "getMe": self._get_me,
            "createInvoice": self._create_invoice,
            "getInvoices": self._get_invoices,
        }.get(method)
        if handler is None:
            return _error(405, "METHOD_NOT_FOUND")
        fault = self._take_fault(method)
        if fault == "http_500":
            return web.Response(status=500, text="<html>Internal Server Error</html>")
        if fault == "garbage":
            return web.Response(status=200, text="<html>maintenance</html>")
        if fault == "huge":
            return web.Response(status=200, body=b"{" + b" " * 3_000_000 + b"}")
        answer = handler(params)
        if fault == "timeout":
            await asyncio.sleep(self.timeout_sleep)
        return answer

    def _take_fault(self, method: str) -> str | None:
        faults = self._faults.get(method) or []
        if not faults:
            return None
        fault = faults[0]
        fault.times -= 1
        if fault.times <= 0:
            faults.pop(0)
        return fault.kind

    def _get_me(self, _params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "app_id": 1,
                "name": "Test panel",
                "payment_processing_bot_username": "CryptoTestnetBot",
            }
        )

    def _create_invoice(self, params: dict[str, Any]) -> web.Response:
        if params.get("currency_type") == "fiat":
            if not params.get("fiat"):
                return _error(400, "FIAT_REQUIRED")
        elif not params.get("asset"):
            return _error(400, "ASSET_REQUIRED")
        try:
            amount = Decimal(str(params.get("amount")))
        except ArithmeticError:
            return _error(400, "AMOUNT_INVALID")
        if amount <= 0:
            return _error(400, "AMOUNT_TOO_SMALL")
        if len(str(params.get("payload") or "")) > 4096:
            return _error(400, "PAYLOAD_TOO_LONG")
        return _ok(self._new_invoice(params))

    def _new_invoice(self, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        invoice_id = self._next_id
        invoice_hash = f"IV{invoice_id}x{int(time.time())}"
        now = datetime.now(UTC)
        invoice: dict[str, Any] = {
            "invoice_id": invoice_id,
            "hash": invoice_hash,
            "currency_type": params.get("currency_type", "crypto"),
            "amount": _plain(Decimal(str(params["amount"]))),
            "bot_invoice_url": f"https://t.me/CryptoTestnetBot?start={invoice_hash}",
            "mini_app_invoice_url": f"https://t.me/CryptoTestnetBot/app?startapp=invoice-{invoice_hash}",
            "web_app_invoice_url": f"https://testnet-app.send.tg/invoices/{invoice_hash}",
            "status": "active",
            "created_at": _iso(now),
            "allow_comments": params.get("allow_comments") not in (False, "false"),
            "allow_anonymous": True,
        }
        if invoice["currency_type"] == "fiat":
            invoice["fiat"] = params.get("fiat")
            invoice["accepted_assets"] = str(params.get("accepted_assets") or "USDT").split(",")
        else:
            invoice["asset"] = params.get("asset")
        for key in ("description", "payload"):
            if params.get(key):
                invoice[key] = params[key]
        if params.get("expires_in"):
            expires = now + timedelta(seconds=int(params["expires_in"]))
            invoice["expiration_date"] = _iso(expires)
        self.invoices[invoice_id] = invoice
        return invoice

    def _get_invoices(self, params: dict[str, Any]) -> web.Response:
        items = sorted(self.invoices.values(), key=lambda i: -i["invoice_id"])
        if params.get("invoice_ids"):
            wanted = {int(x) for x in str(params["invoice_ids"]).split(",") if x.strip()}
            items = [i for i in items if i["invoice_id"] in wanted]
        if params.get("status"):
            items = [i for i in items if i["status"] == params["status"]]
        count = int(params.get("count") or 100)
        offset = int(params.get("offset") or 0)
        return _ok({"items": items[offset : offset + count]})


def sign(token: str, body: bytes) -> str:
    return hmac.new(hashlib.sha256(token.encode()).digest(), body, hashlib.sha256).hexdigest()


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, name: str) -> web.Response:
    return web.json_response({"ok": False, "error": {"code": code, "name": name}}, status=code)


def _plain(amount: Decimal) -> str:
    """Crypto Pay's formatting: no trailing zeros ("10", "10.5")."""
    text = f"{amount.normalize():f}"
    return text


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
