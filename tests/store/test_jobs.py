import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from mailsleuth import store
from mailsleuth.store import CreditKind, Database, JobStatus, NotFound


async def _org(db: Database, name: str = "acme", credits: int = 5) -> tuple[int, int]:
    org = await store.create_org(db, name, credits={"search": credits})
    user = await store.create_user(db, org.id, f"u@{name}.test")
    return org.id, user.id


async def test_search_lifecycle_charges_once(db: Database) -> None:
    org_id, user_id = await _org(db)
    contact = await store.create_contact(db, org_id, name="Jane Doe", domain="acme.test", searching=True)
    search = await store.create_search(db, org_id, user_id=user_id, contact_id=contact.id, webhook="http://h/x",
                                       options={"smtp": True})
    assert (search.status, search.quantity, search.treated, search.token is not None) == (JobStatus.QUEUED, 1, 0, True)
    assert (await store.start_search(db, org_id, search.id)).status == JobStatus.PROCESSING  # type: ignore[union-attr]
    outcome = await store.complete_search(db, org_id, search.id, email="Jane.Doe@acme.test", score=100,
                                          verdict="deliverable", evidence={"smtp_code": 250}, result={"email": "x"})
    assert outcome.charged and not outcome.insufficient_credits
    assert outcome.search.status == JobStatus.ENDED and (outcome.search.treated, outcome.search.success) == (1, 1)
    assert outcome.contact is not None and outcome.contact.email == "jane.doe@acme.test"
    assert not outcome.contact.searching and outcome.contact.evidence == {"smtp_code": 250}
    assert await store.balance(db, org_id, CreditKind.SEARCH) == 4

    again = await store.complete_search(db, org_id, search.id, email="jane.doe@acme.test")  # a retried completion
    assert not again.charged
    rerun = await store.create_search(db, org_id, contact_id=contact.id)  # searching the same contact again
    assert not (await store.complete_search(db, org_id, rerun.id, email="jane.doe@acme.test")).charged
    assert await store.balance(db, org_id, CreditKind.SEARCH) == 4
    assert await store.get_search_by_token(db, org_id, search.token or "") == outcome.search


async def test_not_found_costs_nothing(db: Database) -> None:
    org_id, _ = await _org(db)
    contact = await store.create_contact(db, org_id, name="Nobody", domain="acme.test", searching=True)
    search = await store.create_search(db, org_id, contact_id=contact.id)
    outcome = await store.complete_search(db, org_id, search.id, email=None, error="no mail server")
    assert not outcome.charged and outcome.search.success == 0 and outcome.search.error == "no mail server"
    assert outcome.contact is not None and outcome.contact.email is None and not outcome.contact.searching
    assert await store.balance(db, org_id, CreditKind.SEARCH) == 5


async def test_deleted_contact_is_charged_again(db: Database) -> None:
    org_id, _ = await _org(db)
    first = await store.create_contact(db, org_id, name="Jane Doe", domain="acme.test")
    await store.complete_search(db, org_id, (await store.create_search(db, org_id, contact_id=first.id)).id,
                                email="jane@acme.test")
    await store.delete_contact(db, org_id, first.id)
    assert await store.find_existing_contact(db, org_id, "Jane Doe", "acme.test") is None
    second = await store.create_contact(db, org_id, name="Jane Doe", domain="acme.test")
    outcome = await store.complete_search(
        db, org_id, (await store.create_search(db, org_id, contact_id=second.id)).id, email="jane@acme.test")
    assert outcome.charged
    assert await store.balance(db, org_id, CreditKind.SEARCH) == 3


async def test_an_address_is_withheld_when_the_org_cannot_pay(db: Database) -> None:
    org_id, _ = await _org(db, credits=0)
    contact = await store.create_contact(db, org_id, name="Jane Doe", domain="acme.test", searching=True)
    search = await store.create_search(db, org_id, contact_id=contact.id)
    outcome = await store.complete_search(db, org_id, search.id, email="jane@acme.test", score=100)
    assert outcome.insufficient_credits and not outcome.charged
    assert outcome.contact is not None and outcome.contact.email is None
    assert outcome.search.result == {"insufficient_credits": True} and outcome.search.success == 0


