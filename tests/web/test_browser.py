"""The dashboard in a real browser (Debian's chromium under Playwright) against `mailsleuth serve`,
the mail world and a company website: each flow a user has, with a screenshot of each screen
(tests/web/screenshots/, printed with -s)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailsleuth import store
from tests.web.browser import PHONE, screenshot, unavailable

try:
    from playwright.sync_api import expect
except ImportError:
    unavailable("Playwright is not installed (pip install -e '.[test]')")
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld
from tests.web.conftest import SITE, LiveServer


def sign_in(page: Any, key: str, who: str = "Admin · admin@localhost") -> None:
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_have_text(who)


def go(page: Any, screen: str) -> None:
    page.get_by_role("navigation", name="Screens").get_by_role("link", name=screen).click()


def client(server: LiveServer, key: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key or server.key}"},
                        timeout=60.0, trust_env=False)


def found_contact(server: LiveServer, name: str, domain: str) -> dict[str, Any]:
    """Find a person through the API, as a client would, and return the contact it is filed under."""
    with client(server) as api:
        answer = api.post("/v1/find", json={"name": name, "domain": domain, "wait": 60}).json()
        assert answer["done"], answer
        email = (answer["contact"] or answer["result"])["email"]
        known = api.get("/v1/contacts", params={"email": email, "order_by": "id"}).json()["results"]
    assert known and known[0]["email"] == email
    return known[0]


def downloaded(page: Any, button: Any) -> str:
    with page.expect_download() as info:
        button.click()
    return Path(info.value.path()).read_text(encoding="utf-8")


def outside_the_browser_loop(work: Any, *args: Any) -> Any:
    """Store calls use asyncio.run, which cannot run in the thread Playwright's loop lives in."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work, *args).result()


@pytest.fixture(autouse=True)
def accept_dialogs(page: Any) -> Iterator[None]:
    page.on("dialog", lambda dialog: dialog.accept())
    yield


# --- signing in and finding -------------------------------------------------------------------


def test_sign_in_refuses_a_wrong_key_with_the_servers_words(page: Any, live_server: LiveServer, console: Any) -> None:
    screenshot(page, "01-sign-in")
    page.get_by_label("API key", exact=True).fill(live_server.key + "x")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_have_text(
        "The server refused this API key: Invalid or missing API key. (HTTP 401)")
    console.errors = [e for e in console.errors if "status of 401" not in e]  # the refused request itself
    expect(page.locator("#dashboard")).to_be_hidden()


def test_keyboard_alone_signs_in_and_moves_between_screens(page: Any, live_server: LiveServer) -> None:
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    expect(page.get_by_label("API key", exact=True)).to_be_focused()
    page.keyboard.type(live_server.key)
    page.keyboard.press("Enter")
    expect(page.locator("#who")).to_have_text("Admin · admin@localhost")
    page.get_by_role("link", name="Domain search").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Domain or company name")).to_be_visible()
    expect(page.get_by_role("link", name="Domain search")).to_have_attribute("aria-current", "page")
    assert page.title() == "Domain search · mailsleuth"


def test_sign_in_and_find_an_address_with_its_evidence(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server.key)
    page.get_by_label("Full name").fill("Jane Doe")
    page.get_by_label("Company domain").fill("acme.test")
    page.get_by_role("button", name="Find", exact=True).click()
    result = page.locator("#find-result")
    expect(result.locator(".address")).to_have_text("jane.doe@acme.test")
    expect(result).to_contain_text("deliverable")
    expect(result).to_contain_text("mx.acme.test")
    expect(result).to_contain_text("{first}.{last}")
    screenshot(page, "02-find")


# --- bulk files -------------------------------------------------------------------------------


