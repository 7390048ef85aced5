"""/import, /services, /map, /setprice, /service through the dispatcher, FakeProvider over HTTP."""

from __future__ import annotations

import time
from decimal import Decimal

from sqlalchemy import func, select

from db.models import AdminAuditLog, Category, ProviderService, Service
from tests.harness.console import API_KEY, connect_and_import, service_id_for


async def services(app) -> list[Service]:
    async with app.sessionmaker() as session:
        return list(await session.scalars(select(Service).order_by(Service.id)))


async def test_import_creates_categories_services_and_prices(app, admin, fake) -> None:
    await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    text = (await admin.send("/import fp 50")).text
    assert "5 services fetched" in text
    assert "Created: 5 · Updated: 0 · Unchanged: 0" in text
    assert "Imported switched off" not in text  # subscriptions are ordered in the chat too
    rows = {s.provider_service_id: s for s in await services(app)}
    followers = rows["1"]
    assert followers.price == Decimal("1.35")  # 0.90 × 1.5
    assert (followers.min, followers.max, followers.type) == (50, 10000, "default")
    assert followers.refill and followers.cancel and followers.dripfeed and followers.enabled
    assert followers.mode == "auto"
    assert rows["3"].rate_basis == "flat" and rows["3"].price == Decimal("7.5")
    assert rows["2"].type == "custom_comments" and rows["2"].enabled
    assert rows["5"].enabled  # subscriptions: the chat asks for their fields
    async with app.sessionmaker() as session:
        cats = {c.name: c.platform for c in await session.scalars(select(Category))}
    assert cats == {"Instagram": "instagram", "Packages": None, "TikTok": "tiktok"}


async def test_import_twice_keeps_the_same_services(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    first = [(s.id, s.price) for s in await services(app)]
    text = (await admin.send("/import fp 50")).text
    assert "Created: 0 · Updated: 0 · Unchanged: 5" in text
    assert [(s.id, s.price) for s in await services(app)] == first
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ProviderService)) == 5
        assert await session.scalar(select(func.count()).select_from(Category)) == 3


