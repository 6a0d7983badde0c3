"""Catch-all as a stored domain fact: the domain search says it from the stored check, and
`POST /v1/domains/{domain}/catch-all` runs a real check against the mail world when none is stored."""

from __future__ import annotations

from tests.api.conftest import ApiServer, Tenant
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld


def test_an_unchecked_domain_is_checked_once_and_the_search_says_so(
    api_server: ApiServer, tenant: Tenant, mail_world: MailWorld
) -> None:
    mail_world.add_domain("takeseverything.test", behaviour=Behaviour(mailboxes={"jane.doe"}, catch_all=True))
    server = mail_world.server("mx.takeseverything.test")
    with api_server.native(tenant) as client:
        before = client.post("/v1/domain-search", json={"domain": "takeseverything.test"}).json()
        checked = client.post("/v1/domains/takeseverything.test/catch-all")
        again = client.post("/v1/domains/TakesEverything.test/catch-all").json()
        after = client.post("/v1/domain-search", json={"domain": "takeseverything.test"}).json()
    assert (before["catch_all"], before["catch_all_checked"]) == (None, None)  # nobody has checked it
    assert checked.status_code == 200
    body = checked.json()
    assert body == {"domain": "takeseverything.test", "catch_all": True, "checked": body["checked"],
                    "mx_hosts": ["mx.takeseverything.test"], "route_status": "ok"}
    assert again == body  # the stored check, not a second one
    assert server.stats.rcpt_count == 1 and server.stats.data_count == 0
    assert (after["catch_all"], after["catch_all_checked"]) == (True, body["checked"])


def test_an_honest_server_and_a_domain_without_mail(
    api_server: ApiServer, tenant: Tenant, mail_world: MailWorld
) -> None:
    mail_world.add_domain("refusesstrangers.test", behaviour=Behaviour(mailboxes={"jane.doe"}))
    with api_server.native(tenant) as client:
        honest = client.post("/v1/domains/refusesstrangers.test/catch-all").json()
        no_mail = client.post("/v1/domains/nullmx.test/catch-all").json()
        bad = client.post("/v1/domains/not a domain/catch-all")
    assert (honest["catch_all"], honest["mx_hosts"]) == (False, ["mx.refusesstrangers.test"])
    assert (no_mail["catch_all"], no_mail["mx_hosts"], no_mail["route_status"]) == (None, [], "null_mx")
    assert bad.status_code == 400 and bad.json()["field"] == "domain"


def test_the_check_needs_a_key_and_is_documented(api_server: ApiServer) -> None:
    with api_server.client() as client:
        refused = client.post("/v1/domains/acme.test/catch-all")
        spec = client.get("/openapi.json").json()
    assert refused.status_code == 401 and refused.json()["error"] == "Invalid or missing API key."
    operation = spec["paths"]["/v1/domains/{domain}/catch-all"]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/CatchAll"}
    assert set(spec["components"]["schemas"]["CatchAll"]["properties"]) == {
        "domain", "catch_all", "checked", "mx_hosts", "route_status"}
