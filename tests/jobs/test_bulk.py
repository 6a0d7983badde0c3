"""Bulk jobs end to end against the scripted mail world: results, counters, credits, webhooks."""

from __future__ import annotations

from sqlalchemy import select

from mailsleuth import store
from mailsleuth.config import Settings
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import CreditKind, Database, JobStatus, Principal
from mailsleuth.store import models as m
from tests.api.receiver import WebhookReceiver
from tests.jobs.conftest import TUNING, ended, eventually, make_runtime
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld

FIRSTS = ("Anna", "Brian", "Carla", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jacob", "Karen", "Louis")
LASTS = ("Adams", "Baker", "Clark", "Davis", "Evans", "Fisher", "Green", "Harris", "Irwin", "Jones")


async def _ledger_charges(db: Database, org_id: int, kind: CreditKind) -> list[str]:
    async with db.read() as session:
        query = select(m.CreditEntry.reference).where(
            m.CreditEntry.org_id == org_id, m.CreditEntry.kind == kind.value, m.CreditEntry.delta < 0
        )
        return list(await session.scalars(query))


async def test_verify_job_of_hundreds_of_rows_completes_with_correct_results(
    runtime: Runtime, principal: Principal, mail_world: MailWorld
) -> None:
    mail_world.add_domain("bulkverify-a.test", behaviour=Behaviour(mailboxes={f"user{i}" for i in range(0, 150, 3)}))
    mail_world.add_domain("bulkverify-b.test", behaviour=Behaviour(mailboxes=set(), catch_all=True))
    rows = [{"email": f"user{i}@bulkverify-a.test"} for i in range(150)]
    rows += [{"email": f"someone{i}@bulkverify-b.test"} for i in range(100)]
    rows += [{"email": f"x{i}@nullmx.test"} for i in range(20)] + [{"email": "not an address"}]

    job = await bulk.submit(runtime, principal, JobKind.VERIFY, rows, filename="list.csv")
    assert job.status is JobStatus.QUEUED and job.quantity == len(rows)
    done = await ended(runtime.db, principal.org_id, job.id)

    results = [result async for _, result in bulk.iter_results(runtime.db, principal.org_id, job.id)]
    assert [r["email"] for r in results[:150]] == [f"user{i}@bulkverify-a.test" for i in range(150)]
    for i, result in enumerate(results[:150]):
        assert result["verdict"] == ("deliverable" if i % 3 == 0 else "undeliverable"), result
    assert all(r["verdict"] == "risky" and r["catch_all"] for r in results[150:250])
    assert all(r["verdict"] == "undeliverable" for r in results[250:])
    assert (done.treated, done.deliverables, done.risky, done.bounces) == (len(rows), 50, 100, len(rows) - 150)

    charges = await _ledger_charges(runtime.db, principal.org_id, CreditKind.VERIFY)
    assert sorted(charges) == sorted(f"job:{job.id}:row:{i}" for i in range(len(rows)))
    assert await store.balance(runtime.db, principal.org_id, CreditKind.VERIFY) == 1000 - len(rows)


async def test_massive_finds_addresses_files_contacts_and_calls_the_webhook(
    runtime: Runtime, principal: Principal, mail_world: MailWorld
) -> None:
    people = [(first, last) for first in FIRSTS for last in LASTS][:120]
    mail_world.add_domain(
        "bulkfind.test", behaviour=Behaviour(mailboxes={f"{f.lower()}.{l.lower()}" for f, l in people[:100]})
    )
    await store.save_company(runtime.db, "bulkfind.test", name="Bulkfind Inc")
    rows = [{"name": f"{f} {l}", "domain": "bulkfind.test"} for f, l in people[:60]]
    rows += [{"name": f"{f} {l}", "company": "Bulkfind Inc"} for f, l in people[60:]]
    rows.append({"name": "Nobody Here", "company": "Unknown Company"})

    with WebhookReceiver() as receiver:
        job = await bulk.submit(
            runtime,
            principal,
            JobKind.FIND_FILE,
            rows,
            webhook=receiver.url,
            filename="people.csv",
            new_list="people.csv",
            options={"result_file": "http://files.test/massives/download/{token}-result.csv"},
        )
        done = await ended(runtime.db, principal.org_id, job.id)
        await eventually(lambda: _true(receiver.deliveries))

    results = [result async for _, result in bulk.iter_results(runtime.db, principal.org_id, job.id)]
    for (first, last), result in zip(people[:100], results):
        assert result["email"] == f"{first.lower()}.{last.lower()}@bulkfind.test"
        assert result["score"] == 100
    assert all(not r["email"] for r in results[100:120])
    assert "company" in results[-1]["error"].lower() and results[-1]["status"] == "error"
    assert (done.success, done.failed, done.treated) == (100, 1, len(rows))

    assert done.list_id is not None
    members = await store.query_contacts(
        runtime.db, principal.org_id, store.ContactFilters(lists=[done.list_id], found=True, per_page=500)
    )
    assert members.total == 100
    charges = await _ledger_charges(runtime.db, principal.org_id, CreditKind.SEARCH)
    assert sorted(charges) == sorted(f"contact:{c.id}" for c in members.items)
    convention = await store.get_convention(runtime.db, "bulkfind.test")
    assert convention is not None and convention.evidence >= 100

    [delivery] = receiver.deliveries
    assert delivery.json() == {
        "success": 100,
        "origin_id": None,
        "treated": len(rows),
        "id": job.id,
        "quantity": len(rows),
        "result_file": f"http://files.test/massives/download/{job.token}-result.csv",
    }
    org = await store.get_org(runtime.db, principal.org_id)
    assert org is not None
    from mailsleuth.jobs.webhooks import sign

    assert delivery.headers["X-Mailsleuth-Signature"] == sign(org.webhook_secret, delivery.body.decode())
    assert delivery.headers["X-Mailsleuth-Idempotency-Key"] == f"job:{job.id}:end:0"


async def _true(value: object) -> object:
    return value


async def test_leadgenius_bulk_sends_one_webhook_per_match(
    runtime: Runtime, principal: Principal, mail_world: MailWorld
) -> None:
    mail_world.add_domain("bulklg.test", behaviour=Behaviour(mailboxes={"chris.george", "dana.scully"}))
    rows = [
        {"first": "Chris", "middle": "", "last": "George", "domain": "bulklg.test", "sub": "7"},
        {"first": "Dana", "middle": "K", "last": "Scully", "domain": "bulklg.test"},
        {"first": "Fox", "middle": "", "last": "Mulder", "domain": "bulklg.test"},
    ]
    with WebhookReceiver() as receiver:
        job = await bulk.submit(runtime, principal, JobKind.FIND_BATCH, rows, webhook=receiver.url)
        await ended(runtime.db, principal.org_id, job.id)
        await eventually(lambda: _true(len(receiver.deliveries) == 2))
    bodies = sorted((d.json() for d in receiver.deliveries), key=lambda b: b["webhook_id"])
    assert bodies[0] == {
        "status": 200,
        "webhook_id": f"{job.id};2;dana.scully@bulklg.test",
        "result": {
            "bulk_id": job.id,
            "domain": "bulklg.test",
            "first": "Dana",
            "jobid": 2,
            "last": "Scully",
            "middle": "K",
            "email": "dana.scully@bulklg.test",
        },
    }
    assert bodies[1]["webhook_id"] == f"{job.id};7;chris.george@bulklg.test"


async def test_submit_refuses_empty_uploads_and_empty_balances(db: Database, runtime: Runtime) -> None:
    from mailsleuth.service.errors import PaymentRequired, ServiceError
    from tests.jobs.conftest import make_principal

    broke = await make_principal(db, "broke-org", credits={})
    try:
        await bulk.submit(runtime, broke, JobKind.VERIFY, [{"email": "a@acme.test"}])
    except PaymentRequired:
        pass
    else:
        raise AssertionError("an empty verify balance must refuse the upload")
    rich = await make_principal(db, "rich-org")
    try:
        await bulk.submit(runtime, rich, JobKind.VERIFY, [])
    except ServiceError as exc:
        assert exc.field == "content"
    else:
        raise AssertionError("an empty upload must be refused")
    assert await bulk.list_jobs(db, rich.org_id) == []  # no partial job left behind


async def test_enrich_adds_what_the_store_knows_and_charges_the_enrich_balance(
    runtime: Runtime, principal: Principal
) -> None:
    await store.save_company(runtime.db, "acme.test", name="Acme", description="Anvils", url="https://acme.test")
    await store.create_contact(
        runtime.db,
        principal.org_id,
        name="Jane Doe",
        first_name="Jane",
        last_name="Doe",
        domain="acme.test",
        email="jane.doe@acme.test",
        title="CTO",
        linkedin_id="janedoe",
        phone="+1 555 0100",
    )
    rows = [{"email": "jane.doe@acme.test"}, {"email": "nobody@acme.test"}]
    with WebhookReceiver() as receiver:
        job = await bulk.submit(runtime, principal, JobKind.ENRICH, rows, webhook=receiver.url)
        done = await ended(runtime.db, principal.org_id, job.id)
        await eventually(lambda: _true(receiver.deliveries))
    assert receiver.deliveries[0].json() == {
        "results": [
            {
                "email": "jane.doe@acme.test",
                "is_deliverable": True,
                "is_risky": False,
                "is_bounce": False,
                "error_msg": "",
            },
            {
                "email": "nobody@acme.test",
                "is_deliverable": False,
                "is_risky": False,
                "is_bounce": True,
                "error_msg": "",
            },
        ]
    }
    jane, nobody = [result async for _, result in bulk.iter_results(runtime.db, principal.org_id, job.id)]
    assert jane["verdict"] == "deliverable" and (jane["full_name"], jane["title"], jane["linkedin_id"]) == (
        "Jane Doe",
        "CTO",
        "janedoe",
    )
    assert jane["company_name"] == "Acme" and nobody["company_name"] == "Acme" and "title" not in nobody
    assert nobody["verdict"] == "undeliverable" and (done.deliverables, done.bounces) == (1, 1)
    assert await store.balance(runtime.db, principal.org_id, CreditKind.ENRICH) == 998
    assert await store.balance(runtime.db, principal.org_id, CreditKind.VERIFY) == 1000


async def test_a_process_without_webhook_shapes_leaves_the_job_for_one_that_has_them(
    world_settings: Settings, db: Database, principal: Principal, mail_world: MailWorld
) -> None:
    mail_world.add_domain("noshape.test", behaviour=Behaviour(mailboxes={"amy"}))
    shapeless = Runtime(world_settings, db, notices={}, webhook_interval=0.2, webhook_poll=0.05, tuning=TUNING)
    shapeless.start()
    try:
        with WebhookReceiver() as receiver:
            job = await bulk.submit(shapeless, principal, JobKind.VERIFY, [{"email": "amy@noshape.test"}], webhook=receiver.url)
            await ended(db, principal.org_id, job.id)
            assert not await bulk.notify_job(shapeless, job.id)
            stored = await bulk.get_job(db, principal.org_id, job_id=job.id)
            assert stored is not None and stored.notified_at is None and receiver.deliveries == []

            shaped = make_runtime(world_settings, db)
            try:
                assert await bulk.notify_job(shaped, job.id)  # what its reconciler would do
                shaped.start()
                await eventually(lambda: _true(receiver.deliveries))
            finally:
                await shaped.close()
    finally:
        await shapeless.close()
    [delivery] = receiver.deliveries
    assert delivery.json() == {
        "results": [{"email": "amy@noshape.test", "is_deliverable": True, "is_risky": False, "is_bounce": False,
                     "error_msg": ""}]
    }
