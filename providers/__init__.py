"""The upstream protocol: SMM panel API v2 client, typed results, outcomes, registry, demo."""

from providers.add_request import AddRequest, build_add_form
from providers.client import SmmApiClient
from providers.demo import DemoProvider
from providers.error_codes import REASONS, classify_error
from providers.errors import (
    ApiError,
    NonJSONResponse,
    ProviderError,
    RateLimited,
    TransportError,
    UnexpectedResponse,
)
from providers.interface import ProviderAPI
from providers.outcomes import AddOutcome, AddOutcomeKind
from providers.registry import ProviderRegistry, is_demo_url, valid_api_url
from providers.types import (
    Balance,
    CancelResult,
    MultiStatusResult,
    OrderLookupError,
    RefillResult,
    RefillStatus,
    RemoteOrderStatus,
    RemoteService,
)
from providers.vocab import (
    ORDER_STATUSES,
    REFILL_STATUSES,
    TERMINAL_STATUSES,
    normalize_order_status,
    normalize_refill_status,
    normalize_service_type,
)
from providers.wire import MAX_IDS_PER_REQUEST, mask_secret

__all__ = [
    "MAX_IDS_PER_REQUEST",
    "ORDER_STATUSES",
    "REASONS",
    "REFILL_STATUSES",
    "TERMINAL_STATUSES",
    "AddOutcome",
    "AddOutcomeKind",
    "AddRequest",
    "ApiError",
    "Balance",
    "CancelResult",
    "DemoProvider",
    "MultiStatusResult",
    "NonJSONResponse",
    "OrderLookupError",
    "ProviderAPI",
    "ProviderError",
    "ProviderRegistry",
    "RateLimited",
    "RefillResult",
    "RefillStatus",
    "RemoteOrderStatus",
    "RemoteService",
    "SmmApiClient",
    "TransportError",
    "UnexpectedResponse",
    "build_add_form",
    "classify_error",
    "is_demo_url",
    "mask_secret",
    "normalize_order_status",
    "normalize_refill_status",
    "normalize_service_type",
    "valid_api_url",
]
