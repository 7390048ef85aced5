"""Targeted real-HTTP tests for the quirks of smm-api-v2.md §6 that the fixtures leave open.

Where each quirk is covered (F = test_fixtures.py, by the fixture tags):
Q1 F + test_add_outcomes · Q2 F + here · Q3/Q4/Q5 F + here · Q6 F + here · Q7 here ·
Q8/Q9 F · Q10 F + here · Q11/Q12 F + test_multi · Q13 test_multi (cancel) · Q14 F ·
Q15/Q16/Q17/Q18 F · Q19 test_add_outcomes · Q20 F + test_add_outcomes + test_reads ·
Q21 F + here · Q22 F + here · Q23 here · Q24 F · Q25 test_multi · Q26 F + test_demo ·
Q27/Q28 test_add_forms · Q29 F · Q30 test_add_forms · Q31 test_multi + F ·
Q32 F · Q33 F + here · Q34 F · Q35/Q38 test_add_forms · Q36 F (status.canceled_charge_zero:
the client reports the provider's charge as-is; refunds come from our own ledger) ·
Q37 F + here · Q39 F · Q40 test_add_forms.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from providers import ApiError, NonJSONResponse, UnexpectedResponse
from tests.fakes.provider_server import FakeProvider

SPELLINGS = [
    ("Pending", "pending"), ("awaiting", "pending"), (0, "pending"), ("0", "pending"),
    ("Processing", "processing"), (1, "processing"),
    ("In progress", "in_progress"), ("In Progress", "in_progress"),
    ("inprogress", "in_progress"), ("in-progress", "in_progress"),
    ("in_progress", "in_progress"), (" IN   PROGRESS ", "in_progress"),
    ("Active", "active"), ("Paused", "paused"),
    ("Completed", "completed"), ("complete", "completed"), ("success", "completed"),
    (2, "completed"),
    ("Partial", "partial"), (3, "partial"),
    ("Canceled", "canceled"), ("Cancelled", "canceled"), ("cancel", "canceled"), (4, "canceled"),
    ("Refunded", "refunded"), ("Refunds", "refunded"), (5, "refunded"),
    ("Failed", "failed"), ("Fail", "failed"), ("Error", "failed"),
    ("Expired", "expired"),
    ("Awaiting moderation", "unknown"), ("", "unknown"), (None, "unknown"), (17, "unknown"),
]  # fmt: skip
TERMINAL = {"completed", "partial", "canceled", "refunded", "failed", "expired"}


async def test_q10_every_status_spelling(
    fake: FakeProvider, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for raw, normal in SPELLINGS:
        fake.respond("status", body={"charge": "1", "status": raw, "remains": "0"})
        status = await client.status("1")
        assert status.status == normal, raw
        assert status.terminal is (normal in TERMINAL), raw
        assert status.raw_status == (None if raw is None else str(raw))
    assert "Awaiting moderation" in caplog.text  # unknown statuses are logged, not fatal


async def test_refill_status_spellings(fake: FakeProvider, client: Any) -> None:
    cases = [("Pending", "pending"), ("Processing", "in_progress"), ("In progress", "in_progress"),
             ("completed", "completed"), ("Rejected", "rejected"), ("Canceled", "rejected"),
             ("error", "failed"), ("Failed", "failed"), ("Mystery", "unknown")]  # fmt: skip
    for raw, normal in cases:
        fake.respond("refill_status", body={"status": raw})
        assert (await client.refill_status("1")).status == normal, raw


async def test_q2_4xx_json_without_error_key_is_a_refusal(fake: FakeProvider, client: Any) -> None:
    fake.respond("balance", http_status=401, body={"message": "Unauthenticated."})
    with pytest.raises(ApiError) as caught:
        await client.balance()
    assert caught.value.code == "invalid_key" and caught.value.http_status == 401


async def test_q2_201_and_202_are_success(fake: FakeProvider, client: Any) -> None:
    fake.respond("balance", http_status=202, body={"balance": "5", "currency": "BRL"})
    assert (await client.balance()).amount == Decimal("5")


async def test_q5_q6_numbers(fake: FakeProvider, client: Any) -> None:
    fake.respond("status", body={"status": "Completed", "charge": "", "start_count": "Unknown",
                                 "remains": "1500", "currency": ""})  # fmt: skip
    status = await client.status("1")
    assert status.charge is None and status.start_count is None and status.currency is None
    assert status.remains == 1500  # more than ordered is kept as sent (clamp when refunding)
    fake.respond("status", body={"status": "Completed", "charge": 0.5, "remains": -3})
    status = await client.status("1")
    assert status.remains == -3 and status.delivered_over == 3
    assert status.charge == Decimal("0.5")


async def test_q7_tiny_rates_and_charges_stay_exact(fake: FakeProvider, client: Any) -> None:
    fake.services = [{"service": 1, "name": "Cheap views", "type": "Default",
                      "rate": "0.0002", "min": "100", "max": "1000000"}]  # fmt: skip
    service = (await client.services())[0]
    assert service.rate == Decimal("0.0002") and isinstance(service.rate, Decimal)
    assert service.rate * 100 / 1000 == Decimal("0.00002")
    fake.respond("status", body={"status": "Completed", "charge": 0.00002, "remains": "0"})
    charge = (await client.status("1")).charge
    assert charge == Decimal("0.00002") and isinstance(charge, Decimal)
    fake.respond("balance", body={"balance": 0.1, "currency": "USD"})
    # Via str(): not the binary 0.1000000000000000055...
    assert str((await client.balance()).amount) == "0.1"


async def test_q21_bom_whitespace_and_lying_content_type(fake: FakeProvider, client: Any) -> None:
    fake.respond("balance", content_type="text/plain",
                 body_text='\ufeff \r\n {"balance": "3.5", "currency": "USD"} \n')  # fmt: skip
    assert (await client.balance()).amount == Decimal("3.5")


async def test_q22_unreadable_catalogue_is_an_error_not_empty(
    fake: FakeProvider, make_client: Any
) -> None:
    fake.respond("services", body={"status": "success", "data": {"weird": 1}}, times=None)
    with pytest.raises(UnexpectedResponse):
        await make_client().services()
    fake.clear_faults()
    fake.set_fault("services", "html")
    with pytest.raises(NonJSONResponse):
        await make_client(read_retries=0).services()


async def test_q22_keyed_catalogue_and_bad_rows(fake: FakeProvider, client: Any) -> None:
    fake.respond("services", body={"7": {"name": "A", "rate": "1", "min": 1, "max": 2},
                                   "8": {"name": "B", "rate": "n/a"}})  # fmt: skip
    services = await client.services()
    assert [s.id for s in services] == ["7"]  # the unreadable row is skipped, not fatal


async def test_q23_refill_flag_is_not_trusted(fake: FakeProvider, client: Any) -> None:
    """The client asks even when the catalogue says refill:false, and surfaces the refusal."""
    order = fake.create_order(service=2, status="Completed")  # service 2: refill False
    with pytest.raises(ApiError) as caught:
        await client.refill(order)
    assert caught.value.code == "refill_not_allowed"
    assert caught.value.reason == "A refill is not possible for this order right now."
    assert fake.count("refill") == 1


@pytest.mark.parametrize(
    "message",
    ["Invalid API key", "Invalid API key.", "Incorrect API key", "API key invalid",
     "invalid API key", "api_is_disable_for_this_user"],
)  # fmt: skip
async def test_q33_auth_failure_variants_stop_the_provider(
    fake: FakeProvider, client: Any, message: str
) -> None:
    fake.respond("balance", body={"error": message})
    with pytest.raises(ApiError) as caught:
        await client.balance()
    assert caught.value.code == "invalid_key" and caught.value.stop_provider


async def test_q33_wrong_key_against_canonical_fake(fake: FakeProvider, http: Any) -> None:
    from providers import SmmApiClient

    with pytest.raises(ApiError) as caught:
        await SmmApiClient(http, fake.url, "not-the-key").balance()
    assert caught.value.code == "invalid_key"
    assert fake.count("balance") == 1  # refusals are never retried


async def test_q37_title_case_keys_everywhere(fake: FakeProvider, client: Any) -> None:
    fake.respond("balance", body={"Balance": "9.99", "Currency": "EUR"})
    assert (await client.balance()).currency == "EUR"
    fake.respond("add", body={"Order": 55})
    from providers import AddRequest

    outcome = await client.add(AddRequest(service="1", link="https://x.io/p", quantity=100))
    assert outcome.provider_order_id == "55"
    row = {"Service": 3, "Name": "X", "Type": "Default", "Rate": "1.5", "Min": "10", "Max": "20",
           "Refill": "yes"}  # fmt: skip
    fake.respond("services", body=[row])
    service = (await client.services())[0]
    assert (service.id, service.rate, service.min, service.refill) == (
        "3",
        Decimal("1.5"),
        10,
        True,
    )


async def test_single_status_answered_keyed_by_id(fake: FakeProvider, client: Any) -> None:
    fake.respond("status", body={"23501": {"status": "In progress", "remains": "5"}})
    assert (await client.status("23501")).status == "in_progress"
    fake.respond("status", body={"23501": {"error": "Incorrect order ID"}})
    with pytest.raises(ApiError) as caught:
        await client.status("23501")
    assert caught.value.code == "order_not_found"


async def test_q16_error_flag_with_message(fake: FakeProvider, client: Any) -> None:
    fake.respond("balance", body={"error": True, "message": "Incorrect API key"})
    with pytest.raises(ApiError) as caught:
        await client.balance()
    assert (caught.value.code, caught.value.message) == ("invalid_key", "Incorrect API key")
