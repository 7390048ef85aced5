"""The provider interface the rest of the app codes against.

Implemented by SmmApiClient (a real panel over HTTP) and DemoProvider (in-process).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from providers.add_request import AddRequest
from providers.outcomes import AddOutcome
from providers.types import (
    Balance,
    CancelResult,
    MultiStatusResult,
    RefillResult,
    RefillStatus,
    RemoteOrderStatus,
    RemoteService,
)


@runtime_checkable
class ProviderAPI(Protocol):
    """One upstream provider account.

    Single-id reads raise a ProviderError subclass on failure; ``add`` never raises for
    provider or network failures (it returns an AddOutcome); multi-id calls never raise
    for a failed chunk (each id carries its own result or error).
    """

    name: str

    async def services(self) -> list[RemoteService]: ...

    async def add(self, request: AddRequest) -> AddOutcome: ...

    async def status(self, order_id: str) -> RemoteOrderStatus: ...

    async def multi_status(self, order_ids: Iterable[str]) -> MultiStatusResult: ...

    async def refill(self, order_id: str) -> RefillResult: ...

    async def multi_refill(self, order_ids: Iterable[str]) -> dict[str, RefillResult]: ...

    async def refill_status(self, refill_id: str) -> RefillStatus: ...

    async def multi_refill_status(self, refill_ids: Iterable[str]) -> dict[str, RefillStatus]: ...

    async def cancel(self, order_ids: Iterable[str]) -> dict[str, CancelResult]: ...

    async def balance(self) -> Balance: ...
