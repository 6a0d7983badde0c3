"""Organisation A can neither read, list, modify nor be charged for organisation B's anything."""

from __future__ import annotations

import json

from mailsleuth import store
from tests.api.conftest import ApiServer, wait_until

VN = "/2018-01-08"


def test_tenants_are_isolated(api_server: ApiServer) -> None:
    a, b = api_server.tenant(), api_server.tenant()
    with api_server.client(auth=("x", b.key)) as b_vn:
        found = b_vn.post(f"{VN}/search/name", data={"name": "John Smith", "domain": "acme.test"}).json()
        wait_until(lambda: not b_vn.get(f"{VN}/contacts/{found['id']}").json()["searching"])
        b_list = b_vn.post(f"{VN}/lists/", data={"name": "B's list"}).json()
    with api_server.client(headers={"X-LG-API-KEY": b.key}) as b_lg:
        b_job = b_lg.post("/emailguess/v1/submit", content=json.dumps(
            {"first": "jane", "middle": "", "last": "doe", "domain": "acme.test", "use_smtp_sniff": True})).json()["id"]
        wait_until(lambda: b_lg.get(f"/emailguess/v1/job/status/{b_job}").status_code == 200)
    with api_server.client(headers={"Authorization": f"Bearer {b.key}"}) as b_native:
        b_verification = b_native.post("/v1/verify", json={"email": "jane.doe@acme.test"}).json()["id"]

    with api_server.client(auth=("x", a.key)) as a_vn:
        assert a_vn.get(f"{VN}/contacts/{found['id']}").status_code == 404
        assert a_vn.get(f"{VN}/contacts/", params={"ids": found["id"]}).json()["total"] == 0
        assert a_vn.get(f"{VN}/contacts/", params={"query": "john"}).json()["result"] == []
        assert a_vn.get(f"{VN}/lists/").json() == {"result": []}
        assert a_vn.get(f"{VN}/lists/{b_list['id']}").status_code == 404
        assert a_vn.put(f"{VN}/lists/{b_list['id']}", data={"name": "hijacked"}).status_code == 404
        assert a_vn.post(f"{VN}/lists/{b_list['id']}", data={"query": "john"}).status_code == 404
        assert a_vn.delete(f"{VN}/lists/{b_list['id']}").status_code == 404
        a_list = a_vn.post(f"{VN}/lists/", data={"name": "A's list"}).json()
        added = a_vn.post(f"{VN}/lists/{a_list['id']}", data={"ids": found["id"]}).json()
        assert added["contacts"] == 0  # B's contact cannot be pulled into A's list

        # A searching the person B already found is A's own search, charged to A only.
        mine = a_vn.post(f"{VN}/search/name", data={"name": "John Smith", "domain": "acme.test"}).json()
        assert mine["id"] != found["id"] and mine["searching"] is True
        wait_until(lambda: not a_vn.get(f"{VN}/contacts/{mine['id']}").json()["searching"])
    with api_server.client(headers={"X-LG-API-KEY": a.key}) as a_lg:
        assert a_lg.get(f"/emailguess/v1/job/status/{b_job}").status_code == 404
    with api_server.client(headers={"X-API-Key": a.key}) as a_native:
        assert a_native.get(f"/v1/verifications/{b_verification}").status_code == 404
        assert a_native.get(f"/v1/contacts/{found['id']}").status_code == 404
        assert a_native.get("/v1/contacts").json()["total"] == 1

    with api_server.client(auth=("x", b.key)) as b_vn:
        assert b_vn.get(f"{VN}/lists/{b_list['id']}").json()["name"] == "B's list"
        assert b_vn.get(f"{VN}/contacts/", params={"lists": a_list["id"]}).json()["total"] == 0
    assert api_server.call(store.balance, a.org_id, "search") == 9
    assert api_server.call(store.balance, b.org_id, "search") == 8  # john.smith and jane.doe
    assert api_server.call(store.balance, a.org_id, "verify") == 10