def test_upload_a_file_to_verify_watch_it_and_download_the_result(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server.key)
    go(page, "Bulk files")
    expect(page.locator("#jobs-table")).to_be_visible()
    body = "Name,Email\nJane,jane.doe@acme.test\nNobody,nobody@acme.test\nInfo,info@acme.test\n"
    page.get_by_label("Choose a CSV file, or drop it here").set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": body.encode()}]
    )
    preview = page.locator("#preview-table")
    expect(preview.locator("thead th")).to_have_text(["Name", "Email"])
    expect(preview.locator("tbody tr")).to_have_count(3)
    expect(page.locator("#upload-email-note")).to_contain_text("column named email")
    expect(page.locator("#upload-email-note")).to_contain_text("keeps every column of the file")
    page.get_by_role("button", name="Start the job").click()
    card = page.locator("#job-card")
    expect(card.locator(".badge").first).to_have_text("ENDED", timeout=60_000)
    expect(card).to_contain_text("3 of 3 rows done")
    expect(card.locator(".legend")).to_have_text(re.compile("Deliverable: 1.*Risky: 1.*Undeliverable: 1"))
    screenshot(page, "03-bulk-verify")
    result = downloaded(page, card.get_by_role("button", name=re.compile("^Download job")))
    table = {row["email"]: row for row in csv.DictReader(io.StringIO(result))}
    assert set(table) == {"jane.doe@acme.test", "nobody@acme.test", "info@acme.test"}
    assert result.splitlines()[0].startswith("Name,Email,email,")  # the file's own columns come first
    assert [(row["Name"], row["Email"]) for row in table.values()] == [
        ("Jane", "jane.doe@acme.test"), ("Nobody", "nobody@acme.test"), ("Info", "info@acme.test")]
    assert table["jane.doe@acme.test"]["verdict"] == "deliverable"
    assert table["nobody@acme.test"]["verdict"] == "undeliverable"
    assert table["info@acme.test"]["verdict"] == "risky"  # a role address


def _drop(page: Any, name: str, text: str) -> None:
    """Drop a file on the drop zone, as dragging it from the desktop does."""
    transfer = page.evaluate_handle(
        "([name, text]) => { const t = new DataTransfer();"
        " t.items.add(new File([text], name, {type: 'text/csv'})); return t; }",
        [name, text],
    )
    page.locator("#drop-zone").dispatch_event("drop", {"dataTransfer": transfer})


def test_drop_a_file_to_find_people_choosing_the_columns(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server.key)
    go(page, "Bulk files")
    page.get_by_label("Find the people's addresses").check()
    _drop(page, "leads.csv", "Given,Family,Where\nJohn,Smith,acme.test\nMaria,Garcia,acme.test\n")
    expect(page.locator("#upload-file-name")).to_contain_text("leads.csv")
    expect(page.locator("#preview-table tbody tr").first).to_have_text(re.compile("John.*Smith.*acme.test"))
    # nothing in this header says which column is which: the user chooses
    page.get_by_label("Name column (or first name)").select_option(label="1: Given")
    page.get_by_label("Last name column").select_option(label="2: Family")
    page.get_by_label("Domain column").select_option(label="3: Where")
    screenshot(page, "04-bulk-find-columns")
    page.get_by_role("button", name="Start the job").click()
    card = page.locator("#job-card")
    expect(card.locator(".badge").first).to_have_text("ENDED", timeout=90_000)
    expect(card).to_contain_text("2 of 2 rows done")
    result = downloaded(page, card.get_by_role("button", name=re.compile("^Download job")))
    rows = list(csv.DictReader(io.StringIO(result)))
    assert [(row["Given"], row["email"]) for row in rows] == [("John", "john.smith@acme.test"),
                                                                ("Maria", "maria.garcia@acme.test")]


def test_a_file_without_the_chosen_columns_gets_the_servers_message(page: Any, live_server: LiveServer,
                                                                     console: Any) -> None:
    sign_in(page, live_server.key)
    go(page, "Bulk files")
    page.get_by_label("Find the people's addresses").check()
    page.get_by_label("Choose a CSV file, or drop it here").set_input_files(
        files=[{"name": "x.csv", "mimeType": "text/csv", "buffer": b"Person,Notes\nJohn Smith,hello\n"}]
    )
    page.get_by_label("Name column (or first name)").select_option(label="1: Person")
    page.get_by_role("button", name="Start the job").click()
    expect(page.locator("#upload-error")).to_have_text("col_domain: Give col_domain or col_company. (HTTP 400)")
    console.errors = [e for e in console.errors if "status of 400" not in e]
    expect(page.locator("#job-card")).to_be_hidden()


def test_pause_resume_and_cancel_a_running_job(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server.key)
    go(page, "Bulk files")
    slow = "email\n" + "".join(f"person{n}@tarpit.test\n" for n in range(20))  # each probe waits out a timeout
    page.get_by_label("Choose a CSV file, or drop it here").set_input_files(
        files=[{"name": "slow.csv", "mimeType": "text/csv", "buffer": slow.encode()}]
    )
    page.get_by_role("button", name="Start the job").click()
    card = page.locator("#job-card")
    card.get_by_role("button", name=re.compile("^Pause job")).click()
    expect(card.locator(".badge").first).to_have_text("PAUSED")
    card.get_by_role("button", name=re.compile("^Resume job")).click()
    expect(card.locator(".badge").first).to_have_text(re.compile("QUEUED|PROCESSING"))
    card.get_by_role("button", name=re.compile("^Cancel job")).click()
    expect(card.locator(".badge").first).to_have_text("CANCELLED")
    expect(card.get_by_role("button", name=re.compile("^(Pause|Resume|Cancel) job"))).to_have_count(0)
    expect(page.locator("#jobs-table tbody tr").first.locator(".badge").first).to_have_text("CANCELLED")


