"""DemoProvider: a full provider in-process, with a movable clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers import AddRequest, ApiError, DemoProvider, ProviderAPI
from providers.demo import COMPLETE_SECONDS, PENDING_SECONDS

T0 = 1_780_000_000.0
LINK = "https://instagram.com/demo_account"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def demo(clock: Clock) -> DemoProvider:
    return DemoProvider(clock=clock)


async def test_catalogue(demo: DemoProvider) -> None:
    assert isinstance(demo, ProviderAPI)
    services = await demo.services()
    assert 7 <= len(services) <= 10
    categories = {s.category for s in services}
    for wanted in ("Instagram Followers", "Instagram Likes", "TikTok Views", "YouTube Views",
                   "Telegram Members"):  # fmt: skip
        assert wanted in categories
    types = {s.type for s in services}
    assert {"default", "custom_comments", "package"} <= types
    assert {s.refill for s in services} == {True, False}
    assert {s.cancel for s in services} == {True, False}
    assert all(isinstance(s.rate, Decimal) and s.min <= s.max for s in services)


async def test_order_moves_through_statuses_and_charges(demo: DemoProvider, clock: Clock) -> None:
    outcome = await demo.add(AddRequest(service="1", link=LINK, quantity=1000))
    assert outcome.kind == "accepted" and outcome.charge == Decimal("1.20")
    assert outcome.currency == "USD"
    order_id = outcome.provider_order_id
    assert order_id.startswith(f"demo-{int(T0 * 1000)}-1000-")
    assert (await demo.balance()).amount == Decimal("998.80")

    first = await demo.status(order_id)
    assert (first.status, first.remains, first.terminal) == ("pending", 1000, False)
    assert first.charge == Decimal("1.20")
    clock.now += PENDING_SECONDS + 30
    middle = await demo.status(order_id)
    assert middle.status == "in_progress" and 0 < middle.remains < 1000
    assert middle.start_count and middle.start_count > 0
    clock.now = T0 + COMPLETE_SECONDS + 1
    final = await demo.status(order_id)
    assert final.terminal and final.status in ("completed", "partial")
    assert (final.remains == 0) is (final.status == "completed")


async def test_progress_survives_a_restart(demo: DemoProvider, clock: Clock) -> None:
    order_id = (await demo.add(AddRequest(service="5", link=LINK, quantity=5000))).provider_order_id
    clock.now += 75
    before = await demo.status(order_id)
    restarted = DemoProvider(clock=clock)  # no shared state at all
    after = await restarted.status(order_id)
    assert (after.status, after.remains, after.start_count, after.charge) == (
        before.status, before.remains, before.start_count, before.charge
    )  # fmt: skip


async def test_about_one_in_ten_ends_partial_with_refund(demo: DemoProvider, clock: Clock) -> None:
    ids = []
    for _ in range(200):
        outcome = await demo.add(AddRequest(service="5", link=LINK, quantity=1000))
        ids.append(outcome.provider_order_id)
    spent = Decimal("1000.00") - (await demo.balance()).amount
    assert spent == Decimal("0.05") * 200
    clock.now += COMPLETE_SECONDS + 1
    result = await demo.multi_status(ids)
    partial = [s for s in result.statuses().values() if s.status == "partial"]
    assert 5 <= len(partial) <= 45  # ~10 % of 200; wide bounds, ids are random
    assert all(0 < s.remains < 1000 for s in partial)
    refunds = sum(Decimal("0.05") * s.remains / 1000 for s in partial)
    assert (await demo.balance()).amount == Decimal("1000.00") - spent + refunds


async def test_cancel_only_while_pending(demo: DemoProvider, clock: Clock) -> None:
    early = (await demo.add(AddRequest(service="1", link=LINK, quantity=100))).provider_order_id
    late = (await demo.add(AddRequest(service="1", link=LINK, quantity=100))).provider_order_id
    no_cancel = (await demo.add(AddRequest(service="6", link=LINK, quantity=500))).provider_order_id
    balance_before = (await demo.balance()).amount
    results = await demo.cancel([early])
    assert results[early].accepted
    assert (await demo.status(early)).status == "canceled"
    assert (await demo.balance()).amount == balance_before + Decimal("0.12")
    clock.now += PENDING_SECONDS + 1
    results = await demo.cancel([late, no_cancel, "demo-x"])
    assert results[late].error.code == "cancel_not_allowed"
    assert results[no_cancel].error.code == "cancel_not_allowed"
    assert results["demo-x"].error.code == "order_not_found"


async def test_refill_for_completed_orders_of_refill_services(
    demo: DemoProvider, clock: Clock
) -> None:
    # ~1 in 10 ends Partial; ten orders make at least one Completed a near certainty.
    orders = [(await demo.add(AddRequest(service="7", link=LINK, quantity=1000)))
              for _ in range(10)]  # fmt: skip
    plain = await demo.add(AddRequest(service="3", link=LINK, quantity=1000))
    with pytest.raises(ApiError) as caught:
        await demo.refill(orders[0].provider_order_id)
    assert caught.value.code == "refill_not_allowed"  # not completed yet
    clock.now += COMPLETE_SECONDS + 1
    statuses = (await demo.multi_status([o.provider_order_id for o in orders])).statuses()
    completed = next(i for i, s in statuses.items() if s.status == "completed")

    refill = await demo.refill(completed)
    assert refill.accepted and refill.refill_id and refill.order_id == completed
    assert (await demo.refill_status(refill.refill_id)).status == "pending"
    clock.now += 61
    many = await demo.multi_refill_status([refill.refill_id, "nope"])
    assert many[refill.refill_id].status == "completed"
    assert many["nope"].error.code == "refill_not_found"
    results = await demo.multi_refill([plain.provider_order_id])
    assert results[plain.provider_order_id].error.code == "refill_not_allowed"


@pytest.mark.parametrize(
    ("request_", "kind", "code", "reason"),
    [
        (AddRequest(service="1", link="", quantity=100), "rejected", "invalid_link",
         "The provider rejected the link."),
        (AddRequest(service="1", link="not a link", quantity=100), "rejected", "invalid_link",
         "The provider rejected the link."),
        (AddRequest(service="1", link=LINK, quantity=10), "rejected", "quantity_below_min",
         "The quantity is below the minimum for this service."),
        (AddRequest(service="1", link=LINK, quantity=200_000), "rejected", "quantity_above_max",
         "The quantity is above the maximum for this service."),
        (AddRequest(service="99", link=LINK, quantity=100), "rejected", "invalid_service",
         "The provider does not offer this service any more."),
        (AddRequest(service="6", link=LINK, quantity=1_000_000), "no_funds", "insufficient_funds",
         "The provider account does not have enough funds."),
    ],
)  # fmt: skip
async def test_validation_answers_like_a_provider(
    demo: DemoProvider, request_: AddRequest, kind: str, code: str, reason: str
) -> None:
    outcome = await demo.add(request_)
    assert (outcome.kind, outcome.error.code, outcome.reason) == (kind, code, reason)
    assert (await demo.balance()).amount == Decimal("1000.00")


async def test_package_is_flat_and_comments_count_lines(demo: DemoProvider) -> None:
    package = await demo.add(AddRequest(service="8", link=LINK, quantity=999))
    assert package.kind == "accepted" and package.charge == Decimal("9.99")
    comments = await demo.add(
        AddRequest(service="4", link=LINK, comments=["nice", "", "wow", "cool", "ok", "top"])
    )
    assert comments.charge == Decimal("0.04")  # 5 lines × 8.00 / 1000
    assert "-5-4-" in comments.provider_order_id


async def test_foreign_ids(demo: DemoProvider) -> None:
    with pytest.raises(ApiError):
        await demo.status("12345")
    result = await demo.multi_status(["12345"])
    assert result.lookup_errors()["12345"].code == "order_not_found"
