"""ProviderRegistry: cached clients per provider, demo routing, ownership of the http pool."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import httpx

from providers import DemoProvider, ProviderAPI, ProviderRegistry, SmmApiClient
from tests.fakes.provider_server import FakeProvider
from tests.harness.providers import API_KEY


@dataclass
class Row:
    """Stands in for the app's SQLAlchemy Provider row (only these attributes are read)."""

    id: int
    name: str
    api_url: str
    api_key: str


async def test_clients_are_cached_per_credentials() -> None:
    async with ProviderRegistry() as registry:
        row = Row(1, "alpha", "https://alpha.example/api/v2", "k1")
        first = registry.get(row)
        assert isinstance(first, SmmApiClient) and isinstance(first, ProviderAPI)
        assert registry.get(Row(1, "alpha", "https://alpha.example/api/v2", "k1")) is first
        assert first.http is registry.http  # one shared pool
        row.api_key = "k2"
        second = registry.get(row)
        assert second is not first
        row.api_url = "https://alpha.example/api/v3"
        assert registry.get(row) is not second
        assert registry.get(Row(2, "beta", "https://alpha.example/api/v3", "k2")) is not second


async def test_demo_url_gives_the_shared_demo() -> None:
    async with ProviderRegistry() as registry:
        demo = registry.get(Row(1, "demo", "demo", "demo"))
        assert isinstance(demo, DemoProvider)
        assert registry.get(Row(2, "other", " DEMO ", "x")) is demo
        assert registry.make_client("Demo", "", "new") is demo


async def test_make_client_is_uncached_and_works(fake: FakeProvider) -> None:
    async with ProviderRegistry() as registry:
        client = registry.make_client(fake.url, API_KEY, "candidate")
        assert client is not registry.make_client(fake.url, API_KEY, "candidate")
        assert (await client.balance()).amount == Decimal("100.00")
        assert client.name == "candidate"


async def test_close_closes_only_an_owned_pool() -> None:
    registry = ProviderRegistry()
    await registry.close()
    assert registry.http.is_closed
    async with httpx.AsyncClient() as http:
        registry = ProviderRegistry(http)
        await registry.close()
        assert not http.is_closed


async def test_client_options_reach_the_clients() -> None:
    async with ProviderRegistry(read_retries=0, requests_per_second=2.0) as registry:
        client = registry.get(Row(1, "a", "https://a.example/api/v2", "k"))
        assert isinstance(client, SmmApiClient) and client.read_retries == 0
