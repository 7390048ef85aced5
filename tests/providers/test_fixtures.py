"""Every recorded provider answer (tests/data/provider_fixtures.json) through real HTTP.

The fake server serves the fixture's exact status, Content-Type, headers and body; the real
client decodes it; every key of the fixture's ``expected`` block is checked — the
``Expected`` helper fails the test if one is left unchecked. The quirks these fixtures
exercise (their ``tags``) cover Q1–Q5, Q8–Q12, Q14–Q18, Q20–Q22, Q24, Q26, Q29, Q32–Q34,
Q37 and Q39 of smm-api-v2.md.

Deliberate vocabulary mappings (justified here once):
* ``kind``: the fixtures say "dripfeed_parent"/"subscription_parent"; the client's
  ``RemoteOrderStatus.kind`` is "dripfeed"/"subscription" (parents are the only non-"order" kinds).
* ``AmbiguousOrderError``: the client does not raise for ``add``; it returns
  ``AddOutcome(kind="ambiguous")``: never resent, always checked by a person.
* ``min``/``max`` of a quantity error: ``ApiError.limit``.
* ``notes`` of the positional-list fixture: the low-confidence flag ``positional``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from providers import (
    AddOutcome,
    AddRequest,
    ApiError,
    OrderLookupError,
    ProviderError,
    RemoteOrderStatus,
    SmmApiClient,
)
from tests.fakes.provider_server import FakeProvider
from tests.harness.providers import API_KEY

FIXTURES_PATH = Path(__file__).resolve().parents[1] / "data" / "provider_fixtures.json"
FIXTURES: list[dict[str, Any]] = json.loads(FIXTURES_PATH.read_text(encoding="utf-8"))["fixtures"]
T = TypeVar("T")
KIND = {"dripfeed_parent": "dripfeed", "subscription_parent": "subscription"}
# Fixtures whose recorded request the client does not reproduce byte for byte, and why.
REQUEST_SHAPE_EXEMPT = {
    # Models a server answering a field-less add; our client never sends one.
    "add.err.incorrect_request": "client always sends a complete add",
    # 101 ids: the client splits them into 100 + 1 (asserted in the test itself).
    "multi_status.top_level_error": "chunked",
    # Recorded with a single `order=`; our cancel always uses `orders=` (PP documents bulk).
    "cancel.turkish.status_success": "orders=",
    "cancel.turkish.refused": "orders=",
}


class Expected:
    """The expected block; each ``take`` marks a key checked, ``done`` fails on leftovers."""

    def __init__(self, data: dict[str, Any], where: str = "expected") -> None:
        self.left = dict(data)
        self.where = where

    def take(self, key: str, default: Any = KeyError) -> Any:
        if key not in self.left:
            if default is KeyError:
                raise AssertionError(f"{self.where} has no {key!r}")
            return default
        return self.left.pop(key)

    def has(self, key: str) -> bool:
        return key in self.left

    def attrs(self, obj: Any, *names: str) -> None:
        """Compare attributes (Decimals by their exact text: "0.90" must stay "0.90")."""
        for name in names:
            if name in self.left:
                assert_value(getattr(obj, name), self.left.pop(name), f"{self.where}.{name}")

    def done(self) -> None:
        assert not self.left, f"unchecked keys in {self.where}: {sorted(self.left)}"


def assert_value(actual: Any, expected: Any, label: str) -> None:
    if isinstance(actual, Decimal):
        assert str(actual) == expected, f"{label}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{label}: {actual!r} != {expected!r}"


def check_error(spec: dict[str, Any], error: Any) -> None:
    """A nested ``error`` block against a ProviderError or an OrderLookupError."""
    exp = Expected(spec, "error")
    kind = exp.take("type", None)
    if kind is not None:
        assert type(error).__name__ == kind, f"{type(error).__name__} != {kind}"
    if exp.has("retryable"):
        assert error.retryable is exp.take("retryable")
    exp.attrs(error, "code", "message", "blocked_by_waf", "reset_epoch")
    exp.done()


def check_top_level_error(exp: Expected, error: ProviderError) -> None:
    check_error(exp.take("error"), error)
    if exp.has("stop_provider"):
        assert error.stop_provider is exp.take("stop_provider")
    if exp.has("retry_after_hint"):
        assert error.retry_after_hint == exp.take("retry_after_hint")
    for bound in ("min", "max"):
        if exp.has(bound):
            assert error.limit == exp.take(bound)


def add_request(form: dict[str, str]) -> AddRequest:
    """The AddRequest that produces the fixture's recorded form."""
    if "comments" in form:
        return AddRequest(
            service=form["service"], type="custom_comments", link=form["link"],
            comments=form["comments"].split("\n"),
        )  # fmt: skip
    if "username" in form:
        return AddRequest(
            service=form["service"], type="subscriptions", username=form["username"],
            min=int(form["min"]), max=int(form["max"]), delay=int(form["delay"]),
            old_posts=int(form["old_posts"]), expiry=form["expiry"],
        )  # fmt: skip
    runs = form.get("runs")
    return AddRequest(
        service=form.get("service", "1"),
        link=form.get("link", "https://instagram.com/example"),
        quantity=int(form.get("quantity", "1000")),
        runs=int(runs) if runs else None,
        interval=int(form["interval"]) if runs else None,
    )


