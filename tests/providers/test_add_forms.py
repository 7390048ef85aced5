"""The exact ``add`` form fields per service type (smm-api-v2.md §5), as received by the server.

Covers Q27 (custom comments / mentions custom list: no quantity, blank lines dropped),
Q28 (drip-feed: per-run quantity, runs+interval together), Q30 (expiry d/m/Y), Q40 (posts
only when set) and Q38 (action always sent).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pytest

from providers import AddRequest
from tests.fakes.provider_server import FakeProvider
from tests.harness.providers import API_KEY

LINK = "https://instagram.com/p/abc"
CASES: list[tuple[str, AddRequest, dict[str, str]]] = [
    ("default", AddRequest(service="1", link=LINK, quantity=1000),
     {"link": LINK, "quantity": "1000"}),
    ("dripfeed", AddRequest(service="1", link=LINK, quantity=100, runs=10, interval=60),
     {"link": LINK, "quantity": "100", "runs": "10", "interval": "60"}),
    ("package", AddRequest(service="3", type="package", link=LINK, quantity=5),
     {"link": LINK}),
    ("custom_comments", AddRequest(service="2", type="Custom Comments", link=LINK, quantity=3,
                                   comments=["good pic", "", "  great photo ", ":)\n"]),
     {"link": LINK, "comments": "good pic\ngreat photo\n:)"}),
    ("custom_comments_package", AddRequest(service="2", type="custom_comments_package",
                                           link=LINK, comments="one\r\ntwo\n\n"),
     {"link": LINK, "comments": "one\ntwo"}),
    ("mentions", AddRequest(service="9", type="mentions", link=LINK, quantity=100,
                            usernames=["alice", "bob"]),
     {"link": LINK, "quantity": "100", "usernames": "alice\nbob"}),
    ("mentions_with_hashtags", AddRequest(service="9", type="Mentions with Hashtags", link=LINK,
                                          quantity=100, usernames=["a"], hashtags=["#x", "#y"]),
     {"link": LINK, "quantity": "100", "usernames": "a", "hashtags": "#x\n#y"}),
    ("mentions_custom_list", AddRequest(service="9", type="mentions_custom_list", link=LINK,
                                        quantity=50, usernames=["u1", "", "u2"]),
     {"link": LINK, "usernames": "u1\nu2"}),
    ("mentions_hashtag", AddRequest(service="9", type="mentions_hashtag", link=LINK,
                                    quantity=100, hashtag="#sun"),
     {"link": LINK, "quantity": "100", "hashtag": "#sun"}),
    ("mentions_user_followers", AddRequest(service="9", type="mentions_user_followers",
                                           link=LINK, quantity=100, username="nasa"),
     {"link": LINK, "quantity": "100", "username": "nasa"}),
    ("mentions_media_likers", AddRequest(service="9", type="mentions_media_likers", link=LINK,
                                         quantity=100, media="https://instagram.com/p/zz"),
     {"link": LINK, "quantity": "100", "media": "https://instagram.com/p/zz"}),
    ("comment_likes", AddRequest(service="9", type="comment_likes", link=LINK, quantity=100,
                                 username="owner"),
     {"link": LINK, "quantity": "100", "username": "owner"}),
    ("comment_replies", AddRequest(service="9", type="comment_replies", link=LINK,
                                   username="owner", comments=["thanks!"]),
     {"link": LINK, "username": "owner", "comments": "thanks!"}),
    ("poll", AddRequest(service="9", type="poll", link=LINK, quantity=100, answer_number=2),
     {"link": LINK, "quantity": "100", "answer_number": "2"}),
    ("invites_from_groups", AddRequest(service="9", type="invites_from_groups", link=LINK,
                                       quantity=100, groups=["g1", "g2"]),
     {"link": LINK, "quantity": "100", "groups": "g1\ng2"}),
    ("seo", AddRequest(service="9", type="seo", link=LINK, quantity=100,
                       keywords=["buy shoes", "shoes"]),
     {"link": LINK, "quantity": "100", "keywords": "buy shoes\nshoes"}),
    ("web_traffic_google", AddRequest(service="9", type="web_traffic", link=LINK, quantity=100,
                                      country="US", device=1, type_of_traffic=1,
                                      google_keyword="shoes"),
     {"link": LINK, "quantity": "100", "country": "US", "device": "1",
      "type_of_traffic": "1", "google_keyword": "shoes"}),
    ("web_traffic_referrer", AddRequest(service="9", type="web_traffic", link=LINK,
                                        quantity=100, country="United States", device=5,
                                        type_of_traffic=2, referring_url="https://ref.io",
                                        runs=2, interval=30),
     {"link": LINK, "quantity": "100", "country": "United States", "device": "5",
      "type_of_traffic": "2", "referring_url": "https://ref.io", "runs": "2", "interval": "30"}),
    ("subscriptions", AddRequest(service="5", type="subscriptions", link=LINK, quantity=10,
                                 username="nasa", min=100, max=110, delay=30),
     {"username": "nasa", "min": "100", "max": "110", "delay": "30"}),
    ("subscriptions_full", AddRequest(service="5", type="Subscriptions", username="nasa",
                                      min=100, max=110, delay=0, posts=0, old_posts=5,
                                      expiry=date(2026, 7, 20)),
     {"username": "nasa", "min": "100", "max": "110", "delay": "0", "posts": "0",
      "old_posts": "5", "expiry": "20/07/2026"}),
]  # fmt: skip


@pytest.mark.parametrize(("request_", "fields"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_add_sends_exactly_the_type_fields(
    fake: FakeProvider, client: Any, request_: AddRequest, fields: dict[str, str]
) -> None:
    await client.add(request_)
    assert fake.count("add") == 1
    sent = fake.requests_for("add")[0]
    assert sent.form == {"key": API_KEY, "action": "add", "service": request_.service, **fields}
    assert sent.method == "POST" and sent.query == ""
    assert sent.headers["Content-Type"].startswith("application/x-www-form-urlencoded")


def test_derived_quantities() -> None:
    comments = AddRequest(service="2", type="custom_comments", comments=["a", " ", "b", "c"])
    assert comments.effective_quantity == comments.total_quantity == 3
    drip = AddRequest(service="1", link=LINK, quantity=100, runs=10, interval=5)
    assert (drip.effective_quantity, drip.total_quantity) == (100, 1000)
    assert AddRequest(service="3", type="package", link=LINK).total_quantity == 1
    assert AddRequest(service="5", type="subscriptions").total_quantity is None


async def test_unknown_type_falls_back_to_default_with_warning(
    fake: FakeProvider, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="providers")
    await client.add(AddRequest(service="1", type="Story Views Ultra", link=LINK, quantity=50))
    assert fake.requests[0].form == {
        "key": API_KEY, "action": "add", "service": "1", "link": LINK, "quantity": "50"
    }  # fmt: skip
    assert "story views ultra" in caplog.text


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        (AddRequest(service="1", link=LINK, quantity=100, runs=3), "runs and interval"),
        (AddRequest(service="1", link=LINK, quantity=100, interval=5), "runs and interval"),
        (AddRequest(service="3", type="package", link=LINK, runs=2, interval=5), "drip-feed"),
        (AddRequest(service="2", type="custom_comments", link=LINK, comments=["", " "]),
         "comments"),
        (AddRequest(service="5", type="subscriptions", username="x", min=1), "max"),
        (AddRequest(service="9", type="web_traffic", link=LINK, quantity=1, country="US",
                    device=1, type_of_traffic=1), "google_keyword"),
        (AddRequest(service=" ", link=LINK, quantity=1), "service"),
    ],
)  # fmt: skip
async def test_incomplete_requests_are_refused_before_sending(
    fake: FakeProvider, client: Any, request_: AddRequest, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        await client.add(request_)
    assert fake.count() == 0


async def test_every_action_sends_action_and_key_in_body(fake: FakeProvider, client: Any) -> None:
    """Q38 (copies of the PHP example drop ``action`` on refill calls) and Q35 (POST form)."""
    order = fake.create_order(status="Completed")
    await client.services()
    await client.balance()
    await client.status(order)
    await client.multi_status([order])
    refill = await client.refill(order)
    await client.multi_refill([order])
    await client.refill_status(refill.refill_id)
    await client.multi_refill_status([refill.refill_id])
    await client.cancel([order])
    await client.add(AddRequest(service="1", link=LINK, quantity=100))
    actions = [r.form.get("action") for r in fake.requests]
    assert actions == ["services", "balance", "status", "status", "refill", "refill",
                       "refill_status", "refill_status", "cancel", "add"]  # fmt: skip
    assert all(r.form["key"] == API_KEY and r.method == "POST" for r in fake.requests)
    assert all(r.query == "" for r in fake.requests)