# --- domain search ----------------------------------------------------------------------------


def test_domain_search_shows_the_people_a_website_publishes(page: Any, live_server: LiveServer) -> None:
    with client(live_server) as api:
        saved_to = api.post("/v1/lists", json={"name": "Gizmos people"}).json()
    sign_in(page, live_server.key)
    go(page, "Domain search")
    page.get_by_label("Domain or company name").fill(SITE)
    page.get_by_role("button", name="Search", exact=True).click()
    summary = page.locator("#domain-summary")
    expect(summary).to_contain_text("Gizmos Ltd")
    expect(summary.locator(".patterns li").first).to_contain_text(f"{{first}}.{{last}}@{SITE}")
    expect(summary).to_contain_text("learned from 2 addresses")
    expect(summary).to_contain_text("no: the mail server refuses unknown addresses")
    people = page.locator("#domain-table tbody tr")
    expect(people).to_have_count(2)  # the role address hello@ is not a person
    nina = people.filter(has_text="nina.patel@gizmos.test")
    expect(nina).to_contain_text("Nina Patel")
    expect(nina.locator("a[href$='/team']")).to_have_attribute(
        "href", re.compile(rf"^http://{re.escape(SITE)}(:\d+)?/team$"))
    expect(nina).to_contain_text("first seen")
    expect(nina.locator("td").nth(2)).to_have_text("deliverable")  # verified when the site was read
    nina.get_by_role("button", name="Verify nina.patel@gizmos.test").click()
    expect(nina.locator("td").nth(2)).to_have_text("deliverable")
    page.get_by_label("Save to list").select_option(label="Gizmos people")
    nina.get_by_role("button", name=re.compile("^Save Nina Patel")).click()
    expect(nina).to_contain_text("Saved to Gizmos people")
    screenshot(page, "05-domain-search")
    with client(live_server) as api:
        members = api.get("/v1/contacts", params={"lists": saved_to["id"]}).json()
    assert [c["email"] for c in members["results"]] == ["nina.patel@gizmos.test"]

    # the company's name, now that its website told it, finds the same people at no further cost
    with client(live_server) as api:
        before = api.get("/v1/account").json()["credits"]["search"]["remaining"]
    page.get_by_label("Domain or company name").fill("Gizmos Ltd")
    with page.expect_response(lambda response: response.url.endswith("/v1/domain-search")) as by_name:
        page.get_by_role("button", name="Search", exact=True).click()
    assert by_name.value.request.post_data_json == {"company": "Gizmos Ltd", "page": 1}
    assert by_name.value.json()["domain"] == SITE
    expect(summary.locator(".address")).to_have_text(f"Gizmos Ltd {SITE}")
    expect(people).to_have_count(2)
    with client(live_server) as api:
        assert api.get("/v1/account").json()["credits"]["search"]["remaining"] == before


def test_a_domain_never_checked_offers_a_catch_all_check(page: Any, live_server: LiveServer,
                                                           mail_world: MailWorld) -> None:
    mail_world.add_domain("welcomesall.test", behaviour=Behaviour(mailboxes={"jane.doe"}, catch_all=True))
    sign_in(page, live_server.key)
    go(page, "Domain search")
    page.get_by_label("Domain or company name").fill("welcomesall.test")
    page.get_by_role("button", name="Search", exact=True).click()
    summary = page.locator("#domain-summary")
    expect(summary).to_contain_text("Accepts every address")
    expect(summary).to_contain_text("not checked yet")
    summary.get_by_role("button", name="Check whether welcomesall.test accepts every address").click()
    expect(summary).to_contain_text("yes: the mail server accepts every address")
    expect(summary).to_contain_text("checked ")
    expect(summary.get_by_role("button", name=re.compile("^Check whether"))).to_have_count(0)
    assert mail_world.server("mx.welcomesall.test").stats.rcpt_count == 1  # a real check, one RCPT
    screenshot(page, "05c-domain-catch-all")
    page.get_by_role("button", name="Search", exact=True).click()  # the next search reads the stored check
    expect(summary).to_contain_text("yes: the mail server accepts every address")
    expect(summary.get_by_role("button", name=re.compile("^Check whether"))).to_have_count(0)


