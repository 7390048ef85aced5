"""/map with a priority, /unmap, and the mappings shown in /service and /services."""

from __future__ import annotations

import re

from tests.fakes.provider_server import FakeProvider
from tests.harness.console import API_KEY, connect_and_import, service_id_for


def mapped_count(providers_text: str, name: str) -> int:
    """'Services mapped: N' in the /providers block of one provider."""
    block = providers_text.split(f"<b>{name}</b>", 1)[1].split("\n\n", 1)[0]
    found = re.search(r"Services mapped: (\d+)", block)
    assert found is not None, block
    return int(found.group(1))


async def test_backups_in_priority_order(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    followers = await service_id_for(app, "1")
    async with FakeProvider(api_key=API_KEY, currency="RUB") as second:
        await admin.send(f"/addprovider fp2 {second.url} {API_KEY}")
        assert "Created" not in (await admin.send("/import fp2 50")).text  # no rate yet
        await admin.send("/providerset fp2 fx 0.01")
        await admin.send("/import fp2 50")
        before = mapped_count((await admin.send("/providers")).text, "fp2")
        text = (await admin.send(f"/map {followers} fp2 1 2")).text
        assert "fp2</b> service 1 (Instagram Followers) is mapping 2" in text
        assert "1. <b>fp</b> #1 · cost 0.90 USD" in text
        assert "2. <b>fp2</b> #1 · cost 0.009 USD" in text  # 0.90 RUB at 0.01
        # /providers counts the backup too, as /check does.
        assert mapped_count((await admin.send("/providers")).text, "fp2") == before + 1
        listing = (await admin.send("/services")).text
        assert "fp#1 → fp2#1" in listing
        assert "same order fields" in (await admin.send(f"/map {followers} fp2 3 3")).text
        assert "already the first mapping" in (await admin.send(f"/map {followers} fp 1 2")).text
        assert "Usage" in (await admin.send(f"/map {followers} fp2 1 0")).text

        text = (await admin.send(f"/unmap {followers} fp 1")).text
        assert "mapping removed" in text and "1. <b>fp2</b> #1" in text
        assert "fp2#1" in (await admin.send("/services")).text
        text = (await admin.send(f"/unmap {followers} fp 1")).text
        assert "is not mapped to that provider service" in text
        text = (await admin.send(f"/unmap {followers} fp2 1")).text
        assert "orders will wait for review until you /map it" in text
