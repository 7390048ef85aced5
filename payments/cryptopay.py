"""A small Crypto Pay API client on the project's shared httpx pool.

Wire facts (Crypto Pay API, help.send.tg): ``POST {base}/api/{method}`` with the app token
in the ``Crypto-Pay-API-Token`` header; every answer is ``{"ok": true, "result": …}`` or
``{"ok": false, "error": {"code": N, "name": "…"}}``. Amounts are strings. An invoice priced
in fiat (``currency_type=fiat``, ``fiat``, ``accepted_assets``) is paid in any accepted
asset, so the panel credits exactly the fiat amount. Webhook updates carry
``crypto-pay-api-signature`` = hex HMAC-SHA256 of the raw body keyed by SHA-256 of the token.

Every call has an overall deadline and a cap on the answer's size; the token never appears
in a log line or an exception text.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://pay.crypt.bot"
TESTNET_API_URL = "https://testnet-pay.crypt.bot"
SIGNATURE_HEADER = "crypto-pay-api-signature"
TOKEN_HEADER = "Crypto-Pay-API-Token"
MAX_ANSWER_BYTES = 2_000_000  # 1000 invoices are ~1 MB
MAX_IDS_PER_CALL = 100
STATUSES = frozenset({"active", "paid", "expired"})


class CryptoPayError(Exception):
    """Crypto Pay answered with an error (``name``, e.g. UNAUTHORIZED, AMOUNT_TOO_SMALL)."""

    def __init__(self, name: str, code: int | None = None) -> None:
        super().__init__(f"Crypto Pay: {name}" + (f" (code {code})" if code is not None else ""))
        self.name = name
        self.code = code


class CryptoPayUnavailable(CryptoPayError):
    """No usable answer: network error, timeout, 5xx, oversized or unreadable body."""


@dataclass(frozen=True)
class CryptoInvoice:
    invoice_id: str
    status: str  # active | paid | expired
    amount: str
    fiat: str | None
    payload: str | None
    pay_url: str | None
    paid_asset: str | None = None
    paid_amount: str | None = None


def _text(value: Any, limit: int = 512) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:limit]


def parse_invoice(raw: Any) -> CryptoInvoice | None:
    """An Invoice object, bounded; None when it lacks an id, a known status or an amount."""
    if not isinstance(raw, dict):
        return None
    invoice_id = _text(raw.get("invoice_id"), 32)
    status = _text(raw.get("status"), 16)
    amount = _text(raw.get("amount"), 64)
    if not invoice_id or not invoice_id.isdigit() or status not in STATUSES or amount is None:
        return None
    try:
        Decimal(amount)
    except ArithmeticError:
        return None
    pay_url = _text(raw.get("bot_invoice_url") or raw.get("pay_url"), 1024)
    if pay_url is not None and not pay_url.startswith(("https://", "http://", "tg://")):
        pay_url = None
    return CryptoInvoice(
        invoice_id=invoice_id,
        status=status,
        amount=amount,
        fiat=_text(raw.get("fiat"), 8),
        payload=_text(raw.get("payload"), 4096),
        pay_url=pay_url,
        paid_asset=_text(raw.get("paid_asset"), 16),
        paid_amount=_text(raw.get("paid_amount"), 64),
    )


def _cents(amount: Decimal) -> str:
    """Fiat amounts go with two places ("10.00"); more would be rounded by the service and
    the credit would no longer equal the invoice."""
    cents = amount.quantize(Decimal("0.01"))
    if cents != amount:
        raise ValueError(f"{amount} has more than two decimal places")
    return f"{cents:f}"


def signature_of(token: str, body: bytes) -> str:
    secret = hashlib.sha256(token.encode()).digest()
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(token: str, body: bytes, signature: str | None) -> bool:
    """The webhook's signature header against the raw body, in constant time."""
    if not signature:
        return False
    return hmac.compare_digest(signature_of(token, body).encode(), signature.strip().encode())


def parse_webhook(body: bytes) -> tuple[str | None, CryptoInvoice | None]:
    """(update_type, invoice) of a verified webhook body; (None, None) if unreadable."""
    try:
        update = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(update, dict):
        return None, None
    return _text(update.get("update_type"), 32), parse_invoice(update.get("payload"))


class CryptoPayClient:
    """One Crypto Pay app. ``http`` is the shared pool (the provider registry's)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        deadline: float = 10.0,
    ) -> None:
        self.http = http
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.deadline = deadline

    def __repr__(self) -> str:
        return f"CryptoPayClient(api_url={self.api_url!r})"

    def verify(self, body: bytes, signature: str | None) -> bool:
        return verify_signature(self._token, body, signature)

    async def create_invoice(
        self,
        *,
        amount: Decimal,
        fiat: str,
        accepted_assets: Iterable[str],
        description: str,
        payload: str,
        expires_in: int,
    ) -> CryptoInvoice:
        result = await self._call(
            "createInvoice",
            {
                "currency_type": "fiat",
                "fiat": fiat,
                "amount": _cents(amount),
                "accepted_assets": ",".join(accepted_assets),
                "description": description[:1024],
                "payload": payload,
                "expires_in": expires_in,
                "allow_comments": False,
            },
        )
        invoice = parse_invoice(result)
        if invoice is None:
            raise CryptoPayUnavailable("unreadable invoice")
        return invoice

    async def get_invoices(
        self, invoice_ids: Iterable[str] = (), *, status: str | None = None, count: int = 100
    ) -> list[CryptoInvoice]:
        """Invoices by id (at most 100 per call) or the newest ones with `status`."""
        params: dict[str, Any] = {"count": max(1, min(count, 1000))}
        ids = [i for i in invoice_ids if i.isdigit()][:MAX_IDS_PER_CALL]
        if ids:
            params["invoice_ids"] = ",".join(ids)
        if status:
            params["status"] = status
        result = await self._call("getInvoices", params)
        items = result.get("items") if isinstance(result, dict) else None
        if not isinstance(items, list):
            raise CryptoPayUnavailable("unreadable invoice list")
        return [invoice for invoice in map(parse_invoice, items) if invoice is not None]

    async def get_me(self) -> dict[str, Any]:
        result = await self._call("getMe", {})
        return result if isinstance(result, dict) else {}

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        try:
            async with asyncio.timeout(self.deadline):
                body, status = await self._post(method, params)
        except TimeoutError:
            raise CryptoPayUnavailable(f"{method}: no answer within {self.deadline:g}s") from None
        except httpx.HTTPError as exc:
            raise CryptoPayUnavailable(f"{method}: {type(exc).__name__}") from None
        try:
            answer = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise CryptoPayUnavailable(f"{method}: HTTP {status}, not JSON") from None
        if not isinstance(answer, dict):
            raise CryptoPayUnavailable(f"{method}: HTTP {status}, unexpected answer")
        if answer.get("ok") is True:
            return answer.get("result")
        error = answer.get("error")
        name = _text(error.get("name"), 64) if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        code = code if isinstance(code, int) else status
        if status >= 500:
            raise CryptoPayUnavailable(name or "server error", code)
        raise CryptoPayError(name or "unknown error", code)

    async def _post(self, method: str, params: dict[str, Any]) -> tuple[bytes, int]:
        request = self.http.build_request(
            "POST",
            f"{self.api_url}/api/{method}",
            json=params,
            headers={TOKEN_HEADER: self._token},
            timeout=httpx.Timeout(self.deadline, connect=min(5.0, self.deadline)),
        )
        response = await self.http.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise CryptoPayUnavailable(f"{method}: answer over {MAX_ANSWER_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks), response.status_code
        finally:
            await response.aclose()
