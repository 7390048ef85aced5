"""/check: the Auto Order health check finds each seed warning, against a FakeProvider."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.alerts import AlertKind
from db.engine import write_tx
from db.models import Notification, Service
from tests.harness.console import API_KEY, connect_and_import, service_id_for
from tests.harness.settings import ADMIN_ID


async def edit_service(app, service_id: int, **fields: object) -> None:
    async with app.sessionmaker() as session, write_tx(session):
        service = await session.get(Service, service_id)
        assert service is not None
        for key, value in fields.items():
            setattr(service, key, value)


async def test_a_fresh_import_is_all_good(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    text = (await admin.send("/check")).text
    assert "<b>fp</b> · key OK, balance 100.00 USD · 5 services checked" in text
    assert "✅ all good" in text
    assert fake.count("services") == 2  # the import's and a fresh one for the check


async def test_check_reports_each_broken_thing_on_its_own_line(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    comments = await service_id_for(app, "2")
    package = await service_id_for(app, "3")
    tiktok = await service_id_for(app, "4")
    await edit_service(app, followers, provider_service_id="999")  # a broken mapping
    await admin.send(f"/setprice {tiktok} 0.01 force")  # below the 0.05 cost
    await edit_service(app, comments, min=1, max=5000)  # outside the provider's 10–1500
    await edit_service(app, tiktok, refill=True)  # the provider offers no refill
    await edit_service(app, package, type="default")
    lines = (await admin.send("/check fp")).text.splitlines()
    expected = [
        f"#{followers} Instagram Followers: provider service 999 is no longer offered",
        f"#{comments} Instagram Custom Comments: min 1 is below the provider's min 10",
        f"#{comments} Instagram Custom Comments: max 5000 is above the provider's max 1500",
        f"#{tiktok} TikTok Views: price 0.01 is below the provider's cost 0.05",
        f"#{tiktok} TikTok Views: promises refill, the provider does not offer it",
        f"#{package} Instagram Starter Package: our type default, the provider's package",
    ]
    for part in expected:
        assert sum(part in line for line in lines) == 1, (part, lines)
    assert "all good" not in "\n".join(lines)
    # The price finding also reaches every admin as a deduplicated alert.
    async with app.sessionmaker() as session:
        alerts = list(
            await session.scalars(select(Notification).where(Notification.chat_id == ADMIN_ID))
        )
    kinds = [a.payload["alert"] for a in alerts]
    assert kinds == [AlertKind.PROVIDER_PRICE_ABOVE]
    assert alerts[0].payload["service_id"] == tiktok
    await admin.send("/check fp")
    async with app.sessionmaker() as session:
        again = list(
            await session.scalars(select(Notification).where(Notification.chat_id == ADMIN_ID))
        )
    assert len(again) == 1  # deduplicated


async def test_check_reports_a_dropped_service_and_low_balance(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    await admin.send("/providerset fp threshold 500")
    tiktok = await service_id_for(app, "4")
    fake.services = [s for s in fake.services if s["service"] != 4]
    text = (await admin.send("/check")).text
    assert "Balance 100.00 USD is below the alert threshold 500.00" in text
    assert f"#{tiktok} TikTok Views: provider service 4 is no longer offered" in text
    async with app.sessionmaker() as session:
        alert = await session.scalar(select(Notification).where(Notification.chat_id == ADMIN_ID))
    assert alert is not None and alert.payload["alert"] == AlertKind.PROVIDER_LOW_BALANCE
    assert alert.payload["threshold"] == "500.00"


async def test_check_says_what_is_wrong_and_what_to_do(app, admin, fake) -> None:
    """Key refused, unreachable, unreadable and the provider's own error text are four
    different problems with four different next steps."""
    await connect_and_import(admin, fake)
    fake.api_key = "rotated"
    text = (await admin.send("/check")).text
    assert "The provider refused the API key or account: Invalid API key" in text
    assert "copy the key again" in text
    fake.api_key = API_KEY
    fake.set_fault("balance", "html")  # every retry too
    text = (await admin.send("/check")).text
    assert "The answer was not the SMM API's" in text and "ends with /api/v2" in text
    fake.clear_faults()
    fake.respond("balance", body={"error": "Your IP is not whitelisted"}, times=None)
    text = (await admin.send("/check")).text
    assert "The provider answered with an error: Your IP is not whitelisted" in text
    fake.clear_faults()
    await fake.stop()
    text = (await admin.send("/check")).text
    assert "Provider unreachable (no answer)" in text and "check the API URL" in text
    assert "refused the API key" not in text


async def test_a_foreign_currency_provider_is_compared_once_its_rate_is_set(
    app, admin, fake
) -> None:
    fake.currency = "EUR"
    await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    text = (await admin.send("/import fp 50")).text
    assert "fp bills in EUR: set its rate first" in text
    text = (await admin.send("/check")).text
    assert "The provider bills in EUR, the panel sells in USD" in text
    assert "/providerset fp fx RATE" in text
    async with app.sessionmaker() as session:
        alerts = list(
            await session.scalars(select(Notification).where(Notification.chat_id == ADMIN_ID))
        )
    assert [a.payload["alert"] for a in alerts] == ["provider_fx_missing"]
    assert "Usage" in (await admin.send("/providerset fp fx abc")).text
    assert "1 EUR = 1.1 USD" in (await admin.send("/providerset fp fx 1.10")).text
    assert "Created: 5" in (await admin.send("/import fp 50")).text
    tiktok = await service_id_for(app, "4")
    async with app.sessionmaker() as session:
        service = await session.get(Service, tiktok)
        assert service is not None
        assert service.price == Decimal("0.0825")  # 0.05 EUR × 1.10 × 1.5
    text = (await admin.send(f"/setprice {tiktok} 0.05")).text
    assert "below the provider's cost 0.055 USD per 1000" in text
    text = (await admin.send(f"/setprice {tiktok} 0.05 force")).text
    assert "Provider cost: 0.055 USD per 1000" in text
    text = (await admin.send("/check")).text
    assert f"#{tiktok} TikTok Views: price 0.05 is below the provider's cost 0.055" in text
    assert "bills in EUR" not in text


async def test_check_lists_auto_services_without_a_provider(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    await edit_service(app, followers, provider_id=None, provider_service_id=None)
    text = (await admin.send("/check")).text
    assert f"#{followers} Instagram Followers: auto mode but not mapped" in text


async def test_check_arguments(app, admin) -> None:
    assert "No providers yet" in (await admin.send("/check")).text
    assert "No provider named x" in (await admin.send("/check x")).text
    assert "Usage: <code>/check [NAME]</code>" in (await admin.send("/check a b")).text
