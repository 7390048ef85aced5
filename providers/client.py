"""SmmApiClient: the SMM panel "API v2" over one shared httpx.AsyncClient.

Wire rules (smm-api-v2.md §1–§2): always POST form-encoded to the full stored URL with the
key as a form field (never in the URL, never logged); decode JSON whatever the Content-Type;
read the body of every status code, because errors come as HTTP 200 and successes as 201.
Read-only actions are retried with backoff (and after Retry-After on 429); ``add`` is never
retried here, because a lost answer does not mean a lost order (§8.1).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from providers.add_request import AddRequest, build_add_form
from providers.decode import (
    parse_add,
    parse_balance,
    parse_order_status,
    parse_services,
    unwrap_single,
)
from providers.decode_multi import (
    parse_cancel,
    parse_multi_refill,
    parse_multi_refill_status,
    parse_multi_status,
    parse_refill,
    parse_refill_status,
)
from providers.errors import (
    ApiError,
    NonJSONResponse,
    ProviderError,
    RateLimited,
    TransportError,
)
from providers.outcomes import AddOutcome
from providers.parsing import ci, decode_json, entry_error, error_message, to_text
from providers.ratelimit import ADD, READ, WRITE, Lane, SlotClock
from providers.types import (
    Balance,
    CancelResult,
    MultiStatusResult,
    RefillResult,
    RefillStatus,
    RemoteOrderStatus,
    RemoteService,
)
from providers.wire import (
    chunked,
    looks_like_waf,
    mask_secret,
    retry_after,
    unique_ids,
)
from telemetry import context as log_context
from telemetry import metrics

log = logging.getLogger(__name__)

# Pacing default: ~300 requests/min per IP is a common panel limit; 5/s is that rate, with
# short bursts of 5 and 4 requests in flight (SPEC §5.4; settable per provider).
DEFAULT_RATE = 5.0
DEFAULT_CONCURRENCY = 4
ADD_DEADLINE = 15.0  # seconds for a whole add exchange (reads: read_timeout, 20 s)
MAX_ANSWER_BYTES = 2 * 1024 * 1024  # statuses of 100 orders are ~20 kB
MAX_SERVICES_BYTES = 32 * 1024 * 1024  # the largest catalogues seen are a few MB
MAX_PAUSE = 300.0  # a rate-limit reset further away than this is not believed
_WRITES = frozenset({"refill", "cancel"})


class AnswerTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {limit} bytes")


_HEADERS = {
    # Some WAFs challenge obvious script user agents (S23).
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36 smm-storefront-bot/0.1",
    "Accept": "application/json, text/plain, */*",
}
# Raised before a single byte of the request left this process: safe to resend even `add`.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class SmmApiClient:
    """One provider account. Share one instance per provider: it owns the pacing."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        api_key: str,
        *,
        name: str = "",
        requests_per_second: float = DEFAULT_RATE,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        connect_timeout: float = 10.0,
        read_timeout: float = 20.0,
        add_timeout: float | None = None,
        services_read_timeout: float = 60.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        max_services_bytes: int = MAX_SERVICES_BYTES,
        read_retries: int = 2,
        retry_backoff: float = 0.5,
        max_retry_wait: float = 30.0,
        slots: SlotClock | None = None,
        lane_key: str | None = None,
    ) -> None:
        self.http = http
        self.api_url = api_url.strip()
        self._api_key = api_key.strip()
        self.name = name or self.api_url
        self.read_retries = read_retries
        self.retry_backoff = retry_backoff
        self.max_retry_wait = max_retry_wait
        # Overall deadlines (connect + send + the whole body): httpx's read timeout alone
        # restarts on every chunk, so a provider trickling its answer would never time out.
        # An add is short (one small answer) and a customer waits for it: the shortest.
        self.deadlines = {
            "add": add_timeout if add_timeout is not None else min(ADD_DEADLINE, read_timeout),
            "services": services_read_timeout,
        }
        self.read_deadline = read_timeout
        self.answer_limits = {"services": max_services_bytes}
        self.max_answer_bytes = max_answer_bytes
        self._connect_timeout = connect_timeout
        self.lane = Lane(
            lane_key or f"provider:{self.api_url}",
            requests_per_second,
            max_concurrency,
            slots=slots,
        )

    @property
    def masked_key(self) -> str:
        return mask_secret(self._api_key)

    def __repr__(self) -> str:
        return f"SmmApiClient(name={self.name!r}, api_url={self.api_url!r}, key={self.masked_key})"

    # --- public API -------------------------------------------------------------------------

    async def services(self) -> list[RemoteService]:
        """The provider catalogue (may be several MB: longer read timeout)."""
        return parse_services(await self._read("services", {}))

    async def add(self, request: AddRequest) -> AddOutcome:
        """Place one order. Never raises for provider/network failures; never retried.

        ValueError if the request lacks a field its service type requires.
        """
        form = build_add_form(request)
        form.pop("action")
        try:
            outcome = parse_add(await self._request("add", form))
        except ProviderError as exc:
            outcome = AddOutcome.from_error(exc)
        log.info(
            "provider %s: add service=%s -> %s %s",
            self.name,
            form["service"],
            outcome.kind,
            outcome.provider_order_id or (outcome.error and repr(outcome.error)),
        )
        return outcome

    async def status(self, order_id: str) -> RemoteOrderStatus:
        """One order's status; ApiError(order_not_found) for an unknown id."""
        order_id = str(order_id).strip()
        entry = unwrap_single(order_id, await self._read("status", {"order": order_id}))
        message = entry_error(entry)  # e.g. {"23501": {"error": "Incorrect order ID"}}
        if message is not None:
            raise ApiError.from_message(self._scrub(message), action="status")
        return parse_order_status(order_id, entry)

    async def multi_status(self, order_ids: Iterable[str]) -> MultiStatusResult:
        """Statuses of many orders: deduped, ≤100 per request, one request per chunk."""
        chunks = chunked(unique_ids(order_ids))
        parts = await asyncio.gather(*(self._status_chunk(chunk) for chunk in chunks))
        merged = MultiStatusResult()
        for part in parts:
            merged.results.update(part.results)
            merged.missing.extend(part.missing)
            merged.failed.update(part.failed)
            merged.positional = merged.positional or part.positional
        return merged

    async def refill(self, order_id: str) -> RefillResult:
        """Ask for a refill; ApiError when refused (also when nested in the answer, Q12)."""
        order_id = str(order_id).strip()
        return parse_refill(order_id, await self._request("refill", {"order": order_id}))

    async def multi_refill(self, order_ids: Iterable[str]) -> dict[str, RefillResult]:
        """Refill many orders (``orders=``); every id gets a RefillResult, never raises."""

        async def one(chunk: list[str]) -> dict[str, RefillResult]:
            try:
                body = await self._request("refill", {"orders": ",".join(chunk)})
                return parse_multi_refill(chunk, body)
            except ProviderError as exc:
                self._log_chunk_failure("refill", chunk, exc)
                return {
                    i: RefillResult(order_id=i, refill_id=None, accepted=False, error=exc)
                    for i in chunk
                }

        return await self._per_chunk(order_ids, one)

    async def refill_status(self, refill_id: str) -> RefillStatus:
        """One refill's status; ApiError(refill_not_found) for an unknown refill."""
        refill_id = str(refill_id).strip()
        return parse_refill_status(
            refill_id, await self._read("refill_status", {"refill": refill_id})
        )

    async def multi_refill_status(self, refill_ids: Iterable[str]) -> dict[str, RefillStatus]:
        """Statuses of many refills (``refills=``); every id gets a RefillStatus."""

        async def one(chunk: list[str]) -> dict[str, RefillStatus]:
            try:
                body = await self._read("refill_status", {"refills": ",".join(chunk)})
                return parse_multi_refill_status(chunk, body)
            except ProviderError as exc:
                self._log_chunk_failure("refill_status", chunk, exc)
                return {
                    i: RefillStatus(refill_id=i, status=None, raw_status=None, error=exc)
                    for i in chunk
                }

        return await self._per_chunk(refill_ids, one)

    async def cancel(self, order_ids: Iterable[str]) -> dict[str, CancelResult]:
        """Ask to cancel orders (``orders=``). ``accepted`` ≠ canceled: confirm via status."""

        async def one(chunk: list[str]) -> dict[str, CancelResult]:
            try:
                return parse_cancel(
                    chunk, await self._request("cancel", {"orders": ",".join(chunk)})
                )
            except ProviderError as exc:
                self._log_chunk_failure("cancel", chunk, exc)
                return {i: CancelResult(order_id=i, accepted=False, error=exc) for i in chunk}

        return await self._per_chunk(order_ids, one)

    async def balance(self) -> Balance:
        """The account balance; also the cheapest check that url and key work."""
        return parse_balance(await self._read("balance", {}))

    async def call(self, action: str, fields: Mapping[str, str] | None = None) -> Any:
        """One raw request (no retry): decoded JSON, or a ProviderError (ApiError on refusal)."""
        return await self._request(action, dict(fields or {}))

    # --- plumbing ---------------------------------------------------------------------------

    async def _status_chunk(self, chunk: list[str]) -> MultiStatusResult:
        try:
            body = await self._read("status", {"orders": ",".join(chunk)})
            return parse_multi_status(chunk, body)
        except ProviderError as exc:
            self._log_chunk_failure("status", chunk, exc)
            return MultiStatusResult(failed=dict.fromkeys(chunk, exc))

    async def _per_chunk(self, ids: Iterable[str], one: Any) -> dict[str, Any]:
        parts = await asyncio.gather(*(one(chunk) for chunk in chunked(unique_ids(ids))))
        return {key: value for part in parts for key, value in part.items()}

    def _log_chunk_failure(self, action: str, chunk: list[str], exc: ProviderError) -> None:
        log.warning("provider %s: %s for %d ids failed: %r", self.name, action, len(chunk), exc)

    async def _read(self, action: str, fields: dict[str, str]) -> Any:
        """A read-only request, retried on 429 / transport / non-JSON failures (bounded)."""
        attempt = 0
        while True:
            try:
                return await self._request(action, fields)
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
                if attempt >= self.read_retries or wait > self.max_retry_wait:
                    raise
                # The lane was paused by _request: every caller of this provider waits.
            except (TransportError, NonJSONResponse):
                if attempt >= self.read_retries:
                    raise
                wait = self._backoff(attempt)
                await asyncio.sleep(wait)
            attempt += 1
            log.info(
                "provider %s: retrying %s (attempt %d) after %.2f s",
                self.name,
                action,
                attempt + 1,
                wait,
            )

    def _backoff(self, attempt: int) -> float:
        return self.retry_backoff * (2**attempt) * random.uniform(0.75, 1.25)

    async def _request(self, action: str, fields: dict[str, str]) -> Any:
        """One POST, counted by outcome (telemetry.metrics) with the provider named in the
        log context; see _send."""
        outcome = "error"
        with log_context.bound(provider=self.name):
            try:
                body = await self._send(action, fields)
                outcome = "ok"
                return body
            except ProviderError as exc:
                outcome = _outcome(exc)
                raise
            finally:
                metrics.provider_request(self.name, action, outcome)

    async def _send(self, action: str, fields: dict[str, str]) -> Any:
        """One POST; returns decoded JSON of a success envelope, else raises a ProviderError.

        The whole exchange has a deadline and the answer a size limit; past either it is a
        timeout after sending (SPEC §5: an add goes to review, a read is retried later).
        """
        form = {"key": self._api_key, "action": action, **fields}
        deadline = self.deadlines.get(action, self.read_deadline)
        limit = self.answer_limits.get(action, self.max_answer_bytes)
        connect = min(self._connect_timeout, deadline)
        phases = httpx.Timeout(deadline, connect=connect, pool=connect)
        priority = ADD if action == "add" else WRITE if action in _WRITES else READ
        async with self.lane.turn(priority):
            started = time.monotonic()
            try:
                async with asyncio.timeout(deadline):
                    status, headers, content = await self._exchange(form, phases, limit)
            except (*_NOT_SENT, httpx.InvalidURL) as exc:
                raise self._transport_error(action, exc, request_sent=False) from None
            except TimeoutError:
                error = self._transport_error(
                    action, f"no complete answer within {deadline:g} s", request_sent=True
                )
                error.timed_out = True
                raise error from None
            except AnswerTooLarge as exc:
                raise self._transport_error(action, str(exc), request_sent=True) from None
            except httpx.HTTPError as exc:
                # Read/write timeouts, resets, a keep-alive connection closed under us:
                # the request may have been processed.
                error = self._transport_error(action, exc, request_sent=True)
                error.timed_out = isinstance(exc, httpx.TimeoutException)
                raise error from None
            finally:
                metrics.provider_latency(self.name, action, time.monotonic() - started)
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("provider %s: %s -> HTTP %d in %.0f ms", self.name, action, status, elapsed_ms)
        await self._honour_limits(action, status, headers)
        return self._decode(action, status, headers, content)

    async def _exchange(
        self, form: dict[str, str], phases: httpx.Timeout, limit: int
    ) -> tuple[int, httpx.Headers, bytes]:
        """Status, headers and body, read no further than `limit` bytes."""
        async with self.http.stream(
            "POST", self.api_url, data=form, headers=_HEADERS, timeout=phases
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise AnswerTooLarge(limit)
            parts: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise AnswerTooLarge(limit)
                parts.append(chunk)
            return response.status_code, response.headers, b"".join(parts)

    async def _honour_limits(self, action: str, status: int, headers: httpx.Headers) -> None:
        """A 429 or "0 requests remaining until reset" pauses the whole lane."""
        remaining = headers.get("x-ratelimit-remaining", "").strip()
        if status != 429 and remaining not in ("0", "0.0"):
            return
        wait, _ = retry_after(headers)
        if wait is None:
            wait = self._backoff(0) if status == 429 else 1.0
        wait = min(wait, MAX_PAUSE)
        log.info("provider %s: %s rate-limited, lane paused %.1f s", self.name, action, wait)
        await self.lane.pause(wait)

    def _transport_error(
        self, action: str, exc: Exception | str, *, request_sent: bool
    ) -> TransportError:
        if isinstance(exc, str):
            message = exc
        else:
            message = f"{type(exc).__name__}: {self._scrub(str(exc)) or 'no detail'}"
        log.warning("provider %s: %s failed: %s", self.name, action, message)
        return TransportError(message, request_sent=request_sent, action=action)

    def _decode(self, action: str, status: int, headers: httpx.Headers, content: bytes) -> Any:
        if status == 429:
            wait, reset_epoch = retry_after(headers)
            raise RateLimited(wait, reset_epoch=reset_epoch, action=action)
        if status < 200 or 300 <= status < 400:
            # Not the answer to our request: httpx does not follow redirects (a re-POST could
            # order twice, a GET would put the key in a URL). The request did arrive.
            location = self._scrub(headers.get("location", ""))[:200]
            raise TransportError(
                f"HTTP {status} redirect to {location or '(no Location)'}, not followed; "
                "has the provider's API URL moved?",
                request_sent=True,
                status_code=status,
                action=action,
            )
        text = content.decode("utf-8", errors="replace")
        try:
            body = decode_json(text)
        except ValueError:
            raise NonJSONResponse(
                status,
                self._scrub(text.strip()[:300]),
                blocked_by_waf=looks_like_waf(status, headers, text),
                action=action,
            ) from None
        message = error_message(body)
        if message is not None:
            raise ApiError.from_message(self._scrub(message), action=action, http_status=status)
        if status >= 500:
            raise TransportError(
                f"HTTP {status} without an error message",
                request_sent=True,
                status_code=status,
                action=action,
            )
        if status >= 300:
            # A 4xx with JSON is a definite refusal even without an "error" key (S7, S13).
            data = ci(body)
            text_message = to_text(data.get("message")) or to_text(data.get("msg"))
            raise ApiError.from_message(
                self._scrub(text_message or f"HTTP {status}"), action=action, http_status=status
            )
        return body

    def _scrub(self, text: str) -> str:
        """Remove the key from any text that may end up in an exception or a log line."""
        return text.replace(self._api_key, self.masked_key) if self._api_key else text


def _outcome(error: ProviderError) -> str:
    """The outcome label of a failed request (telemetry.metrics.PROVIDER_REQUESTS)."""
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, ApiError):
        return "refused"
    if isinstance(error, NonJSONResponse):
        return "bad_answer"
    if isinstance(error, TransportError):
        return "timeout" if error.timed_out else "transport"
    return "error"
