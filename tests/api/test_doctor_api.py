"""`GET /v1/doctor`: the doctor's report for an organisation's administrators."""

from __future__ import annotations

from mailsleuth import store
from tests.api.conftest import ApiServer, Tenant
from tests.mailworld.doctor import OPEN_HOST
from tests.mailworld.world import HELO_NAME, MailWorld


def test_doctor_report_for_admins(api_server: ApiServer, tenant: Tenant, mail_world: MailWorld) -> None:
    with api_server.client(headers={"X-API-Key": tenant.key}) as client:
        answer = client.get("/v1/doctor")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["healthy"] is False
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    # the test server: a reachable mail host, a loopback (private) address without reverse DNS, on
    # no list, and a MAIL FROM domain (verify@<helo>) that does not exist
    assert statuses == {"port25": "ok", "outgoing_address": "warn", "reverse_dns": "fail", "blocklists": "ok",
                        "mail_from_domain": "fail"}
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["port25"]["details"]["host"] == f"mx.{OPEN_HOST}"
    assert checks["outgoing_address"]["details"] == {"address": "127.0.0.1", "source": "connection"}
    assert checks["mail_from_domain"]["details"]["domain"] == HELO_NAME
    assert all(set(check) == {"name", "status", "summary", "fix", "details"} for check in report["checks"])


def test_doctor_is_for_admins_only(api_server: ApiServer, tenant: Tenant) -> None:
    async def member_key(db: store.Database) -> str:
        user = await store.create_user(db, tenant.org_id, "member@doctor.test", name="Member")
        return await store.create_key(db, tenant.org_id, user.id)

    key = api_server.call(member_key)
    with api_server.client(headers={"Authorization": f"Bearer {key}"}) as client:
        refused = client.get("/v1/doctor")
    with api_server.client() as anonymous:
        nobody = anonymous.get("/v1/doctor")
    assert refused.status_code == 403
    assert refused.json() == {"code": 403, "error": "Only an organisation's administrators may run the doctor."}
    assert nobody.status_code == 401