async def test_search_without_contact_is_charged_by_search_id(db: Database) -> None:
    org_id, _ = await _org(db)
    search = await store.create_search(db, org_id, options={"use_smtp_sniff": False})
    outcome = await store.complete_search(db, org_id, search.id, email="a@acme.test", result={"email": "a@acme.test"})
    assert outcome.charged and outcome.contact is None and outcome.search.options == {"use_smtp_sniff": False}
    assert await store.balance(db, org_id, CreditKind.SEARCH) == 4


async def test_searches_are_tenant_scoped(db: Database) -> None:
    a_id, _ = await _org(db, "a")
    b_id, b_user = await _org(db, "b")
    theirs = await store.create_contact(db, b_id, name="B", domain="b.test")
    with pytest.raises(NotFound):
        await store.create_search(db, a_id, contact_id=theirs.id)
    with pytest.raises(NotFound):
        await store.create_search(db, a_id, user_id=b_user)
    search = await store.create_search(db, b_id, contact_id=theirs.id)
    assert await store.get_search(db, a_id, search.id) is None
    assert await store.get_search_by_token(db, a_id, search.token or "") is None
    assert await store.start_search(db, a_id, search.id) is None
    with pytest.raises(NotFound):
        await store.complete_search(db, a_id, search.id, email="x@b.test")
    assert await store.balance(db, a_id, CreditKind.SEARCH) == await store.balance(db, b_id, CreditKind.SEARCH) == 5
    assert (await store.get_search(db, b_id, search.id)).status == JobStatus.QUEUED  # type: ignore[union-attr]


async def test_unfinished_searches_are_listed_for_a_restart(db: Database) -> None:
    org_id, _ = await _org(db)
    queued = await store.create_search(db, org_id)
    running = await store.create_search(db, org_id)
    await store.start_search(db, org_id, running.id)
    done = await store.create_search(db, org_id)
    await store.complete_search(db, org_id, done.id, email=None)
    await store.create_search(db, org_id, kind="find_file", quantity=10)
    assert [s.id for s in await store.unfinished_searches(db)] == [queued.id, running.id]


async def test_finish_job_charges_its_kind_once(db: Database) -> None:
    org = await store.create_org(db, "acme", credits={"verify": 1})
    job = await store.create_search(db, org.id, kind="verify", options={"email": "a@acme.test"})
    ended = await store.finish_job(db, org.id, job.id, result={"verdict": "deliverable"}, charge_kind="verify")
    assert ended.status == JobStatus.ENDED and ended.result == {"verdict": "deliverable"} and ended.success == 1
    assert (await store.finish_job(db, org.id, job.id, result=None, charge_kind="verify")).result == ended.result
    assert await store.balance(db, org.id, CreditKind.VERIFY) == 0

    unpaid = await store.create_search(db, org.id, kind="verify")
    withheld = await store.finish_job(db, org.id, unpaid.id, result={"verdict": "risky"}, charge_kind="verify")
    assert withheld.result == {"insufficient_credits": True} and withheld.success == 0
    with pytest.raises(NotFound):
        await store.finish_job(db, org.id + 1, job.id, result=None)


@contextmanager
def committed(db: Database) -> Iterator[list[object]]:
    """The write transactions committed meanwhile (reads never commit)."""
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(db.engine.sync_engine, "commit", count)
    try:
        yield commits
    finally:
        event.remove(db.engine.sync_engine, "commit", count)


def _terms(smtp: bool):  # type: ignore[no-untyped-def]
    return lambda options: options.get("smtp", True) == smtp


async def test_open_search_writes_contact_job_and_link_in_one_transaction(db: Database) -> None:
    org_id, user_id = await _org(db, credits=1)
    await store.save_company(db, "acme.test", name="Acme")
    prospects = await store.create_list(db, org_id, "Prospects")
    with committed(db) as commits:
        opened = await store.open_search(db, org_id, user_id=user_id, name="Jane Doe", first_name="Jane",
                                         last_name="Doe", domain="acme.test", list_id=prospects.id,
                                         webhook="http://h/x", options={"smtp": True}, same_terms=_terms(True))
    assert len(commits) == 1 and opened.refused is None and opened.search is not None and opened.contact is not None
    contact, search = opened.contact, opened.search
    assert (contact.name, contact.first_name, contact.domain, contact.searching, contact.webhook) == (
        "Jane Doe", "Jane", "acme.test", True, "http://h/x")
    assert contact.company is not None and contact.company.name == "Acme" and contact.list_ids == (prospects.id,)
    assert contact.job_id == search.id and contact.owner is not None and contact.owner.id == user_id
    assert (search.status, search.contact_id, search.list_id, search.options) == (
        JobStatus.QUEUED, contact.id, prospects.id, {"smtp": True})
    history = await store.contact_history(db, org_id, contact.id)
    assert [item.kind for item in history] == ["list_added"]

    again = await store.open_search(db, org_id, user_id=user_id, name=" jane  DOE", domain="acme.test",
                                    options={"smtp": True}, same_terms=_terms(True))
    assert again.refused is None and again.search is None and again.contact == contact  # being searched: as it is
    other_terms = await store.open_search(db, org_id, user_id=user_id, name="Jane Doe", domain="acme.test",
                                          options={"smtp": False}, same_terms=_terms(False))
    assert other_terms.search is not None and other_terms.search.id != search.id
    assert other_terms.contact is not None and other_terms.contact.id == contact.id
    assert other_terms.contact.job_id == other_terms.search.id and other_terms.contact.webhook is None


