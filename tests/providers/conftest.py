"""Shared fixtures: a FakeProvider on loopback, one httpx client, a fast-failing SmmApiClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from providers import SmmApiClient
from tests.fakes.provider_server import FakeProvider
from tests.harness.providers import API_KEY


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(api_key=API_KEY) as fp:
        yield fp


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def make_client(http: httpx.AsyncClient, fake: FakeProvider) -> Callable[..., SmmApiClient]:
    """A client with test-sized timeouts (read 1.5 s, above a busy machine's pauses) and
    near-zero backoff."""

    def make(url: str | None = None, **options: Any) -> SmmApiClient:
        settings: dict[str, Any] = {
            "name": "fake",
            "read_timeout": 1.5,
            "connect_timeout": 0.5,
            "services_read_timeout": 1.5,
            "retry_backoff": 0.01,
            "max_retry_wait": 2.0,
            "requests_per_second": 1000.0,
            **options,
        }
        return SmmApiClient(http, url or fake.url, API_KEY, **settings)

    return make


@pytest.fixture
def client(make_client: Callable[..., SmmApiClient]) -> SmmApiClient:
    return make_client()
