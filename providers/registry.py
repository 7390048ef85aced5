"""ProviderRegistry: one client per provider account, all over one pooled httpx client.

The pacing (a Lane: rate, concurrency, priorities) lives in the client, so a provider must
map to the same client instance for every caller — handlers, jobs, admin checks. A changed
URL or key gives a fresh client; ``api_url == "demo"`` gives the one in-process DemoProvider.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import httpx

from providers.client import DEFAULT_CONCURRENCY, DEFAULT_RATE, SmmApiClient
from providers.demo import DemoProvider
from providers.http_pool import default_http_client
from providers.interface import ProviderAPI
from providers.ratelimit import SlotClock
from telemetry import metrics

DEMO_URL = "demo"


class ProviderRecord(Protocol):
    """What the registry needs from a provider row (the app passes its SQLAlchemy model)."""

    id: Any
    name: str
    api_url: str
    api_key: str


def is_demo_url(api_url: str | None) -> bool:
    return (api_url or "").strip().lower() == DEMO_URL


def valid_api_url(api_url: str) -> bool:
    """An http(s) URL with a host that the client can call, or the demo provider's URL."""
    if is_demo_url(api_url):
        return True
    try:
        url = httpx.URL(api_url)
    except (httpx.InvalidURL, TypeError):
        return False
    return url.scheme in ("http", "https") and bool(url.host)


class ProviderRegistry:
    """Hands out the ProviderAPI for a provider record; ``close()`` closes the owned pool."""

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        demo: DemoProvider | None = None,
        slots: SlotClock | None = None,
        on_secret: Callable[[str], None] | None = None,
        **client_options: Any,
    ) -> None:
        """``on_secret`` is told every API key a client is made for (the log redactor)."""
        self.slots = slots  # shared pacing (Redis) when several replicas run
        self._owns_http = http is None
        self._on_secret = on_secret
        self.http = http if http is not None else default_http_client()
        self.demo = demo if demo is not None else DemoProvider()
        self._client_options = client_options
        self._clients: dict[Any, tuple[tuple[str, str], SmmApiClient]] = {}

    def get(self, provider: ProviderRecord) -> ProviderAPI:
        """The cached client for this provider id (new one if its URL or key changed), paced
        as the row says (``rate_per_second`` / ``concurrency``, when set)."""
        metrics.remember_provider(provider.id, provider.name)
        if is_demo_url(provider.api_url):
            return self.demo
        credentials = (provider.api_url.strip(), provider.api_key.strip())
        cached = self._clients.get(provider.id)
        if cached is not None and cached[0] == credentials:
            client = cached[1]
        else:
            made = self.make_client(
                provider.api_url,
                provider.api_key,
                provider.name,
                lane_key=f"provider:{provider.id}",
            )
            assert isinstance(made, SmmApiClient)
            client = made
            self._clients[provider.id] = (credentials, client)
        self._pace(client, provider)
        return client

    def _pace(self, client: SmmApiClient, provider: ProviderRecord) -> None:
        rate = getattr(provider, "rate_per_second", None)
        concurrency = getattr(provider, "concurrency", None)
        wanted = (
            float(rate) if rate else self._client_options.get("requests_per_second", DEFAULT_RATE),
            int(concurrency)
            if concurrency
            else self._client_options.get("max_concurrency", DEFAULT_CONCURRENCY),
        )
        if (client.lane.rate, client.lane.concurrency) != wanted:
            client.lane.configure(*wanted)

    def make_client(
        self, api_url: str, api_key: str, name: str = "", *, lane_key: str | None = None
    ) -> ProviderAPI:
        """An uncached client, e.g. to check a provider before saving it (/addprovider)."""
        if is_demo_url(api_url):
            return self.demo
        if self._on_secret is not None:
            self._on_secret(api_key)
        return SmmApiClient(
            self.http, api_url, api_key, name=name, lane_key=lane_key, slots=self.slots,
            **self._client_options,
        )  # fmt: skip

    def forget(self, provider_id: Any) -> None:
        """Drop the cached client of a deleted provider."""
        self._clients.pop(provider_id, None)

    async def close(self) -> None:
        """Close the httpx client if this registry created it."""
        self._clients.clear()
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> ProviderRegistry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