async def test_open_search_refusals(db: Database) -> None:
    org_id, user_id = await _org(db, credits=0)
    other_org, _ = await _org(db, "other")
    foreign = await store.create_list(db, other_org, "Theirs")
    no_list = await store.open_search(db, org_id, user_id=user_id, name="Jane Doe", domain="acme.test",
                                      list_id=foreign.id, options={}, same_terms=_terms(True))
    assert (no_list.refused, no_list.contact, no_list.search) == (store.OpenRefusal.NO_LIST, None, None)
    poor = await store.open_search(db, org_id, user_id=user_id, name="Jane Doe", domain="acme.test",
                                   options={}, same_terms=_terms(True))
    assert (poor.refused, poor.contact, poor.search) == (store.OpenRefusal.NO_CREDITS, None, None)
    assert await store.find_existing_contact(db, org_id, "Jane Doe", "acme.test") is None

    known = await store.create_contact(db, org_id, name="Jane Doe", domain="acme.test")  # not found, not searching
    mine = await store.create_list(db, org_id, "Mine")
    listed = await store.open_search(db, org_id, user_id=user_id, name="Jane Doe", domain="acme.test",
                                     list_id=mine.id, options={}, same_terms=_terms(True))
    assert listed.refused is store.OpenRefusal.NO_CREDITS and listed.search is None
    assert listed.contact is not None and listed.contact.id == known.id and listed.contact.list_ids == (mine.id,)


async def test_searches_opened_together_share_one_commit_and_keep_their_own_outcome(db: Database) -> None:
    org_id, user_id = await _org(db, credits=5)
    theirs, _ = await _org(db, "other")
    foreign = await store.create_list(db, theirs, "Theirs")

    def opening(name: str, list_id: int | None = None):  # type: ignore[no-untyped-def]
        return store.open_search(db, org_id, user_id=user_id, name=name, domain="acme.test", list_id=list_id,
                                 options={"smtp": True}, same_terms=_terms(True))

    def broken(options: dict) -> bool:  # type: ignore[type-arg]
        raise RuntimeError("terms unreadable")

    first = await opening("Ann Lee")  # its job exists: the next one asking for Ann reads its terms
    with committed(db) as commits:
        results = await asyncio.gather(
            opening("Bo Chen"), opening("Bo Chen"), opening("Cy Dorn", foreign.id),
            store.open_search(db, org_id, user_id=user_id, name="Ann Lee", domain="acme.test", options={},
                              same_terms=broken),
            opening("Di Eck"), return_exceptions=True,
        )
    bo, bo_again, cy, ann, di = results
    assert isinstance(ann, RuntimeError) and str(ann) == "terms unreadable"
    assert not isinstance(bo, BaseException) and not isinstance(bo_again, BaseException)
    assert not isinstance(cy, BaseException) and not isinstance(di, BaseException)
    assert bo.search is not None and bo.contact is not None and bo.contact.name == "Bo Chen"
    assert cy.refused is store.OpenRefusal.NO_LIST and di.search is not None and di.contact is not None
    assert first.contact is not None and await store.get_contact(db, org_id, first.contact.id) == first.contact
    if db.is_sqlite:  # PostgreSQL's writers run side by side: there two equal searches may both start
        assert len(commits) == 1  # one transaction for all five
        assert bo_again.search is None and bo_again.contact == bo.contact  # it saw the first one's contact
    assert await store.find_existing_contact(db, org_id, "Cy Dorn", "acme.test") is None
