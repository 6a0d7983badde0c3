"""Searches and verifications left unfinished by a stopped process are picked up by the next one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailsleuth import store
from mailsleuth.api.dialects import DIALECTS
from mailsleuth.config import Settings
from mailsleuth.service import search, verification
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import JobStatus


@pytest.fixture
async def runtime(tmp_path: Path, world_settings: Settings) -> AsyncIterator[Runtime]:
    settings = world_settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"})
    db = store.Database.from_settings(settings)
    await db.migrate()
    rt = Runtime(settings, db, notices=DIALECTS.notices())
    yield rt
    await rt.close()
    await db.dispose()


async def test_unfinished_work_is_resumed(runtime: Runtime) -> None:
    db = runtime.db
    org = await store.create_org(db, "resumed", credits={"search": 5, "verify": 5})
    contact = await store.create_contact(db, org.id, name="Jane Doe", domain="acme.test", searching=True)
    left = await store.create_search(
        db, org.id, contact_id=contact.id,
        options={"name": "Jane Doe", "domain": "acme.test", "smtp": True, "dialect": "voilanorbert"},
    )
    broken = await store.create_search(db, org.id, options={"dialect": "voilanorbert"})
    check = await store.create_search(
        db, org.id, kind="single_verify", token="tok", options={"email": "john.smith@acme.test", "smtp": True}
    )

    assert await search.resume_searches(runtime) == 1
    assert await verification.resume_verifications(runtime) == 1
    await runtime.idle()

    done = await store.get_contact(db, org.id, contact.id)
    assert done is not None and done.email == "jane.doe@acme.test" and done.searching is False
    assert (await store.get_search(db, org.id, left.id)).status is JobStatus.ENDED
    failed = await store.get_search(db, org.id, broken.id)
    assert failed.status is JobStatus.ENDED and "cannot resume" in failed.error
    verified = await store.get_search(db, org.id, check.id)
    assert verified.status is JobStatus.ENDED and verified.result["verdict"] == "deliverable"
    assert await store.balance(db, org.id, "search") == 4
    assert await store.balance(db, org.id, "verify") == 4
