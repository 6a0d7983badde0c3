"""Documented items that used to deviate, each sent as the document prints it (base URL swapped):
the curl lines through curl itself, the Python snippets through `requests`.
"""

from __future__ import annotations

import requests

from mailsleuth import store
from tests.api.bulkworld import VN, company, rich_tenant, rows_of, vn_client, wait_status
from tests.api.conftest import ApiServer, Tenant, wait_until
from tests.api.documents import curl, swapped
from tests.api.receiver import WebhookReceiver
from tests.mailworld.world import MailWorld

MASSIVE_KEYS = {
    "account", "created", "enrich", "enrich_token", "filename", "rerun_frequency", "rerun_lasttime", "webhook",
    "id", "list_id", "quantity", "status", "success", "treated", "updated",
}


def _massive(api: ApiServer, tenant: Tenant, mail_world: MailWorld, receiver: WebhookReceiver, size: int) -> dict:
    slow = company(mail_world, size, latency=0.01)
    content = "\n".join(f"{f},{l},{slow.domain}" for f, l in slow.people)
    with vn_client(api, tenant) as client:
        answer = client.post(f"{VN}/massives/", data={"col_name": "0,1", "col_domain": "2", "content": content,
                                                       "webhook": receiver.url})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_pause_and_resume_by_post_as_the_snippets_and_put_as_the_curl_lines(
    api_server: ApiServer, mail_world: MailWorld
) -> None:
    tenant = rich_tenant(api_server)
    with WebhookReceiver() as receiver:
        massive = _massive(api_server, tenant, mail_world, receiver, 120)
        API_TOKEN = tenant.key  # noqa: N806 -- the snippet's own name
        by_post = requests.post(
            swapped(api_server, f"https://api.voilanorbert.com/2018-01-08/massives/{massive['id']}/pause", API_TOKEN),
            auth=("any_string", API_TOKEN),
        )
        assert by_post.status_code == 200, by_post.text
        assert set(by_post.json()) == MASSIVE_KEYS and by_post.json()["status"] == "PAUSED"
        resumed = requests.post(
            swapped(api_server, f"https://api.voilanorbert.com/2018-01-08/massives/{massive['id']}/resume", API_TOKEN),
            auth=("any_string", API_TOKEN),
        )
        assert resumed.status_code == 200 and resumed.json()["status"] in ("PROCESSING", "ENDED")

        by_put = curl(api_server, f"curl -X PUT https://api.voilanorbert.com/2018-01-08/massives/{massive['id']}/pause \\\n"
                                  "-u any_string:{secure_token}", tenant.key)
        assert by_put.status == 200 and by_put.json()["id"] == massive["id"]
        assert by_put.json()["status"] in ("PAUSED", "ENDED")  # a massive that already ended stays ended
        put_resume = curl(api_server, f"curl -X PUT https://api.voilanorbert.com/2018-01-08/massives/{massive['id']}/resume \\\n"
                                      "-u any_string:{secure_token}", tenant.key)
        assert put_resume.status == 200 and put_resume.json()["status"] in ("PROCESSING", "ENDED")
        with vn_client(api_server, tenant) as client:
            assert wait_status(client, f"{VN}/massives/{massive['id']}")["treated"] == 120


def test_delete_massive_answers_result_success(api_server: ApiServer, mail_world: MailWorld) -> None:
    tenant = rich_tenant(api_server)
    with WebhookReceiver() as receiver:
        massive = _massive(api_server, tenant, mail_world, receiver, 2)
        answer = curl(api_server, f"curl -X DELETE https://api.voilanorbert.com/2018-01-08/massives/{massive['id']} \\\n"
                                  "-u any_string:{secure_token}", tenant.key)
        again = curl(api_server, f"curl -X DELETE https://api.voilanorbert.com/2018-01-08/massives/{massive['id']} \\\n"
                                 "-u any_string:{secure_token}", tenant.key)
    assert answer.status == 200 and answer.json() == {"result": "success"}
    assert again.status == 400 and again.json() == {"code": 400, "error": "Page not found."}


