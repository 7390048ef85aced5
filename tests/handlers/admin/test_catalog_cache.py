"""The catalogue cache (core.catalog_cache): every admin change reaches the customer's next
step, every catalogue write raises the version, a change on one replica reaches another
within the bound, and after /import the cache holds what the database holds."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bot.app import App
from core.catalog_cache import load_catalog
from core.watch import check_balances, check_prices
from db.cache_versions import CATALOG, read_version
from handlers.order.callbacks import ServicePick
from tests.fakes.provider_server import FakeProvider
from tests.harness.apps import chat_on
from tests.harness.console import API_KEY, connect_and_import, service_id_for
from tests.harness.dispatcher import TgChat
from tests.harness.ledger import give_money
from tests.harness.settings import ADMIN_ID, ADMINS, CUSTOMER


async def version(app: App) -> int:
    async with app.sessionmaker() as session:
        return await read_version(session, CATALOG)


async def instagram(customer: TgChat) -> dict[int, str]:
    """The Instagram services the customer is shown: Service ID → button label."""
    await customer.send("/neworder")
    await customer.press_button("Instagram")
    picks = {data: label for label, data in customer.last.buttons()}
    return {
        ServicePick.unpack(data).service_id: label
        for data, label in picks.items()
        if data.startswith(ServicePick.__prefix__)
    }


async def test_every_admin_change_shows_at_the_customers_next_step(
    app, admin, customer, fake
) -> None:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    assert "1.35" in (await instagram(customer))[followers]

    await admin.send(f"/setprice {followers} 2.40")
    assert "2.40" in (await instagram(customer))[followers]

    await admin.send(f"/service {followers} off")
    assert followers not in await instagram(customer)
    await admin.send(f"/service {followers} on")
    assert followers in await instagram(customer)

    fake.services[0]["name"] = "Instagram Followers HQ"
    fake.services.append(
        {"service": 6, "name": "Instagram Saves", "type": "Default", "category": "Instagram",
         "rate": "0.20", "min": "10", "max": "500"}
    )  # fmt: skip
    assert "Imported" in (await admin.send("/import fp 50")).text
    shown = await instagram(customer)
    assert "Instagram Followers HQ" in shown[followers]
    assert "Instagram Saves" in shown[await service_id_for(app, "6")]

    # The card and the quote of the service picked read the same snapshot.
    await customer.press(ServicePick(service_id=followers).pack())
    assert "Instagram Followers HQ" in customer.last.text and "2.40" in customer.last.text


async def test_every_catalogue_write_raises_the_version_and_nothing_else_does(
    app, admin, customer, fake
) -> None:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    async with FakeProvider(api_key=API_KEY) as backup:
        assert "connected" in (await admin.send(f"/addprovider fp2 {backup.url} {API_KEY}")).text
        await admin.send("/import fp2 50")
        changes = [
            f"/setprice {followers} 3",
            f"/service {followers} manual",
            f"/service {followers} auto",
            f"/map {followers} fp2 1 2",  # a backup mapping
            f"/unmap {followers} fp2 1",
            "/providerset fp rate 3",
            "/providerset fp concurrency 2",
            "/providerset fp off",
            "/providerset fp on",
        ]
        for command in changes:
            before = await version(app)
            await admin.send(command)
            assert await version(app) > before, command

        before = await version(app)
        fake.services[0]["rate"] = "0.95"  # the price watch refreshes the imported rows
        await check_prices(app.sessionmaker, app.registry, ADMINS)
        assert await version(app) > before

        # Not catalogue changes: a balance check, a customer's visit and order.
        before = await version(app)
        await check_balances(app.sessionmaker, app.registry, ADMINS)
        await give_money(app.sessionmaker, CUSTOMER, "10")
        await instagram(customer)
        await customer.press(ServicePick(service_id=followers).pack())
        await customer.send("https://instagram.com/alice")
        await customer.send("100")
        await customer.press_button("All at once")  # the service offers drip-feed
        await customer.press_button("Confirm")
        assert "placed" in customer.last.text
        assert await version(app) == before


async def test_a_step_reads_the_catalogue_once_per_change(app, admin, customer, fake) -> None:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    await instagram(customer)
    loads = app.catalog.loads
    for _ in range(3):
        await instagram(customer)
        await customer.press(ServicePick(service_id=followers).pack())
    assert app.catalog.loads == loads  # no change: no reload
    await admin.send(f"/setprice {followers} 2")
    await instagram(customer)
    await instagram(customer)
    assert app.catalog.loads == loads + 1


async def test_after_import_the_cache_holds_what_the_database_holds(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    fake.services[3].update(name="TikTok Views Fast", rate="0.07", min="200")
    del fake.services[1]
    await admin.send("/import fp 30")
    async with app.sessionmaker() as session:
        cached = await app.catalog.current(session)
        fresh = await load_catalog(session, cached.version)
    assert cached == fresh
    assert cached.version == await version(app)
    tiktok = cached.services[await service_id_for(app, "4")]
    assert (tiktok.name, tiktok.price, tiktok.min) == ("TikTok Views Fast", Decimal("0.091"), 200)
    assert await service_id_for(app, "2") not in cached.services  # dropped: switched off
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiktok.price = Decimal(0)  # type: ignore[misc]
    assert isinstance(cached.categories, tuple)


# --- two replicas on one database ---------------------------------------------------------


async def test_a_change_on_one_replica_reaches_the_other_within_the_bound(
    replicas: tuple[App, App], fake: FakeProvider
) -> None:
    one, other = replicas
    now = [1000.0]
    other.catalog.watch.clock = lambda: now[0]  # the other replica's clock, moved by hand
    admin, customer = chat_on(one, ADMIN_ID), chat_on(other, CUSTOMER)
    await connect_and_import(admin, fake)
    followers = await service_id_for(one, "1")
    assert "1.35" in (await instagram(customer))[followers]

    await admin.send(f"/setprice {followers} 2.40")
    now[0] += other.catalog.watch.check_every / 2
    assert "1.35" in (await instagram(customer))[followers]  # within the bound: cached
    now[0] += other.catalog.watch.check_every
    assert "2.40" in (await instagram(customer))[followers]  # past it: the change is seen

    await admin.send(f"/service {followers} off")
    now[0] += other.catalog.watch.check_every + 0.01
    assert followers not in await instagram(customer)


async def test_confirm_never_charges_a_stale_price(
    replicas: tuple[App, App], fake: FakeProvider
) -> None:
    """The other replica still shows the old price (within the bound); Confirm re-reads the
    service in its write transaction and shows the new charge instead of taking it."""
    one, other = replicas
    other.catalog.watch.clock = lambda: 0.0  # never past the bound: the snapshot stays as loaded
    admin, customer = chat_on(one, ADMIN_ID), chat_on(other, CUSTOMER)
    await connect_and_import(admin, fake)
    followers = await service_id_for(one, "1")
    await give_money(other.sessionmaker, CUSTOMER, "10")
    other.lanes.running = False
    await instagram(customer)
    await customer.press(ServicePick(service_id=followers).pack())
    await customer.send("https://instagram.com/alice")
    await customer.send("1000")
    assert "1.35" in (await customer.press_button("All at once")).text
    await admin.send(f"/setprice {followers} 2.40")
    reply = await customer.press_button("Confirm")
    assert any("price has changed" in (a.text or "") for a in reply.alerts)
    assert "2.40" in reply.text
