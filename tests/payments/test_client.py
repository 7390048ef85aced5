"""The Crypto Pay client over real HTTP against FakeCryptoPay: what goes on the wire, errors,
deadline, size cap, the token kept secret, and the webhook signature check."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from payments import CryptoPayClient, CryptoPayError, CryptoPayUnavailable, verify_signature
from payments.cryptopay import parse_invoice, parse_webhook
from tests.fakes.cryptopay_server import FakeCryptoPay, sign

TOKEN = "4321:AAfakeCryptoPayToken"


@pytest.fixture
async def cp() -> AsyncIterator[FakeCryptoPay]:
    async with FakeCryptoPay(token=TOKEN, timeout_sleep=3) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def create(client: CryptoPayClient, amount: str = "10.00"):
    return await client.create_invoice(
        amount=Decimal(amount),
        fiat="USD",
        accepted_assets=["USDT", "TON"],
        description="Balance top-up: 10.00 USD",
        payload="topup:abc123",
        expires_in=3600,
    )


async def test_create_invoice_is_priced_in_fiat_and_read_back(cp, http) -> None:
    client = CryptoPayClient(http, TOKEN, api_url=cp.url)
    invoice = await create(client)
    [request] = cp.requests
    assert request.method == "createInvoice"
    assert request.headers["Crypto-Pay-API-Token"] == TOKEN
    assert request.params["currency_type"] == "fiat" and request.params["fiat"] == "USD"
    assert request.params["amount"] == "10.00"
    assert request.params["accepted_assets"] == "USDT,TON"
    assert request.params["payload"] == "topup:abc123"
    assert request.params["expires_in"] == 3600
    assert invoice.status == "active" and invoice.amount == "10" and invoice.fiat == "USD"
    assert invoice.pay_url and invoice.pay_url.startswith("https://t.me/CryptoTestnetBot")

    cp.pay(invoice.invoice_id)
    [paid] = await client.get_invoices([invoice.invoice_id])
    assert paid.status == "paid" and paid.paid_asset == "USDT" and paid.payload == "topup:abc123"
    assert [i.invoice_id for i in await client.get_invoices(status="paid")] == [invoice.invoice_id]
    assert await client.get_invoices(status="active") == []


async def test_wrong_token_is_an_error_that_never_shows_the_token(cp, http) -> None:
    client = CryptoPayClient(http, "9999:WRONGsecret", api_url=cp.url)
    with pytest.raises(CryptoPayError) as error:
        await client.get_me()
    assert error.value.name == "UNAUTHORIZED" and error.value.code == 401
    assert not isinstance(error.value, CryptoPayUnavailable)
    assert "WRONGsecret" not in str(error.value) and "WRONGsecret" not in repr(client)


@pytest.mark.parametrize("fault", ["http_500", "garbage", "huge"])
async def test_unusable_answers_are_unavailable(cp, http, fault: str) -> None:
    client = CryptoPayClient(http, TOKEN, api_url=cp.url)
    cp.set_fault("createInvoice", fault)
    with pytest.raises(CryptoPayUnavailable):
        await create(client)


async def test_a_silent_service_ends_at_the_deadline(cp, http) -> None:
    client = CryptoPayClient(http, TOKEN, api_url=cp.url, deadline=0.5)
    cp.set_fault("getInvoices", "timeout")
    started = time.monotonic()
    with pytest.raises(CryptoPayUnavailable) as error:
        await client.get_invoices(status="paid")
    assert time.monotonic() - started < 2
    assert TOKEN not in str(error.value)


async def test_unreachable_service_is_unavailable(http) -> None:
    client = CryptoPayClient(http, TOKEN, api_url="http://127.0.0.1:9", deadline=2)
    with pytest.raises(CryptoPayUnavailable):
        await client.get_me()


def test_webhook_signature_is_hmac_of_the_raw_body_keyed_by_sha256_of_the_token() -> None:
    body = b'{"update_type":"invoice_paid","payload":{"invoice_id":5}}'
    good = sign(TOKEN, body)
    assert verify_signature(TOKEN, body, good)
    assert not verify_signature(TOKEN, body + b" ", good)  # the raw body, byte for byte
    assert not verify_signature(TOKEN, body, sign("other", body))
    assert not verify_signature(TOKEN, body, None) and not verify_signature(TOKEN, body, "")
    assert not verify_signature(TOKEN, body, "zz" * 32)


def test_invoices_from_outside_are_bounded() -> None:
    assert parse_invoice({"invoice_id": "x", "status": "paid", "amount": "1"}) is None
    assert parse_invoice({"invoice_id": 5, "status": "weird", "amount": "1"}) is None
    assert parse_invoice({"invoice_id": 5, "status": "paid", "amount": "lots"}) is None
    invoice = parse_invoice(
        {"invoice_id": 5, "status": "paid", "amount": "1", "bot_invoice_url": "javascript:x"}
    )
    assert invoice is not None and invoice.pay_url is None
    assert parse_webhook(b"not json") == (None, None)
    assert parse_webhook(b"[1]") == (None, None)