def test_uploads_without_a_webhook_are_refused_as_documented(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    API_TOKEN = tenant.key  # noqa: N806
    answers = {}
    for prefix in ("verifier", "enrich"):
        # the document's snippet without its 'webhook' line
        answers[prefix] = requests.post(
            swapped(api_server, f"https://api.voilanorbert.com/2018-01-08/{prefix}/upload", API_TOKEN),
            auth=("any_string", API_TOKEN),
            data={"data": "testme@voilanorbert.com"},
        )
    assert answers["verifier"].status_code == 402
    assert answers["verifier"].json() == {
        "code": "402", "error": "Please provide a webhook to which we will post the verify results"
    }
    assert answers["enrich"].status_code == 402
    assert answers["enrich"].json() == {
        "code": "402", "error": "Please provide a webhook to which we will post the enrich results"
    }
    with WebhookReceiver() as receiver:
        line = ("curl -X POST https://api.voilanorbert.com/2018-01-08/verifier/upload \\\n"
                "-u any_string:{secure_token} \\\n"
                '-d data="testme@voilanorbert.com" \\\n'
                f'-d webhook="{receiver.url}"')
        accepted = curl(api_server, line, tenant.key)
        assert accepted.status == 200 and accepted.json()["success"] is True
        assert accepted.json()["status"] == "Processing ..."
        wait_until(lambda: receiver.deliveries)


def test_status_with_a_bad_key_is_the_unknown_token_404(api_server: ApiServer, tenant: Tenant) -> None:
    for prefix in ("verifier", "enrich"):
        line = f"curl https://api.voilanorbert.com/2018-01-08/{prefix}/<token> \\\n-u any_string:{{secure_token}}"
        unknown = curl(api_server, line, tenant.key)
        bad_key = curl(api_server, line, "not-a-key")
        no_key = curl(api_server, f"curl https://api.voilanorbert.com/2018-01-08/{prefix}/<token>", tenant.key)
        assert unknown.status == bad_key.status == no_key.status == 404
        assert bad_key.json() == no_key.json() == unknown.json() == {"code": 404, "error": "Page not found."}


def test_contacts_company_filter_sees_company_facts_learned_later(
    api_server: ApiServer, tenant: Tenant, mail_world: MailWorld
) -> None:
    acme = company(mail_world, 2, missing_every=100)
    line = ("curl -X POST https://api.voilanorbert.com/2018-01-08/search/name \\\n"
            "-u any_string:{secure_token} \\\n"
            f'-d domain="{acme.domain}" \\\n'
            '-d name="Anna Adams"')
    contact = curl(api_server, line, tenant.key).json()
    with vn_client(api_server, tenant) as client:
        wait_until(lambda: not client.get(f"{VN}/contacts/{contact['id']}").json()["searching"])
    api_server.call(store.save_company, acme.domain, name="Rocketworks Industries")  # e.g. a crawl, afterwards
    query = "curl https://api.voilanorbert.com/2018-01-08/contacts/?company=rocketworks \\\n-u any_string:{secure_token}"
    found = curl(api_server, query, tenant.key)
    assert found.status == 200, found.text
    assert [c["id"] for c in found.json()["result"]] == [contact["id"]] and found.json()["total"] == 1
    assert found.json()["result"][0]["company"]["name"] == "Rocketworks Industries"  # what matched is shown
    other = curl(api_server, query.replace("rocketworks", "nothing-like-it"), tenant.key).json()
    assert other["result"] == [] and other["total"] == 0


def test_create_list_with_the_name_in_the_query_string(api_server: ApiServer, tenant: Tenant) -> None:
    # the heading's form: POST /lists/{?name}
    created = curl(api_server, "curl -X POST 'https://api.voilanorbert.com/2018-01-08/lists/?name=Awesome%20leads' \\\n"
                               "-u any_string:{secure_token}", tenant.key)
    assert created.status == 200, created.text
    body = created.json()
    assert set(body) == {"contacts", "created", "id", "name"}
    assert body["name"] == "Awesome leads" and body["contacts"] == 0
    form = curl(api_server, "curl -X POST https://api.voilanorbert.com/2018-01-08/lists/ \\\n"
                            "-u any_string:{secure_token} \\\n"
                            '-d "name=Form list"', tenant.key)
    assert form.json()["name"] == "Form list"
    neither = curl(api_server, "curl -X POST https://api.voilanorbert.com/2018-01-08/lists/ \\\n"
                               "-u any_string:{secure_token}", tenant.key)
    assert neither.status == 400 and neither.json() == {"name": ["This field is required."]}


def test_account_api_token_is_a_usable_key(api_server: ApiServer, tenant: Tenant) -> None:
    account = curl(api_server, "curl https://api.voilanorbert.com/2018-01-08/account/ \\\n"
                               "-u any_string:{secure_token}", tenant.key)
    assert account.status == 200
    token = account.json()["api_token"]
    assert token == tenant.key
    again = curl(api_server, "curl https://api.voilanorbert.com/2018-01-08/organization/credits \\\n"
                             "-u any_string:{secure_token}", token)
    assert again.status == 200 and again.json()["remains"] == 10


def test_massive_result_file_keeps_the_callers_column_names(api_server: ApiServer, mail_world: MailWorld) -> None:
    acme = company(mail_world, 2, missing_every=100)
    tenant = rich_tenant(api_server)
    content = "first,last,domain,name\n" + "\n".join(f"{f},{l},{acme.domain},note {i}"
                                                     for i, (f, l) in enumerate(acme.people))
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        massive = client.post(f"{VN}/massives/", data={"col_name": "0,1", "col_domain": "2", "content": content,
                                                        "webhook": receiver.url}).json()
        wait_status(client, f"{VN}/massives/{massive['id']}")
        result_file = wait_until(lambda: receiver.deliveries)[0].json()["result_file"]
    text = requests.get(result_file).text
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["first", "last", "domain", "name"]
    rows = rows_of(text)
    assert [(r["first"], r["last"], r["domain"]) for r in rows] == [(f, l, acme.domain) for f, l in acme.people]
    assert [r["email"] for r in rows] == [acme.address(*p) if p in acme.known else "" for p in acme.people]
    assert [line.split(",")[3] for line in text.splitlines()[1:]] == ["note 0", "note 1"]


def test_kaspr_profile_id_given_as_a_linkedin_url(api_server: ApiServer, tenant: Tenant) -> None:
    api_server.call(store.create_contact, tenant.org_id, name="Jane Doe", owner_id=tenant.user_id,
                    domain="example.test", email="jane.doe@example.test", verdict="deliverable", score=100,
                    linkedin_id="jane-doe-1a2b")
    headers = {"Authorization": tenant.key, "Content-Type": "application/json"}
    url = swapped(api_server, "http://developer.kaspr.fr/profile/profile", tenant.key)
    for given in ("https://www.linkedin.com/in/jane-doe-1a2b/", "https://www.linkedin.com/in/jane-doe-1a2b",
                  "https://www.linkedin.com/in/jane-doe-1a2b/?originalSubdomain=fr", "jane-doe-1a2b"):
        data = '{"id":"%s","name":"Jane Doe"}' % given
        response = requests.post(url, headers=headers, data=data)
        assert response.status_code == 200, (given, response.text)
        profile = response.json()["profile"]
        assert profile["id"] == "jane-doe-1a2b" and profile["currentProEmail"] == "jane.doe@example.test"
    not_linkedin = requests.post(url, headers=headers, data='{"id":"https://example.com/in/x","name":"Jane Doe"}')
    assert not_linkedin.status_code == 400 and not_linkedin.json()["field"] == "id"


def test_kaspr_unknown_lead_keeps_the_documented_profile_key(api_server: ApiServer, tenant: Tenant) -> None:
    headers = {"Authorization": tenant.key, "Content-Type": "application/json"}
    data = '{"id":"linkedinId","name":"Linkedin Name"}'
    response = requests.post(swapped(api_server, "http://developer.kaspr.fr/profile/profile", tenant.key),
                             headers=headers, data=data)
    assert response.status_code == 404
    assert response.json() == {"profile": None, "code": 404, "error": "Profile not found."}
    assert response.headers["Decreased-Credits"] == "0" and response.headers["Remaining-Credits"] == "10"
