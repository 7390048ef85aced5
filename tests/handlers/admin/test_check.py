"""/check: the Auto Order health check finds each seed warning, against a FakeProvider."""

from __future__ import annotations

from sqlalchemy import select

from core.alerts import AlertKind
from db.engine import write_tx
from db.models import Notification, Service
from tests.harness.console import connect_and_import, service_id_for
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
    assert "<b>fp</b> · key OK, balance 100.00 USD · 4 services checked" in text
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


async def test_check_says_when_the_key_stopped_working(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    fake.api_key = "rotated"
    text = (await admin.send("/check")).text
    assert "API key refused: Invalid API key" in text


async def test_check_does_not_compare_prices_across_currencies(app, admin, fake) -> None:
    fake.currency = "EUR"
    await connect_and_import(admin, fake)
    tiktok = await service_id_for(app, "4")
    await admin.send(f"/setprice {tiktok} 0.01")  # not comparable: accepted with a warning
    text = (await admin.send("/check")).text
    assert "The provider bills in EUR, the panel sells in USD" in text
    assert "below the provider's cost" not in text


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
