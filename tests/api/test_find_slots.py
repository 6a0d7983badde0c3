"""A process runs at most `concurrent_finds` single finds at once; the others stay queued."""

from __future__ import annotations

from pathlib import Path

from mailsleuth.config import Settings

from .conftest import serving, wait_until


def test_a_search_stays_queued_until_a_find_slot_is_free(world_settings: Settings, tmp_path: Path) -> None:
    settings = world_settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'slots.db'}", "concurrent_finds": 1}
    )
    with serving(settings) as server:
        tenant = server.tenant()
        with server.native(tenant) as client:
            # tarpit.test's banner comes after the probe timeout: its find holds the one slot for seconds
            slow = client.post("/v1/find", json={"name": "Jane Doe", "domain": "tarpit.test", "wait": 0}).json()
            wait_until(lambda: client.get(f"/v1/searches/{slow['id']}").json()["status"] == "PROCESSING")
            waiting = client.post("/v1/find", json={"name": "John Smith", "domain": "acme.test", "wait": 0.5}).json()
            assert waiting["status"] == "QUEUED"  # half a second later: acme.test alone answers in less
            assert client.get(f"/v1/searches/{slow['id']}").json()["status"] == "PROCESSING"
            done = wait_until(lambda: (r := client.get(f"/v1/searches/{waiting['id']}")).status_code == 200 and r)
            assert done.json()["contact"]["email"] == "john.smith@acme.test"
            first = client.get(f"/v1/searches/{slow['id']}").json()
            assert first["status"] == "ENDED"  # it had the slot, so it ended first
