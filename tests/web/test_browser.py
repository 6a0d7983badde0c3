"""The dashboard in a real browser (Debian's chromium under Playwright) against `mailsleuth serve`,
the mail world and a company website: each flow a user has, with a screenshot of each screen."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.web.browser import PHONE, screenshot
from tests.web.conftest import LiveServer


def sign_in(page: Any, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_have_text("Admin · admin@localhost")


def test_sign_in_refuses_a_wrong_key_with_the_servers_words(page: Any, live_server: LiveServer, console: Any) -> None:
    screenshot(page, "01-sign-in")
    page.get_by_label("API key").fill(live_server.key + "x")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_contain_text("(HTTP 401)")
    console.errors = [e for e in console.errors if "status of 401" not in e]  # the refused request itself
    expect(page.locator("#dashboard")).to_be_hidden()


def test_sign_in_and_find_an_address_with_its_evidence(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server.key)
    page.get_by_label("Full name").fill("Jane Doe")
    page.get_by_label("Company domain").fill("acme.test")
    page.get_by_role("button", name="Find", exact=True).click()
    result = page.locator("#find-result")
    expect(result.locator(".address")).to_have_text("jane.doe@acme.test")
    expect(result).to_contain_text("deliverable")
    expect(result).to_contain_text("mx.acme.test")
    screenshot(page, "02-find")
