"""Session-wide fixtures: the scripted mail world every IO test talks to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailsleuth.config import Settings
from tests.mailworld.doctor import BLOCKLIST, CLEAN_LIST, OPEN_HOST, add_doctor_domains
from tests.mailworld.world import MailWorld, build_standard_world


@pytest.fixture(scope="session")
def mail_world() -> Iterator[MailWorld]:
    """The standard world (see build_standard_world for what exists where), started once."""
    with build_standard_world() as world:
        yield add_doctor_domains(world)


@pytest.fixture(scope="session")
def world_settings(mail_world: MailWorld) -> Settings:
    return mail_world.settings(doctor_mail_host=OPEN_HOST, doctor_blocklists=f"{BLOCKLIST},{CLEAN_LIST}")
