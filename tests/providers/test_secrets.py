"""The API key never leaves the request body: not in the URL, logs, exceptions or reprs (§8.7)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from providers import AddRequest, ProviderError, ProviderRegistry, SmmApiClient, mask_secret
from tests.fakes.provider_server import FakeProvider
from tests.harness.providers import API_KEY


async def test_key_appears_nowhere_but_the_form(
    fake: FakeProvider, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # root: httpx, httpcore, providers, aiohttp all at DEBUG
    for name in ("httpx", "httpcore", "providers"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    client = make_client(read_retries=0)
    texts: list[str] = [repr(client), str(client)]

    outcomes = [await client.add(AddRequest(service="1", link="https://x.io/p", quantity=100))]
    for fault in ("timeout", "html", "http_500", "malformed_json", "disconnect"):
        fake.set_fault("add", fault, times=1)
        outcomes.append(await client.add(AddRequest(service="1", link="https://x.io/p",
                                                    quantity=100)))  # fmt: skip
    # A panel that echoes the key back in its error text.
    fake.respond("balance", body={"error": f"Invalid API key {API_KEY}"})
    fake.respond("status", http_status=503, content_type="text/html",
                 body_text=f"<html>bad key {API_KEY}</html>")  # fmt: skip
    errors: list[ProviderError] = []
    for call in (client.balance(), client.status("1"), client.refill("nope")):
        try:
            await call
        except ProviderError as exc:
            errors.append(exc)
    refused = make_client(FakeProvider.closed_url(), read_retries=0)
    outcomes.append(await refused.add(AddRequest(service="1", link="https://x.io/p", quantity=1)))
    texts.append(repr(refused))

    assert len(errors) == 3
    texts += [repr(o) for o in outcomes] + [str(o.error) for o in outcomes if o.error]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [getattr(e, "snippet", "") for e in errors]
    texts.append(caplog.text)
    texts += [str(record.args) for record in caplog.records]

    assert any(r.name.startswith("httpcore") for r in caplog.records), "DEBUG not captured"
    assert any(r.name.startswith("httpx") for r in caplog.records)
    for text in texts:
        assert API_KEY not in text
    assert mask_secret(API_KEY) in repr(client)
    assert mask_secret(API_KEY) in str(errors[0])  # scrubbed, not dropped
    assert all(r.query == "" and API_KEY not in r.headers.values() for r in fake.requests)


def test_mask_secret() -> None:
    assert mask_secret("abcd1234efgh5678wxyz") == "abcd…wxyz"
    assert mask_secret("short-key") == "****"  # too short to show any of it


async def test_registry_reprs_hide_keys() -> None:
    class Row:
        id, name, api_url, api_key = 1, "p", "https://panel.example/api/v2", API_KEY

    async with ProviderRegistry() as registry:
        client = registry.get(Row())
        assert API_KEY not in repr(client)


async def test_key_not_in_url_even_on_redirect(http: httpx.AsyncClient) -> None:
    """A panel answering with a redirect: no automatic re-POST as GET with the key."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.example/"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock_http:
        client = SmmApiClient(mock_http, "https://panel.example/api/v2", API_KEY, read_retries=0)
        with pytest.raises(ProviderError):
            await client.balance()
    assert len(seen) == 1 and API_KEY not in str(seen[0].url)
