"""The shared pool (providers.http_pool): an idle connection the provider closed is never
used for the next add (it would turn the add ambiguous: sent, no answer); the pool is
httpx's own, proxies from the environment included."""

from __future__ import annotations

import asyncio
import json

import pytest

from providers import AddRequest, ProviderRegistry
from providers.client import SmmApiClient
from providers.http_pool import keep_sockets

ANSWER = json.dumps({"order": 1}).encode()


class ClosingServer:
    """Answers each request with keep-alive promised, then closes the connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.targets: list[bytes] = []
        self.closed = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ClosingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/v2"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        self.targets.append(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
            b"Content-Length: " + str(len(ANSWER)).encode() + b"\r\n\r\n" + ANSWER
        )
        await writer.drain()
        writer.close()  # the server's idle timeout, at once
        await writer.wait_closed()
        self.closed.set()


async def test_a_connection_the_provider_closed_is_not_reused_for_an_add() -> None:
    request = AddRequest(service="1", type="default", link="https://x.test/a", quantity=100)
    async with ClosingServer() as server, ProviderRegistry() as registry:
        assert keep_sockets(registry.http)  # this httpx build takes the socket-keeping streams
        client = registry.make_client(server.url, "key")
        assert isinstance(client, SmmApiClient)
        first = await client.add(request)
        await server.closed.wait()
        await asyncio.sleep(0.05)  # the close has reached this side
        second = await client.add(request)
    assert (first.kind, second.kind) == ("accepted", "accepted")
    assert server.connections == 2


async def test_a_proxy_from_the_environment_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    request = AddRequest(service="1", type="default", link="https://x.test/a", quantity=100)
    async with ClosingServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.rsplit("/api", 1)[0])
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with ProviderRegistry() as registry:
            client = registry.make_client("http://provider.invalid/api/v2", "key")
            assert isinstance(client, SmmApiClient)
            answer = await client.add(request)
    assert answer.kind == "accepted"
    assert proxy.targets == [b"http://provider.invalid/api/v2"]
