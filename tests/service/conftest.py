"""What the service tests share: a migrated SQLite store per test (copied from one template per
module) and a Verifier on the module's own ``settings`` fixture (each module serves its own world)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailsleuth.config import Settings
from mailsleuth.engine.verify import Verifier
from mailsleuth.store import Database


@pytest.fixture(scope="module")
async def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("service") / "template.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    await database.dispose()
    return path


@pytest.fixture
async def db(template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    shutil.copyfile(template, tmp_path / "service.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    yield database
    await database.dispose()


@pytest.fixture
async def verifier(settings: Settings) -> AsyncIterator[Verifier]:
    engine = Verifier(settings)
    yield engine
    await engine.close()
