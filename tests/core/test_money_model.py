"""A Hypothesis state machine over the money model, on SQLite and PostgreSQL.

Random top-ups and admin debits, orders (placed, double-tapped, sent: accepted, refused,
ambiguous, never sent, or the process dying mid-send), provider statuses applied by the real
status sync chunk (repeated, out of order, odd remains, several orders at once), admin
refunds (also the same request delivered twice) and status changes, the customer's cancel,
and restarts (a new engine; a start-up recovers what a crash left mid-submission).

After every step: no balance below zero; balance == sum of the ledger; per order, its charge
is one ledger row, its refunds are the ledger's refund rows, 0 ≤ refunded ≤ charge, and
refunded == what a plain model of the rules expects: a status refunds what it implies beyond
what the order already got (nothing is ever taken back), an admin refund adds its amount.

Real code and real databases; only the provider is a script, so the test stays fast. Each
example starts from empty tables in one migrated database per backend.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import delete, func, select

from core import billing
from core.admin_actions import ActionError, refund_order, set_status, topup
from core.claims import recover_interrupted
from core.customer_requests import request_cancel
from core.ordering import OrderDraft, OrderError, place_order
from core.status_sync import apply_status_chunk
from core.statuses import ACTIVE_STATUSES, PROVIDER_TO_PANEL, LedgerKind, OrderStatus
from core.submission import submit_order
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import Base, LedgerEntry, Order, Provider, User
from providers import AddOutcome, RemoteOrderStatus
from providers.errors import ApiError, TransportError
from providers.types import CancelResult, MultiStatusResult
from tests.harness import ledger, seed

CUSTOMER, ADMIN = 1001, 9001
ADMINS = frozenset({ADMIN})
PRICE = Decimal("2.00")  # per 1000
CENT = Decimal("0.00000001")
CLOSED = (OrderStatus.CANCELED, OrderStatus.FAILED)
# provider status (as the client normalises it) → the raw word a provider sends
REMOTE = {
    "pending": "Pending",
    "processing": "Processing",
    "in_progress": "In progress",
    "completed": "Completed",
    "partial": "Partial",
    "canceled": "Canceled",
    "refunded": "Refunded",
    "failed": "Fail",
    "unknown": "Stuck somewhere",
}
ANSWERS = [*REMOTE, "partial", "partial", "canceled"]  # the ones that move money, more often
ODD_REMAINS = st.one_of(
    st.none(),
    st.integers(min_value=-100, max_value=12000),
    st.sampled_from([-(2**62), 2**62]),
)
MAX_ORDERS = 3
SEND = ["accepted", "accepted", "accepted", "rejected", "ambiguous", "not_sent", "crash"]


# What the run did, across examples: a run that never got to the money proves nothing.
SEEN: Counter[str] = Counter()


class Crash(Exception):
    """The process died while the add was on its way."""


@dataclass
class Expected:
    charge: Decimal
    quantity: int
    status: str = OrderStatus.QUEUED
    refunded: Decimal = Decimal(0)
    admin_refunded: Decimal = Decimal(0)  # what /refund gave back
    remains: int | None = None
    remote: str | None = None  # the provider's order id, once the panel has one

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def implied(order: Expected, status: str, remains: int | None) -> Decimal | None:
    """The whole refund a status stands for (SPEC §5), computed apart from the code."""
    if status == OrderStatus.PARTIAL:
        assert remains is not None
        left = min(max(remains, 0), order.quantity)
        return (order.charge * left / order.quantity).quantize(CENT, rounding=ROUND_DOWN)
    if status in CLOSED:
        return order.charge
    return Decimal(0) if status == OrderStatus.COMPLETED else None


class ScriptedProvider:
    """The provider as the panel's submission and cancel see it, answering as told."""

    def __init__(self) -> None:
        self.next_add = "accepted"
        self.adds = 0

    def get(self, provider: Provider) -> ScriptedProvider:  # the registry's one method used
        return self

    async def add(self, request: Any) -> AddOutcome:
        self.adds += 1
        if self.next_add == "crash":
            raise Crash
        if self.next_add == "accepted":
            return AddOutcome.accepted_order(f"r{self.adds}")
        if self.next_add == "rejected":
            return AddOutcome.from_error(ApiError.from_message("Incorrect link", action="add"))
        sent = self.next_add == "ambiguous"
        return AddOutcome.from_error(TransportError("timed out", request_sent=sent, action="add"))

    async def cancel(self, order_ids: list[str]) -> dict[str, CancelResult]:
        return {i: CancelResult(order_id=i, accepted=True) for i in order_ids}