def test_a_company_nobody_can_locate_gets_the_servers_message(page: Any, live_server: LiveServer,
                                                              console: Any) -> None:
    sign_in(page, live_server.key)
    go(page, "Domain search")
    page.get_by_label("Domain or company name").fill("Nowhere Corp")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#domain-error")).to_have_text(
        re.compile(r"^company: We could not locate the company 'Nowhere Corp' \(tried .*\)\. \(HTTP 400\)$"))
    console.errors = [e for e in console.errors if "status of 400" not in e]
    expect(page.locator("#domain-people-card")).to_be_hidden()
    screenshot(page, "05b-domain-search-error")


# --- lists and contacts -----------------------------------------------------------------------


def test_list_round_trip_filters_contact_page_and_export(page: Any, live_server: LiveServer) -> None:
    john = found_contact(live_server, "John Smith", "full.test")
    sign_in(page, live_server.key)
    go(page, "Contacts & lists")
    page.get_by_label("New list").fill("Prospects")
    page.get_by_role("button", name="Create", exact=True).click()
    row = page.locator("#lists-table tbody tr", has_text="Prospects")
    expect(row).to_contain_text("0")
    row.get_by_role("button", name="Rename Prospects").click()
    page.get_by_label("New name for Prospects").fill("Hot prospects")
    page.get_by_label("New name for Prospects").press("Enter")
    row = page.locator("#lists-table tbody tr", has_text="Hot prospects")
    expect(row).to_be_visible()

    # the contact page: evidence, status, saving to the list
    page.locator("#contacts-table").get_by_role("link", name="John Smith").first.click()
    expect(page.locator("#contact-title")).to_have_text("John Smith")
    body = page.locator("#contact-body")
    expect(body).to_contain_text("john.smith@full.test")
    expect(body).to_contain_text("mx.full.test")
    expect(body.locator(".history li")).not_to_have_count(0)
    page.get_by_label("Contact status").select_option("WON")
    expect(body).to_contain_text("Status saved: WON")
    body.get_by_label("List", exact=True).select_option(label="Hot prospects")
    body.get_by_role("button", name="Save John Smith to a list").click()
    expect(body).to_contain_text("Saved to Hot prospects")
    history = body.get_by_role("list", name="History, newest first").locator("li")
    expect(history.nth(0)).to_contain_text("Added to the list “Hot prospects” — by Admin")
    expect(history.nth(1)).to_contain_text("Status changed from LEAD to WON — by Admin")
    screenshot(page, "06-contact")

    go(page, "Contacts & lists")
    row = page.locator("#lists-table tbody tr", has_text="Hot prospects")
    expect(row.locator("td").nth(1)).to_have_text("1")
    contacts = page.locator("#contacts-table tbody tr")
    filters = page.get_by_role("search", name="Contacts filters")
    filters.get_by_label("List", exact=True).select_option(label="Hot prospects")
    filters.get_by_label("Status", exact=True).select_option("WON")
    page.get_by_role("button", name="Filter").click()
    expect(contacts).to_have_count(1)
    expect(contacts.first).to_contain_text("john.smith@full.test")
    expect(contacts.first).to_contain_text("WON")
    page.get_by_label("Verdict").select_option("undeliverable")
    page.get_by_role("button", name="Filter").click()
    expect(contacts.first).to_have_text("No contacts match. Find an address or search a domain to add some.")
    page.get_by_label("Verdict").select_option("deliverable")
    page.get_by_label("Created from").fill("2999-01-01")
    page.get_by_role("button", name="Filter").click()
    expect(contacts.first).to_contain_text("No contacts match")
    page.get_by_label("Created from").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(contacts).to_have_count(1)
    screenshot(page, "07-contacts-and-lists")

    exported = downloaded(page, row.get_by_role("button", name="Export Hot prospects as CSV"))
    lines = list(csv.DictReader(io.StringIO(exported)))
    assert [(line["id"], line["email"], line["status"]) for line in lines] == [
        (str(john["id"]), "john.smith@full.test", "WON")]
    row.get_by_role("button", name="Delete Hot prospects").click()
    expect(page.locator("#lists-table tbody tr", has_text="Hot prospects")).to_have_count(0)