def ids_of(form: dict[str, str], single: str, multi: str) -> list[str]:
    return form[multi].split(",") if multi in form else [form[single]]


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["id"] for f in FIXTURES])
async def test_fixture(fixture: dict[str, Any], fake: FakeProvider, make_client: Any) -> None:
    fake.serve_fixture(fixture)  # for every request of the action, retries included
    client: SmmApiClient = make_client(read_retries=1)
    exp = Expected(fixture["expected"])
    form = {k: v for k, v in fixture["request"].items() if k != "key"}
    handler = CHECKS[fixture["action"]]
    await handler(client, form, exp)
    exp.done()

    assert fake.requests, "the client sent nothing"
    expected_form = {**form, "key": API_KEY}
    if fixture["id"] not in REQUEST_SHAPE_EXEMPT:
        for sent in fake.requests:
            assert sent.form == expected_form
            assert sent.method == "POST" and sent.query == ""


async def answered(call: Awaitable[T], exp: Expected) -> T | None:
    """What `call` returns when the fixture says ok; None when it expects the provider's
    refusal, which is then checked against it."""
    try:
        result = await call
    except ProviderError as error:
        assert exp.take("ok") is False
        check_top_level_error(exp, error)
        return None
    assert exp.take("ok") is True
    return result


async def check_services(client: SmmApiClient, form: dict[str, str], exp: Expected) -> None:
    services = await answered(client.services(), exp)
    if services is None:
        return
    expected = exp.take("services")
    assert len(services) == len(expected)
    for i, (service, spec) in enumerate(zip(services, expected, strict=True)):
        item = Expected(spec, f"services[{i}]")
        assert service.id == item.take("id")
        item.attrs(service, "type", "rate", "rate_basis", "min", "max", "refill", "cancel")
        item.attrs(service, "dripfeed", "description")
        item.done()


async def check_add(client: SmmApiClient, form: dict[str, str], exp: Expected) -> None:
    request = add_request(form)
    outcome: AddOutcome = await client.add(request)
    if exp.has("expected_total_quantity"):
        assert request.total_quantity == exp.take("expected_total_quantity")
    if exp.has("derived_quantity"):
        assert request.effective_quantity == exp.take("derived_quantity")
    if exp.take("ok"):
        assert outcome.kind == "accepted", outcome
        assert outcome.provider_order_id == exp.take("order_id")
        exp.attrs(outcome, "charge", "currency")
        return
    error = exp.left["error"]
    if error["type"] == "AmbiguousOrderError":
        spec = Expected(exp.take("error"), "error")
        spec.take("type")
        assert outcome.kind == "ambiguous", outcome
        # "ambiguous" is the outcome that is never resent and always checked by a person.
        assert spec.take("retryable") is False
        assert spec.take("must_reconcile") is True
        spec.done()
        return
    assert isinstance(outcome.error, ApiError), outcome
    expected_kind = "no_funds" if error.get("code") == "insufficient_funds" else "rejected"
    assert outcome.kind == expected_kind
    assert outcome.reason == outcome.error.reason
    check_top_level_error(exp, outcome.error)


async def check_status(client: SmmApiClient, form: dict[str, str], exp: Expected) -> None:
    if "orders" in form:
        await check_multi_status(client, form["orders"].split(","), exp)
        return
    status = await answered(client.status(form["order"]), exp)
    if status is None:
        return
    check_order_status(status, exp)


def check_order_status(status: RemoteOrderStatus, exp: Expected) -> None:
    if exp.has("kind"):
        assert status.kind == KIND[exp.take("kind")]
    exp.attrs(status, "order_id", "status", "raw_status", "charge", "start_count", "remains")
    exp.attrs(status, "currency", "terminal", "runs", "child_order_ids", "posts", "expiry")
    exp.attrs(status, "delivered_over", "remains_raw")