async def test_reimport_updates_drops_and_keeps_manual_prices(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    tiktok = await service_id_for(app, "4")
    await admin.send(f"/setprice {tiktok} 0.10")
    await admin.send(f"/service {followers} off")
    fake.services[0].update(name="IG Followers v2", rate="1.00", min="100", max="5000")
    fake.services[3]["rate"] = "0.20"  # now above our manual 0.10
    del fake.services[1]  # custom comments dropped
    text = (await admin.send("/import fp 20")).text
    # 1 changed, 3 and 5 re-priced with the new markup; 4 keeps its manual price
    assert "Created: 0 · Updated: 3 · Unchanged: 1" in text
    assert "No longer offered by the provider: 1 (panel services switched off: 1)" in text
    assert "Prices set by hand and kept: 1" in text
    assert f"#{tiktok}" in text and "below the provider's rate 0.20" in text
    rows = {s.provider_service_id: s for s in await services(app)}
    assert rows["1"].name == "IG Followers v2" and rows["1"].price == Decimal("1.2")
    assert (rows["1"].min, rows["1"].max) == (100, 5000)
    assert not rows["1"].enabled  # the admin's "off" sticks
    assert rows["4"].price == Decimal("0.10")
    assert not rows["2"].enabled
    async with app.sessionmaker() as session:
        dropped = await session.scalar(
            select(ProviderService).where(ProviderService.service_id == "2")
        )
        alerts = await session.scalar(
            select(func.count())
            .select_from(AdminAuditLog)
            .where(AdminAuditLog.action == "catalog.import")
        )
    assert dropped is not None and not dropped.available
    assert alerts == 2
    # The provider offers it again: it comes back unavailable→available, service stays off.
    fake.services.insert(
        1,
        {
            "service": 2,
            "name": "Comments",
            "type": "Custom Comments",
            "category": "Instagram",
            "rate": "8",
            "min": "10",
            "max": "1500",
        },
    )
    text = (await admin.send("/import fp 20")).text
    assert "Offered again: 1" in text and "Created: 0" in text
    assert len(await services(app)) == 5


async def test_import_bad_arguments_and_failures(app, admin, fake) -> None:
    for bad in ("/import", "/import fp", "/import fp x", "/import fp 1 2"):
        assert "Usage: <code>/import NAME MARKUP_PERCENT" in (await admin.send(bad)).text
    assert "No provider named fp" in (await admin.send("/import fp 10")).text
    await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    assert "between 0 and 10000" in (await admin.send("/import fp -5")).text
    fake.set_fault("services", "html", times=3)
    text = (await admin.send("/import fp 10")).text
    assert "Could not fetch the services of fp" in text
    assert await services(app) == []


async def test_an_empty_answer_does_not_wipe_the_catalogue(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    fake.services = []
    text = (await admin.send("/import fp 50")).text
    assert "answered with no services at all, so nothing was changed" in text
    assert all(s.enabled for s in await services(app))


async def test_large_catalog_imports_in_seconds(app, admin, fake) -> None:
    fake.services = [
        {"service": i, "name": f"Service {i}", "type": "Default", "category": f"Cat {i % 40}",
         "rate": f"0.{i:04d}", "min": "10", "max": "100000", "refill": i % 2 == 0}
        for i in range(1, 3001)
    ]  # fmt: skip
    await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    started = time.monotonic()
    assert "Created: 3000" in (await admin.send("/import fp 25")).text
    first = time.monotonic() - started
    started = time.monotonic()
    assert "Unchanged: 3000" in (await admin.send("/import fp 25")).text
    second = time.monotonic() - started
    assert first < 10 and second < 10, (first, second)
    assert len(await services(app)) == 3000


async def test_services_lists_ids_prices_and_mapping_in_pages(app, admin, fake) -> None:
    assert "No services yet" in (await admin.send("/services")).text
    fake.services = [
        {"service": i, "name": f"<i>Svc {i}</i> " + "x" * 80, "type": "Default",
         "category": "Instagram" if i % 2 else "TikTok", "rate": "1", "min": "10", "max": "100"}
        for i in range(1, 61)
    ]  # fmt: skip
    await connect_and_import(admin, fake, markup=10)
    reply = await admin.send("/services")
    assert len(reply.text) < 4096
    assert "<b>Services</b> (60) · page 1/3" in reply.text
    assert "&lt;i&gt;Svc 1&lt;/i&gt;" in reply.text and "<i>" not in reply.text
    assert "1.10/1k · 10–100 · auto · fp#1" in reply.text
    reply = await admin.press_button("▶")
    assert "page 2/3" in reply.text and len(reply.text) < 4096
    reply = await admin.send("/services tiktok")
    assert "(30)" in reply.text and "Instagram" not in reply.text
    assert "No category matches" in (await admin.send("/services nothing")).text


async def test_map_validates_and_copies_the_provider_fields(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    tiktok = await service_id_for(app, "4")
    await admin.send(f"/setprice {tiktok} 0.5 force")
    reply = await admin.send(f"/map {tiktok} fp 1")
    assert "now maps to <b>fp</b> service 1" in reply.text
    assert "The price 0.50 is below the provider's cost 0.90" in reply.text
    [row] = [s for s in await services(app) if s.id == tiktok]
    assert row.provider_service_id == "1" and (row.min, row.max) == (100, 10000)
    assert row.refill and row.cancel
    assert "has no imported service 99" in (await admin.send(f"/map {tiktok} fp 99")).text
    assert "No service #999" in (await admin.send("/map 999 fp 1")).text
    assert "No provider named zz" in (await admin.send(f"/map {tiktok} zz 1")).text
    for bad in ("/map", "/map x fp 1", "/map 1 fp"):
        assert "Usage: <code>/map" in (await admin.send(bad)).text


async def test_setprice_refuses_below_cost_unless_forced(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    reply = await admin.send(f"/setprice {followers} 0.5")
    assert "Refused: 0.50 is below the provider's cost 0.90" in reply.text
    reply = await admin.send(f"/setprice {followers} 0.5 force")
    assert "price 1.35 → 0.50 USD" in reply.text and "below cost (forced)" in reply.text
    reply = await admin.send(f"/setprice {followers} 2")
    assert "price 0.50 → 2.00 USD" in reply.text and "Provider cost: 0.90 USD" in reply.text
    for bad in ("/setprice", f"/setprice {followers}", f"/setprice {followers} x",
                f"/setprice {followers} 1 please"):  # fmt: skip
        assert "Usage: <code>/setprice" in (await admin.send(bad)).text
    assert "positive number" in (await admin.send(f"/setprice {followers} 0")).text
    assert "No service #999" in (await admin.send("/setprice 999 1")).text
    async with app.sessionmaker() as session:
        actions = list(await session.scalars(select(AdminAuditLog.action)))
    assert actions.count("service.setprice") == 2


async def test_service_switches(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    subscriptions = await service_id_for(app, "5")
    assert "off, auto mode" in (await admin.send(f"/service {followers} off")).text
    assert "on, auto mode" in (await admin.send(f"/service {followers} on")).text
    assert "on, manual mode" in (await admin.send(f"/service {followers} manual")).text
    assert "on, auto mode" in (await admin.send(f"/service {followers} auto")).text
    assert "on, auto mode" in (await admin.send(f"/service {subscriptions} on")).text
    for bad in ("/service", f"/service {followers} maybe"):
        assert "Usage: <code>/service SERVICE_ID" in (await admin.send(bad)).text
    card = (await admin.send(f"/service {followers}")).text
    assert "Mappings</b> (tried in this order)\n1. <b>fp</b> #1 · cost 0.90 USD" in card
    assert "No service #999" in (await admin.send("/service 999 on")).text


async def test_a_service_that_changes_to_a_type_the_chat_cannot_take_is_switched_off(
    app, admin, fake
) -> None:
    """Imported types the chat cannot collect are off, and /service on refuses them: a
    re-import that turns an enabled service into such a type must switch it off too."""
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    fake.services[0]["type"] = "Poll"
    text = (await admin.send("/import fp 50")).text
    assert "Imported switched off: 1" in text and "poll (1)" in text
    service = next(s for s in await services(app) if s.id == followers)
    assert service.type == "poll" and not service.enabled
    assert "cannot be switched on" in (await admin.send(f"/service {followers} on")).text


async def test_an_import_with_hundreds_of_odd_types_still_answers_within_the_limit(
    app, admin, fake
) -> None:
    """Unknown types are kept as the provider spells them: a garbage catalogue must not make
    the import summary longer than Telegram accepts (the admin would get no answer)."""
    fake.services = [
        {"service": str(1000 + i), "name": f"Odd {i}", "type": f"Weird Kind Number {i:04d} <x>",
         "category": "Odd", "rate": "1.00", "min": "10", "max": "100"}
        for i in range(300)
    ]  # fmt: skip
    await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    reply = await admin.send("/import fp 50")
    assert "300 services fetched" in reply.text and "Imported switched off: 300" in reply.text
    assert reply.texts and all(len(text) <= 4096 for text in reply.texts)
    assert "&lt;x&gt;" in reply.text and "<x>" not in reply.text