def test_a_status_change_shows_in_the_contact_history(page: Any, live_server: LiveServer) -> None:
    lena = found_contact(live_server, "Lena Fischer", SITE)  # not on the website: found by its convention
    with client(live_server) as api:
        checked = api.post("/v1/verify", json={"email": lena["email"], "wait": 60}).json()
    assert checked["done"] and checked["result"]["verdict"] == "deliverable"
    sign_in(page, live_server.key)
    page.goto(f"/dashboard#contact/{lena['id']}")
    history = page.get_by_role("list", name="History, newest first")
    lines = history.locator("li")
    expect(lines.nth(0)).to_contain_text("Verified lena.fischer@gizmos.test: deliverable, score 100 — by Admin")
    expect(lines.nth(1)).to_contain_text("Searched: lena.fischer@gizmos.test (deliverable, score 100) — by Admin")
    expect(lines.nth(2)).to_contain_text("Added to contacts (search)")
    page.get_by_label("Contact status").select_option("CONTACTED")
    expect(page.locator("#contact-body")).to_contain_text("Status saved: CONTACTED")
    expect(lines.nth(0)).to_contain_text("Status changed from LEAD to CONTACTED — by Admin")
    expect(lines).to_have_count(4)
    screenshot(page, "06b-contact-history")
    page.reload()  # the history is the server's, not the page's
    expect(lines.nth(0)).to_contain_text("Status changed from LEAD to CONTACTED — by Admin")
    with client(live_server) as api:
        events = api.get(f"/v1/contacts/{lena['id']}/history").json()["results"]
    assert [(e["kind"], e["status_to"]) for e in events][:1] == [("status", "CONTACTED")]
    page.set_viewport_size(PHONE)  # the history wraps on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "09-phone-contact")


# --- account ----------------------------------------------------------------------------------


def test_account_shows_usage_and_an_admin_manages_keys(page: Any, live_server: LiveServer) -> None:
    found_contact(live_server, "John Smith", "disabled.test")  # something used today
    sign_in(page, live_server.key)
    go(page, "Account")
    expect(page.locator("#credits")).to_contain_text("Searches")
    chart = page.get_by_role("img", name="Used in the last 30 days")
    expect(chart.locator("rect").first).to_be_visible()
    expect(page.locator("#usage .legend")).to_contain_text(re.compile(r"Searches: [1-9]"))
    keys = page.locator("#keys-table tbody tr")
    expect(keys).to_have_count(1)
    expect(keys.first).to_contain_text("active (this browser)")
    made = []
    for count in (2, 3):
        page.get_by_role("button", name="Create a key").click()
        expect(keys).to_have_count(count)
        made.append(page.locator("#key-new code").inner_text())
    assert all(secret.startswith("ms_") for secret in made) and made[0] != made[1]
    with client(live_server, made[0]) as api:
        assert api.get("/v1/account").json()["user"]["email"] == "admin@localhost"
    expect(keys.nth(2)).to_contain_text(made[1][:11])  # the prefix identifies the key
    screenshot(page, "08-account")
    keys.nth(2).get_by_role("button", name=re.compile("^Revoke key")).click()
    expect(keys.nth(2)).to_contain_text("revoked")
    expect(keys.nth(1)).to_contain_text("active")
    with client(live_server, made[1]) as api:  # never used, so no server cache remembers it
        refused = api.get("/v1/account")
    assert refused.status_code == 401 and refused.json()["error"] == "Invalid or missing API key."


def test_a_user_who_is_not_admin_sees_no_keys(page: Any, live_server: LiveServer) -> None:
    async def member(db: store.Database) -> str:
        user = await store.create_user(db, 1, "sam@localhost", name="Sam", admin=False)
        return await store.create_key(db, 1, user.id)

    key = outside_the_browser_loop(live_server.api.call, member)
    sign_in(page, key, who="Sam · sam@localhost")
    go(page, "Account")
    expect(page.locator("#credits")).to_contain_text("Searches")
    expect(page.locator("#keys-card")).to_be_hidden()
    with client(live_server, key) as api:
        refused = api.get("/v1/keys")
    assert refused.status_code == 403
    assert refused.json()["error"] == "Only an administrator of the organisation can manage its API keys."


# --- readable on a phone ----------------------------------------------------------------------


@pytest.mark.parametrize("screen", ["Find & verify", "Domain search", "Bulk files", "Contacts & lists", "Account"])
def test_every_screen_fits_a_phone(page: Any, live_server: LiveServer, screen: str) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, live_server.key)
    go(page, screen)
    expect(page.get_by_role("link", name=screen)).to_have_attribute("aria-current", "page")
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    slug = re.sub(r"[^a-z]+", "-", screen.lower()).strip("-")
    screenshot(page, f"09-phone-{slug}")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, f"10-desktop-{slug}")
