"""Quotes: what an order costs and which quantities a service accepts (SPEC §3, §6)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.money import QUANTUM
from core.numbers import parse_count

# How the chat collects an order for each provider service type (providers.vocab names).
QUANTITY_TYPES = frozenset({"default"})
LINES_TYPES = {"custom_comments": "comments", "mentions_custom_list": "usernames"}
FLAT_LINES_TYPES = {"custom_comments_package": "comments"}
PACKAGE_TYPES = frozenset({"package"})
SUBSCRIPTION_TYPES = frozenset({"subscriptions"})
# Every type the chat can collect an order for (the catalogue shows only these).
ORDERABLE_TYPES = (
    QUANTITY_TYPES | set(LINES_TYPES) | set(FLAT_LINES_TYPES) | PACKAGE_TYPES | SUBSCRIPTION_TYPES
)


def input_kind(service_type: str) -> str | None:
    """ "quantity", "lines" (quantity = number of lines), "package", "subscription", or None
    if the chat cannot collect the fields this type needs (such services are imported
    disabled)."""
    if service_type in QUANTITY_TYPES:
        return "quantity"
    if service_type in LINES_TYPES or service_type in FLAT_LINES_TYPES:
        return "lines"
    if service_type in PACKAGE_TYPES:
        return "package"
    if service_type in SUBSCRIPTION_TYPES:
        return "subscription"
    return None


def lines_field(service_type: str) -> str | None:
    """The add field that carries the lines ("comments" or "usernames")."""
    return LINES_TYPES.get(service_type) or FLAT_LINES_TYPES.get(service_type)


def charge_for(price: Decimal, rate_basis: str, quantity: int) -> Decimal:
    """price × quantity / 1000, or the flat price of one package; half up to 8 places."""
    if rate_basis == "flat":
        return price.quantize(QUANTUM, rounding=ROUND_HALF_UP)
    return (price * quantity / 1000).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def subscription_charge(price: Decimal, rate_basis: str, per_post_max: int, posts: int) -> Decimal:
    """Posts × the most one post can take: price per 1000 × max / 1000 a post, or a flat
    price per post (the reference bills subscriptions per child order, one per post)."""
    per_post = price if rate_basis == "flat" else price * per_post_max / 1000
    return (per_post * posts).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def price_unit(rate_basis: str) -> str:
    """What a price on this basis is for: "package" (flat) or "1000" (per thousand)."""
    return "package" if rate_basis == "flat" else "1000"


def cost_on_basis(rate: Decimal, their_basis: str, our_basis: str, our_min: int) -> Decimal:
    """A provider's rate in the unit our price is in (per 1000, or one package).

    A flat provider rate for a per-1000 service (or the other way round) is converted with
    the service's minimum as the package size, the smallest order either side accepts.
    """
    if their_basis == our_basis:
        return rate
    if their_basis == "flat":  # we sell per 1000, they bill per package
        return rate * 1000 / max(our_min, 1)
    return rate * max(our_min, 1) / 1000


@dataclass(frozen=True)
class QuantityProblem:
    code: str  # below_min | above_max | step | not_a_number
    min: int
    max: int
    step: int


def check_quantity(
    quantity: int, minimum: int, maximum: int, step: int = 1
) -> QuantityProblem | None:
    problem = None
    if quantity < minimum:
        problem = "below_min"
    elif quantity > maximum:
        problem = "above_max"
    elif step > 1 and quantity % step:
        problem = "step"
    return QuantityProblem(problem, minimum, maximum, step) if problem else None


def parse_quantity(text: str) -> int | None:
    """A quantity as a customer types it (see core.numbers.parse_count)."""
    return parse_count(text)


def split_lines(text: str) -> list[str]:
    """Non-empty, stripped lines (providers drop blank lines too, Q27)."""
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