class MoneyModel(RuleBasedStateMachine):
    url: str  # set by the test: a migrated database, emptied for each example

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.provider = ScriptedProvider()
        self.orders: dict[int, Expected] = {}
        self.keys = self.topups = self.restarts = 0
        self.replayable: list[tuple[int, str, Decimal]] = []  # admin refunds made with a key
        self.engine = create_engine(self.url)
        self.sm = make_sessionmaker(self.engine)
        self.provider_id, self.service_id = self.run(self._fresh())

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    async def _fresh(self) -> tuple[int, int]:
        async with self.sm() as session, write_tx(session):
            for table in reversed(Base.metadata.sorted_tables):
                await session.execute(delete(table))
        async with self.sm() as session, write_tx(session):
            session.add(User(id=CUSTOMER, first_name="Alice", language="en"))
            provider, service = await seed.provider_catalog(
                session, "http://127.0.0.1:9/api/v2", "model-key", price=PRICE
            )
            service.min = 10
            await session.flush()
            await billing.credit(session, CUSTOMER, Decimal(60), key="seed")
            return provider.id, service.id

    def teardown(self) -> None:
        self.run(self.engine.dispose())
        self.loop.close()

    def key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    def pick(self, data: st.DataObject, *, where: Any = None) -> tuple[int, Expected] | None:
        ids = sorted(i for i, o in self.orders.items() if where is None or where(o))
        if not ids:
            return None
        order_id = data.draw(st.sampled_from(ids))
        return order_id, self.orders[order_id]

    # --- money in ---------------------------------------------------------------------------

    @initialize(
        quantities=st.lists(st.integers(min_value=10, max_value=10000), min_size=1, max_size=3)
    )
    def first_orders(self, quantities: list[int]) -> None:
        """Most examples start with orders the provider took, so the steps reach them."""
        for quantity in quantities:
            self.order(quantity, "accepted")

    @precondition(lambda self: self.topups < 4)  # a few per example: the rest is about orders
    @rule(amount=st.decimals(min_value="-30", max_value="50", places=2), replay=st.booleans())
    def admin_topup(self, amount: Decimal, replay: bool) -> None:
        """/topup, a credit or a debit; a debit beyond the balance is refused."""
        self.topups += 1
        key = f"topup:{self.key()}"

        async def go() -> bool:
            async with self.sm() as session:
                before = (await session.get(User, CUSTOMER)).balance  # type: ignore[union-attr]
            for _ in range(2 if replay else 1):
                async with self.sm() as session:
                    try:
                        await topup(session, CUSTOMER, amount, admin_id=ADMIN, key=key)
                    except ActionError as exc:
                        assert exc.code == "zero_amount" if amount == 0 else "would_go_negative"
                        assert amount == 0 or before + amount < 0
                        return False
            return True

        self.run(go())

    # --- orders -----------------------------------------------------------------------------

    # A few orders, so that refunds, statuses and admins keep meeting the same ones.
    @precondition(lambda self: len(self.orders) < MAX_ORDERS)
    @rule(quantity=st.integers(min_value=10, max_value=10000), send=st.sampled_from(SEND))
    def order(self, quantity: int, send: str) -> None:
        """A customer's order, then its add: accepted, refused, unclear, never sent, or the
        process dies while it is on its way."""

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
            return placed.order.id

        order_id = self.run(go())
        if order_id is None:
            return
        charge = (PRICE * quantity / 1000).quantize(CENT)
        self.orders[order_id] = Expected(charge, quantity)
        SEEN["orders"] += 1
        self.send(order_id, send)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def double_tap(self, data: st.DataObject) -> None:
        """The same Confirm delivered again: the first order comes back, nothing charged."""
        order_id = data.draw(st.sampled_from(sorted(self.orders)))

        async def go() -> None:
            async with self.sm() as session:
                order = await session.get(Order, order_id)
                assert order is not None and order.idempotency_key
                placed = await place_order(
                    session,
                    CUSTOMER,
                    OrderDraft(self.service_id, "https://instagram.com/x", order.quantity),
                    key=order.idempotency_key,
                )
                assert placed.order.id == order_id and not placed.new

        self.run(go())

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), send=st.sampled_from(SEND))
    def send_again(self, data: st.DataObject, send: str) -> None:
        """The submitter's next turn for an order still queued (its backoff over)."""
        picked = self.pick(data, where=lambda o: o.status == OrderStatus.QUEUED)
        if picked is not None:
            self.send(picked[0], send)

    def send(self, order_id: int, send: str) -> None:
        expected = self.orders[order_id]
        self.provider.next_add = send

        async def go() -> None:
            async with self.sm() as session, write_tx(session):
                provider = await session.get(Provider, self.provider_id)
                assert provider is not None
                provider.retry_after = None  # the backoff of an earlier failure has passed
            async with self.sm() as session:
                await submit_order(session, self.provider, order_id, admin_ids=ADMINS)  # type: ignore[arg-type]

        try:
            self.run(go())
        except Crash:
            expected.status = OrderStatus.SUBMITTING  # the next start-up finds it mid-send
            return
        assert send != "crash"
        if send == "accepted":
            expected.status, expected.remote = OrderStatus.PENDING, f"r{self.provider.adds}"
        elif send == "rejected":
            expected.status, expected.refunded = OrderStatus.FAILED, expected.charge
        elif send == "ambiguous":
            expected.status = OrderStatus.REVIEW
        else:
            expected.status = OrderStatus.QUEUED

    # --- the provider's statuses -------------------------------------------------------------

    @precondition(lambda self: any(o.remote and o.active for o in self.orders.values()))
    @rule(
        data=st.data(),
        answers=st.lists(st.tuples(st.sampled_from(ANSWERS), ODD_REMAINS), min_size=1, max_size=3),
    )
    def provider_statuses(self, data: st.DataObject, answers: list[tuple[str, Any]]) -> None:
        """One status chunk as status sync applies it, for one to three orders at once: an
        active one, and maybe others the provider answers for again (no longer active: the
        chunk leaves them alone)."""
        picked = self.pick(data, where=lambda o: o.remote and o.active)
        assert picked is not None
        others = sorted(i for i, o in self.orders.items() if o.remote and i != picked[0])
        more = data.draw(st.lists(st.sampled_from(others or [0]), max_size=2 if others else 0))
        more = sorted(set(more))
        order_ids = [picked[0], *more]
        chunk, result = [], MultiStatusResult()
        for order_id, (status, remains) in zip(order_ids, answers, strict=False):
            remote = self.orders[order_id].remote
            assert remote is not None
            chunk.append((order_id, remote))
            result.results[remote] = RemoteOrderStatus(
                order_id=remote, status=status, raw_status=REMOTE[status], remains=remains
            )
        self.run(apply_status_chunk(self.sm, self.provider_id, chunk, result, admin_ids=ADMINS))

        for order_id, (status, remains) in zip(order_ids, answers, strict=False):
            expected = self.orders[order_id]
            if expected.status not in ACTIVE_STATUSES:
                continue  # status sync reads active orders only
            if remains is not None:
                expected.remains = remains
            new = PROVIDER_TO_PANEL.get(status)
            if new is None or new == expected.status:
                continue  # an unknown word moves nothing
            if new == OrderStatus.PARTIAL and remains is None:
                expected.status = OrderStatus.REVIEW  # a human looks; nothing refunded
                continue
            target = implied(expected, new, remains)
            if target is not None:
                expected.refunded = max(expected.refunded, target)
            expected.status = new
            SEEN["provider statuses"] += 1

    # --- admins ------------------------------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(
        data=st.data(),
        share=st.one_of(st.none(), st.integers(min_value=0, max_value=120)),
        keyed=st.booleans(),
    )
    def admin_refund(self, data: st.DataObject, share: int | None, keyed: bool) -> None:
        """/refund ID [AMOUNT]: an amount in cents, mostly a part of the charge (sometimes
        nothing, or more than is left); the rest of the charge when no amount is given.
        Mostly of an order with money left, often one the provider is still working on."""
        picked = self.pick(data, where=lambda o: o.refunded < o.charge) or self.pick(data)
        assert picked is not None
        order_id, expected = picked
        amount = None if share is None else (expected.charge * share / 100).quantize(CENT * 10**6)
        key = self.key() if keyed else None

        async def go() -> Decimal | str:
            async with self.sm() as session:
                try:
                    done = await refund_order(session, order_id, amount, admin_id=ADMIN, key=key)
                except ActionError as exc:
                    return exc.code
            return done.refunded

        done = self.run(go())
        if expected.status == OrderStatus.SUBMITTING:  # its add is on its way: hands off
            assert done == "in_flight"
            return
        if isinstance(done, str):
            done = None
        left = expected.charge - expected.refunded
        want = left if amount is None else amount
        assert (done is not None) == (0 < want <= left), (amount, left)
        if done is None:
            return
        assert done == want
        expected.refunded += want
        SEEN["admin refunds"] += 1
        expected.admin_refunded += want
        if want == left:
            expected.status = OrderStatus.CANCELED
        if key:
            self.replayable.append((order_id, key, want))

    @precondition(lambda self: self.replayable)
    @rule(data=st.data())
    def admin_refund_delivered_again(self, data: st.DataObject) -> None:
        """The same /refund message handled a second time: nothing more is refunded."""
        order_id, key, amount = data.draw(st.sampled_from(self.replayable))

        async def go() -> Decimal:
            async with self.sm() as session:
                return (
                    await refund_order(session, order_id, amount, admin_id=ADMIN, key=key)
                ).refunded

        assert self.run(go()) == 0

    @precondition(lambda self: self.orders)
    @rule(
        data=st.data(),
        status=st.sampled_from(
            [
                OrderStatus.PENDING,
                OrderStatus.IN_PROGRESS,
                OrderStatus.PARTIAL,
                OrderStatus.COMPLETED,
                OrderStatus.CANCELED,
            ]
        ),
        remains_share=st.integers(min_value=-10, max_value=110),
    )
    def admin_set_status(self, data: st.DataObject, status: str, remains_share: int) -> None:
        """/setstatus ID STATUS [REMAINS]; from review to pending it attaches the provider's id
        (`/setstatus ID pending PROVIDER_ORDER_ID`), so status sync takes the order up."""
        picked = self.pick(data)
        assert picked is not None
        order_id, expected = picked
        remains = expected.quantity * remains_share // 100 if status == "partial" else None
        attach = None
        if status == OrderStatus.PENDING and expected.status == OrderStatus.REVIEW:
            attach = f"m{order_id}"

        async def go() -> tuple[Decimal, Decimal] | str:
            async with self.sm() as session:
                try:
                    done = await set_status(
                        session,
                        order_id,
                        status,
                        admin_id=ADMIN,
                        remains=remains,
                        provider_order_id=attach,
                    )
                except ActionError as exc:
                    return exc.code
            return done.refunded, done.kept

        outcome = self.run(go())
        if expected.status == OrderStatus.SUBMITTING:
            assert outcome == "in_flight"
            return
        if expected.status in CLOSED:
            assert outcome == "closed"
            return
        if remains is not None and not 0 <= remains <= expected.quantity:
            assert outcome == "bad_remains"
            return
        if isinstance(outcome, str):  # the same status again: nothing to do
            assert outcome == "same_status" and expected.status == status
            assert not attach and (status != OrderStatus.PARTIAL or remains == expected.remains)
            return
        refunded, kept = outcome
        target = implied(expected, status, remains)
        before = expected.refunded
        if target is not None:
            expected.refunded = max(before, target)
            # a status implying less than was refunded takes nothing back; the admin is told
            assert kept == max(before - target, Decimal(0)), (before, target, kept)
        assert refunded == expected.refunded - before
        expected.status = status
        SEEN["admin statuses"] += 1
        if status == OrderStatus.PARTIAL:
            expected.remains = remains
        elif status == OrderStatus.COMPLETED:
            expected.remains = 0
        expected.remote = attach or expected.remote

    # --- the customer --------------------------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def customer_cancel(self, data: st.DataObject) -> None:
        """The customer's Cancel: a queued order is cancelled and refunded at once; a pending
        one is asked of the provider (its answer comes through status sync)."""
        picked = self.pick(data)
        assert picked is not None
        order_id, expected = picked

        async def go() -> str:
            async with self.sm() as session:
                return (await request_cancel(session, self.provider, CUSTOMER, order_id)).code  # type: ignore[arg-type]

        code = self.run(go())
        if expected.status == OrderStatus.QUEUED:
            assert code == "canceled"
            expected.status, expected.refunded = OrderStatus.CANCELED, expected.charge
        elif expected.status == OrderStatus.PENDING and expected.remote:
            assert code == "cancel_requested"
        else:
            assert code == "cancel_not_available"

    # --- restarts ------------------------------------------------------------------------------

    # after the first order (before, it proves nothing); a few per example
    @precondition(lambda self: self.orders and self.restarts < 3)
    @rule()
    def restart(self) -> None:
        """A new process over the same database: a new engine, and the start-up's recovery
        of orders a crash left mid-submission (they may be at the provider: review)."""
        self.restarts += 1
        self.run(self.engine.dispose())
        self.engine = create_engine(self.url)
        self.sm = make_sessionmaker(self.engine)

        async def go() -> list[int]:
            async with self.sm() as session:
                return await recover_interrupted(session, ADMINS)

        recovered = self.run(go())
        sent = sorted(i for i, o in self.orders.items() if o.status == OrderStatus.SUBMITTING)
        assert sorted(recovered) == sent
        for order_id in sent:
            self.orders[order_id].status = OrderStatus.REVIEW

    # --- after every step --------------------------------------------------------------------

    @invariant()
    def money_adds_up(self) -> None:
        async def go() -> None:
            await ledger.balance(self.sm, CUSTOMER)  # asserts balance == sum of the ledger
            async with self.sm() as session:
                negative = await session.scalar(
                    select(func.count()).select_from(User).where(User.balance < 0)
                )
                assert negative == 0
                rows = await session.execute(
                    select(
                        LedgerEntry.order_id,
                        LedgerEntry.kind,
                        LedgerEntry.amount,
                        LedgerEntry.idempotency_key,
                    ).where(LedgerEntry.order_id.is_not(None))
                )
                charged: dict[int, list[Decimal]] = {}
                refunds: dict[int, Decimal] = {}
                by_admin: dict[int, Decimal] = {}  # /refund's rows: reason "admin:…"
                for order_id, kind, amount, key in rows:
                    if kind != LedgerKind.REFUND:
                        charged.setdefault(order_id, []).append(amount)
                        continue
                    refunds[order_id] = refunds.get(order_id, Decimal(0)) + amount
                    if key.startswith(f"refund:{order_id}:admin:"):
                        by_admin[order_id] = by_admin.get(order_id, Decimal(0)) + amount
                orders = list(await session.scalars(select(Order)))
            assert sorted(o.id for o in orders) == sorted(self.orders)
            for order in orders:
                expected = self.orders[order.id]
                assert order.status == expected.status, (order.id, order.status, expected)
                assert charged.get(order.id) == [-expected.charge] == [-order.charge]
                assert 0 <= order.refunded <= order.charge
                assert order.refunded == refunds.get(order.id, Decimal(0)), order.id
                assert order.refunded == expected.refunded, (order.id, order.status, expected)
                assert by_admin.get(order.id, Decimal(0)) == expected.admin_refunded
                assert order.remains == expected.remains, (order.id, expected)

        self.run(go())


async def test_the_money_model_holds_under_random_operations(any_database_url: str) -> None:
    MoneyModel.url = any_database_url
    runner = MoneyModel.TestCase
    runner.settings = settings(
        # bounded so that each backend takes well under a minute on a loaded machine
        max_examples=16,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # explaining is slow
    )
    SEEN.clear()
    await asyncio.to_thread(runner().runTest)
    for what in ("orders", "provider statuses", "admin refunds", "admin statuses"):
        assert SEEN[what] >= 1, SEEN
