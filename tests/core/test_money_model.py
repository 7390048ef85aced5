"""A Hypothesis state machine over the money model: random top-ups, orders, provider statuses
(repeated, out of order, odd remains), admin refunds and status changes, and restarts.

After every step: no balance below zero, balance == sum of the ledger, every order's refund
between 0 and its charge, and equal to what a plain model of the rules expects (a status
refunds what it implies beyond what the order already got; an admin refund adds to it;
nothing is ever taken back). Real code, real SQLite file; only the provider is left out:
its answers are applied the way status sync applies them.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select

from core import billing
from core.admin_actions import ActionError, refund_order, set_status
from core.lifecycle import apply_provider_status, load_order, partial_refund
from core.ordering import OrderDraft, OrderError, place_order
from core.statuses import ACTIVE_STATUSES, OrderStatus
from db.engine import create_engine, make_sessionmaker, write_tx
from db.migrate import upgrade
from db.models import Order, User
from providers import RemoteOrderStatus
from tests.harness import seed

CUSTOMER, ADMIN = 1001, 9001
ADMINS = frozenset({ADMIN})
PRICE = Decimal("2.00")  # per 1000
CLOSED = (OrderStatus.CANCELED, OrderStatus.FAILED)
REMOTE = {
    "pending": "Pending",
    "in_progress": "In progress",
    "completed": "Completed",
    "partial": "Partial",
    "canceled": "Canceled",
}


@dataclass
class Expected:
    charge: Decimal
    quantity: int
    refunded: Decimal = Decimal(0)
    status: str = OrderStatus.PENDING


def implied(order: Expected, status: str, remains: int | None) -> Decimal | None:
    if status == OrderStatus.PARTIAL:
        assert remains is not None
        return partial_refund(order.charge, order.quantity, remains)
    if status in CLOSED:
        return order.charge
    return Decimal(0) if status == OrderStatus.COMPLETED else None


class MoneyModel(RuleBasedStateMachine):
    template: Path

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = self.template.parent / f"run{id(self)}"
        self.dir.mkdir()
        shutil.copy(self.template, self.dir / "panel.db")
        self.url = f"sqlite+aiosqlite:///{self.dir / 'panel.db'}"
        self.engine = create_engine(self.url)
        self.sm = make_sessionmaker(self.engine)
        self.service_id = self.run(self._seed())
        self.orders: dict[int, Expected] = {}
        self.keys = 0

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    async def _seed(self) -> int:
        async with self.sm() as session, write_tx(session):
            session.add(User(id=CUSTOMER, first_name="Alice", language="en"))
            service = await seed.service(session, price=PRICE, min=10, max=10000, mode="manual")
            return service.id

    def teardown(self) -> None:
        self.run(self.engine.dispose())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    # --- rules ---------------------------------------------------------------------------

    @rule(amount=st.decimals(min_value="0.01", max_value="50", places=2))
    def top_up(self, amount: Decimal) -> None:
        async def go() -> None:
            async with self.sm() as session, write_tx(session):
                await billing.credit(session, CUSTOMER, amount, key=f"topup:{self.key()}")

        self.run(go())

    @rule(quantity=st.integers(min_value=10, max_value=10000))
    def order(self, quantity: int) -> None:
        async def go() -> int | None:
            async with self.sm() as session:
                try:
                    placed = await place_order(
                        session,
                        CUSTOMER,
                        OrderDraft(self.service_id, "https://instagram.com/x", quantity),
                        key=self.key(),
                    )
                except (OrderError, billing.InsufficientFunds):
                    return None  # not enough money: nothing charged
                order = placed.order
            async with self.sm() as session, write_tx(session):  # the provider accepted it
                row = await load_order(session, order.id, for_update=True)
                assert row is not None
                row.status, row.provider_order_id = OrderStatus.PENDING, f"r{order.id}"
            return order.id

        order_id = self.run(go())
        if order_id is not None:
            charge = PRICE * quantity / 1000
            self.orders[order_id] = Expected(charge.quantize(Decimal("0.00000001")), quantity)

    @precondition(lambda self: self.orders)
    @rule(
        data=st.data(),
        status=st.sampled_from(list(REMOTE)),
        remains=st.one_of(st.none(), st.integers(min_value=-100, max_value=12000)),
    )
    def provider_status(self, data: st.DataObject, status: str, remains: int | None) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        expected = self.orders[order_id]
        answer = RemoteOrderStatus(
            order_id=f"r{order_id}",
            status=status,
            raw_status=REMOTE[status],
            remains=remains,
        )

        async def go() -> None:
            async with self.sm() as session, write_tx(session):
                row = await load_order(session, order_id, for_update=True)
                assert row is not None
                if row.status in ACTIVE_STATUSES:  # status sync polls active orders only
                    await apply_provider_status(session, row, answer, admin_ids=ADMINS)

        before = expected.status
        self.run(go())
        if before not in ACTIVE_STATUSES:
            return
        if status == OrderStatus.PARTIAL and remains is None:
            expected.status = OrderStatus.REVIEW  # a human looks; nothing refunded
            return
        clamp = None if remains is None else min(max(remains, 0), expected.quantity)
        target = implied(expected, status, clamp)
        if target is not None:
            expected.refunded = max(expected.refunded, target)
        expected.status = status

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), amount=st.decimals(min_value="0.01", max_value="25", places=2))
    def admin_refund(self, data: st.DataObject, amount: Decimal) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        expected = self.orders[order_id]

        async def go() -> bool:
            async with self.sm() as session:
                try:
                    await refund_order(session, order_id, amount, admin_id=ADMIN)
                except ActionError:
                    return False
            return True

        done = self.run(go())
        left = expected.charge - expected.refunded
        assert done == (0 < amount <= left), (amount, left)
        if done:
            expected.refunded += amount
            if expected.refunded == expected.charge:
                expected.status = OrderStatus.CANCELED

    @precondition(lambda self: self.orders)
    @rule(
        data=st.data(),
        status=st.sampled_from([OrderStatus.PARTIAL, OrderStatus.COMPLETED, OrderStatus.CANCELED]),
        remains_share=st.integers(min_value=0, max_value=100),
    )
    def admin_set_status(self, data: st.DataObject, status: str, remains_share: int) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        expected = self.orders[order_id]
        remains = expected.quantity * remains_share // 100 if status == "partial" else None

        async def go() -> bool:
            async with self.sm() as session:
                try:
                    await set_status(session, order_id, status, admin_id=ADMIN, remains=remains)
                except ActionError:
                    return False
            return True

        if self.run(go()):
            target = implied(expected, status, remains)
            assert target is not None
            expected.refunded = max(expected.refunded, target)
            expected.status = status
        else:
            assert expected.status in CLOSED or expected.status == status

    @rule()
    def restart(self) -> None:
        """A new process: new engine and sessions over the same file."""
        self.run(self.engine.dispose())
        self.engine = create_engine(self.url)
        self.sm = make_sessionmaker(self.engine)

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def money_adds_up(self) -> None:
        async def go() -> None:
            async with self.sm() as session:
                user = await session.get(User, CUSTOMER)
                assert user is not None and user.balance >= 0
                assert user.balance == await billing.ledger_sum(session, CUSTOMER)
                negative = await session.scalar(
                    select(func.count()).select_from(User).where(User.balance < 0)
                )
                assert negative == 0
                for order in await session.scalars(select(Order)):
                    expected = self.orders[order.id]
                    assert 0 <= order.refunded <= order.charge
                    assert order.refunded == expected.refunded, (order.id, order.status)

        self.run(go())


def test_the_money_model_holds_under_random_operations(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    upgrade(f"sqlite+aiosqlite:///{template}")
    MoneyModel.template = template
    runner = MoneyModel.TestCase
    runner.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    runner().runTest()
