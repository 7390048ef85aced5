"""A careless or hostile provider's answers, read at the edge (SPEC §5, smm-api-v2.md §2).

A redirect or a server error is never a definite refusal; an accepted add must carry an id
that can be synced; a number too big to store never blocks the status that carries it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from providers import AddRequest, TransportError
from providers.types import OrderLookupError
from tests.fakes.provider_server import FakeProvider

FOLLOWERS = AddRequest(service="1", link="https://instagram.com/example", quantity=1000)


@pytest.mark.parametrize("http_status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(
    "body", [{"error": "Incorrect service ID"}, {"message": "Found"}, {"order": 23501}]
)
async def test_a_redirect_is_ambiguous_never_a_refusal(
    fake: FakeProvider, client: Any, http_status: int, body: dict[str, Any]
) -> None:
    fake.respond(
        "add", http_status=http_status, body=body, headers={"Location": "https://new.example/"}
    )
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "ambiguous", outcome
    assert isinstance(outcome.error, TransportError) and outcome.error.request_sent
    assert "redirect" in outcome.error.message and "new.example" in outcome.error.message
    assert fake.count("add") == 1  # not followed: a re-POST could order twice


@pytest.mark.parametrize("http_status", [500, 502, 503, 504])
async def test_a_server_error_is_ambiguous_whatever_its_words(
    fake: FakeProvider, client: Any, http_status: int
) -> None:
    """SPEC §5: 5xx is ambiguous — a crashing server may have created the order first."""
    fake.respond("add", http_status=http_status, body={"error": "Incorrect service ID"})
    assert (await client.add(FOLLOWERS)).kind == "ambiguous"


async def test_a_client_error_with_words_is_still_a_refusal(
    fake: FakeProvider, client: Any
) -> None:
    fake.respond("add", http_status=422, body={"error": "Incorrect service ID"})
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "rejected" and outcome.error.code == "invalid_service"


NONSENSE_IDS = [
    ('{"order": 0}', "zero"),
    ('{"order": "0"}', "zero as text"),
    ('{"order": "000"}', "zeros"),
    ('{"order": -1}', "negative"),
    ('{"order": "-7"}', "negative text"),
    ('{"order": NaN}', "NaN"),
    ('{"order": "NaN"}', "NaN text"),
    ('{"order": Infinity}', "infinity"),
    ('{"order": 1.5}', "fraction"),
    ('{"order": "1.5"}', "fraction text"),
    ('{"order": "1e5"}', "exponent"),
    ('{"order": ""}', "empty"),
    ('{"order": "   "}', "blank"),
    ('{"order": true}', "true"),
    ('{"order": false}', "false"),
    ('{"order": {}}', "object"),
    ('{"order": {"id": 0}}', "nested zero"),
    ('{"order": []}', "list"),
    ('{"order": [5]}', "list with id"),
    ('{"order": null}', "null"),
    ('{"order": "null"}', "null text"),
    ('{"order": "undefined"}', "undefined"),
    ('{"order": "' + "9" * 129 + '"}', "longer than the column"),
    ('{"order": ' + "9" * 40 + "}", "beyond any integer column"),
    ('{"order": "12,13"}', "a list in disguise"),
    ('{"order": "12 13"}', "two ids"),
    ('{"order": "<b>1</b>"}', "markup"),
]


@pytest.mark.parametrize(("body_text", "why"), NONSENSE_IDS, ids=[w for _, w in NONSENSE_IDS])
async def test_a_nonsense_order_id_is_ambiguous_not_accepted(
    fake: FakeProvider, client: Any, body_text: str, why: str
) -> None:
    fake.respond("add", body_text=body_text)
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "ambiguous", (why, outcome)
    assert outcome.provider_order_id is None


@pytest.mark.parametrize(
    ("body_text", "order_id"),
    [
        ('{"order": 23501}', "23501"),
        ('{"order": "23501"}', "23501"),
        ('{"order": 23501.0}', "23501"),
        ('{"order": " 23501 "}', "23501"),
        ('{"order": "W8F3K2Q9"}', "W8F3K2Q9"),
        ('{"order": "ord_7f3a-91"}', "ord_7f3a-91"),
        ('{"order": {"id": "77"}}', "77"),
        ('{"order_id": 9223372036854775807}', "9223372036854775807"),
        ('{"order": "' + "7" * 128 + '"}', "7" * 128),
    ],
)
async def test_real_order_ids_are_still_accepted(
    fake: FakeProvider, client: Any, body_text: str, order_id: str
) -> None:
    fake.respond("add", body_text=body_text)
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "accepted" and outcome.provider_order_id == order_id


@pytest.mark.parametrize("charge", ['"1e12"', "100000000000", '"NaN"', '"-Infinity"', "1e400"])
async def test_an_accepted_add_keeps_its_id_when_the_charge_does_not_fit(
    fake: FakeProvider, client: Any, charge: str
) -> None:
    fake.respond("add", body_text=f'{{"order": 555, "charge": {charge}}}')
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "accepted" and outcome.provider_order_id == "555"


async def test_status_fields_that_do_not_fit_are_dropped_and_the_status_kept(
    fake: FakeProvider, client: Any
) -> None:
    body_text = (
        '{"status": "Canceled", "start_count": 18446744073709551616, '
        '"remains": "1e30", "charge": "100000000000", "currency": "USD"}'
    )
    fake.respond("status", body_text=body_text)
    status = await client.status("23501")
    assert status.status == "canceled" and status.terminal
    assert status.start_count is None and status.remains is None
    assert set(status.unstored) == {"start_count", "remains"}
    assert status.raw["remains"] == "1e30"  # the raw answer is kept for admins


async def test_status_fields_that_fit_are_read_as_before(fake: FakeProvider, client: Any) -> None:
    fake.respond(
        "status",
        body_text='{"status": "Partial", "start_count": "9223372036854775807", '
        '"remains": "+40", "charge": "9999999999.99999999"}',
    )
    status = await client.status("1")
    assert status.start_count == 2**63 - 1 and status.remains == -40
    assert status.charge == Decimal("9999999999.99999999") and not status.unstored


async def test_an_unreadable_status_word_spoils_only_its_own_id(
    fake: FakeProvider, client: Any
) -> None:
    fake.respond(
        "status",
        body={"1": {"status": ["Completed"]}, "2": {"status": "Canceled", "remains": "0"}},
    )
    result = await client.multi_status(["1", "2"])
    assert isinstance(result.results["1"], OrderLookupError)
    assert result.results["2"].status == "canceled"
