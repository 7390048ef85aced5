"""The shared HTTP pool every provider client (and Crypto Pay) sends through.

Before each request the pool checks every pooled connection for a server-side close (a
connection the server already closed would turn an ``add`` ambiguous): a poll of the socket.
httpcore finds that socket through anyio's attribute lookup, which builds a table of
attribute getters (and asks the kernel for the peer address) on every call: with a few
connections pooled that was a tenth of the CPU of a provider request. The streams here keep
their socket from the connect, so the same readability check costs one poll. Everything else
is httpx's own pool (TLS, limits, proxies from the environment): only its network backend is
wrapped.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from httpcore._utils import is_socket_readable

TIMEOUT = httpx.Timeout(20.0, connect=10.0)
# Keep-alive expiry below common server idle timeouts (Apache: 5 s).
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0)


class _Stream(httpcore.AsyncNetworkStream):
    """An anyio stream that remembers its socket."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        if info == "socket":
            return self._socket
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    """httpx's own network backend, its streams wrapped."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _Stream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return _Stream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def keep_sockets(client: httpx.AsyncClient) -> bool:
    """Puts the client's direct pool on streams that keep their socket. The pool is httpx's
    own (its TLS, limits, and proxies from the environment as httpx sets them up); only its
    network backend is wrapped, reached through httpx's and httpcore's internals, so a build
    where they are not where this expects keeps the stock streams (False)."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool) or backend is None:
        return False
    if not isinstance(backend, _Backend):
        pool._network_backend = _Backend(backend)
    return True


def default_http_client() -> httpx.AsyncClient:
    """The shared pool; never follows a redirect (a 301/302 would silently turn the POST
    into a GET without its form)."""
    client = httpx.AsyncClient(timeout=TIMEOUT, limits=LIMITS, follow_redirects=False)
    keep_sockets(client)
    return client