async def check_multi_status(client: SmmApiClient, ids: list[str], exp: Expected) -> None:
    result = await client.multi_status(ids)
    if not exp.take("ok"):
        spec = exp.take("error")
        assert set(result.failed) == set(ids) and not result.results
        for order_id in ids:
            check_error(spec, result.failed[order_id])
        return
    if exp.has("missing"):
        assert result.missing == exp.take("missing")
    if exp.has("results_by_position"):
        exp.take("notes")  # "best effort, low confidence" → the positional flag
        assert result.positional is True
        entries = dict(zip(ids, exp.take("results_by_position"), strict=True))
    else:
        assert result.positional is False
        entries = exp.take("results")
    for order_id, spec in entries.items():
        check_status_entry(result.results[order_id], Expected(spec, f"results[{order_id}]"))


def check_status_entry(entry: RemoteOrderStatus | OrderLookupError, exp: Expected) -> None:
    if exp.has("error"):
        assert isinstance(entry, OrderLookupError), entry
        check_error(exp.take("error"), entry)
    else:
        assert isinstance(entry, RemoteOrderStatus), entry
        check_order_status(entry, exp)
    exp.done()


async def check_refill(client: SmmApiClient, form: dict[str, str], exp: Expected) -> None:
    if "orders" in form:
        results = await client.multi_refill(form["orders"].split(","))
        assert exp.take("ok") is True
        check_results(results, exp)
        return
    result = await answered(client.refill(form["order"]), exp)
    if result is None:
        return
    exp.attrs(result, "order_id", "refill_id", "accepted")


def check_results(results: Mapping[str, Any], exp: Expected) -> None:
    """The fixture's `results`, id by id, against a multi-id answer."""
    for key, spec in exp.take("results").items():
        check_per_id(results[key], Expected(spec, f"results[{key}]"))


def check_per_id(result: Any, exp: Expected) -> None:
    """A RefillResult / RefillStatus / CancelResult entry."""
    if exp.has("error"):
        assert result.error is not None, result
        check_error(exp.take("error"), result.error)
    else:
        assert result.error is None, result
    exp.attrs(result, "refill_id", "accepted", "status", "raw_status")
    exp.done()


async def check_refill_status(client: SmmApiClient, form: dict[str, str], exp: Expected) -> None:
    if "refills" in form:
        results = await client.multi_refill_status(form["refills"].split(","))
        assert exp.take("ok") is True
        check_results(results, exp)
        return
    result = await answered(client.refill_status(form["refill"]), exp)
    if result is None:
        return
    exp.attrs(result, "refill_id", "status", "raw_status")


async def check_cancel(client: SmmApiClient, form: dict[str, str], exp: Expected) -> None:
    ids = ids_of(form, "order", "orders")
    results = await client.cancel(ids)
    assert set(results) == set(ids)
    if exp.take("ok"):
        check_results(results, exp)
        return
    # A refusal of the whole request: every id is not accepted and carries that error.
    spec = exp.take("error")
    for order_id in ids:
        assert results[order_id].accepted is False
        check_error(spec, results[order_id].error)


async def check_balance(client: SmmApiClient, form: dict[str, str], exp: Expected) -> None:
    balance = await answered(client.balance(), exp)
    if balance is None:
        return
    exp.attrs(balance, "amount", "currency")


async def check_raw_call(client: SmmApiClient, form: dict[str, str], exp: Expected) -> None:
    """Unknown actions (Q34) through the low-level ``call``."""
    try:
        await client.call(form["action"])
    except ProviderError as error:
        assert exp.take("ok") is False
        check_top_level_error(exp, error)
        return
    pytest.fail("an unknown action must fail")


CHECKS = {
    "services": check_services,
    "add": check_add,
    "status": check_status,
    "refill": check_refill,
    "refill_status": check_refill_status,
    "cancel": check_cancel,
    "balance": check_balance,
    "foo": check_raw_call,
}


async def test_every_fixture_action_has_a_check() -> None:
    assert {f["action"] for f in FIXTURES} <= set(CHECKS)
    assert len(FIXTURES) == 129


async def test_over_long_batch_is_chunked_not_refused(fake: FakeProvider, make_client: Any) -> None:
    """multi_status.top_level_error: 101 ids go out as 100 + 1, never as one refused batch."""
    fixture = next(f for f in FIXTURES if f["id"] == "multi_status.top_level_error")
    ids = fixture["request"]["orders"].split(",")
    await make_client().multi_status(ids)
    sent = [r.form["orders"].split(",") for r in fake.requests_for("status")]
    assert sorted(len(chunk) for chunk in sent) == [1, 100]
    assert sorted((i for chunk in sent for i in chunk), key=int) == ids
