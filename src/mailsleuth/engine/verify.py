"""Address -> verdict with evidence.

Probing is organised per domain: every check for a domain (a single address, a finder's candidate
sequence, thousands of bulk rows) joins the domain's queue, and at most ``max_connections`` workers
drain that queue over pooled sessions, so concurrent checks for one domain share connections and RCPT
transactions instead of each opening its own. A worker takes the queued checks in batches of up to
the session's recipient budget, which go out as one pipelined RCPT group where the host offers
PIPELINING. Grading is a pure function of what the wire said.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from contextlib import aclosing, suppress
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from mailsleuth.engine import domains
from mailsleuth.config import Settings
from mailsleuth.engine.pipeline import ordered_map
from mailsleuth.engine.dns import MailRoute, Resolver, RouteStatus
from mailsleuth.engine.egress import is_public_address
from mailsleuth.engine.politeness import HostCoolingDown, Politeness, Session
from mailsleuth.engine.results import ReplyKind, SmtpReply, Verdict, VerifyResult
from mailsleuth.engine.smtp import ProbeError, SmtpSession

_ROUTE_VERDICTS: dict[RouteStatus, tuple[Verdict, str]] = {
    RouteStatus.NXDOMAIN: (Verdict.UNDELIVERABLE, "domain_not_found"),
    RouteStatus.NULL_MX: (Verdict.UNDELIVERABLE, "null_mx"),
    RouteStatus.NO_MAIL: (Verdict.UNDELIVERABLE, "no_mail_server"),
    RouteStatus.SERVFAIL: (Verdict.UNKNOWN, "dns_servfail"),
    RouteStatus.TIMEOUT: (Verdict.UNKNOWN, "dns_timeout"),
}

_REPLY_VERDICTS: dict[ReplyKind, tuple[Verdict, str]] = {
    ReplyKind.ACCEPTED: (Verdict.DELIVERABLE, "accepted"),
    ReplyKind.NO_SUCH_USER: (Verdict.UNDELIVERABLE, "mailbox_not_found"),
    ReplyKind.DISABLED: (Verdict.UNDELIVERABLE, "mailbox_disabled"),
    ReplyKind.FULL: (Verdict.RISKY, "mailbox_full"),
    ReplyKind.GREYLISTED: (Verdict.UNKNOWN, "greylisted"),
    ReplyKind.SLOW_DOWN: (Verdict.UNKNOWN, "rate_limited"),
    ReplyKind.BLOCKED: (Verdict.UNKNOWN, "blocked"),
    ReplyKind.TEMPORARY: (Verdict.UNKNOWN, "temporary_failure"),
    ReplyKind.PERMANENT: (Verdict.UNKNOWN, "unclassified_rejection"),
}

_BACK_OFF = (ReplyKind.SLOW_DOWN, ReplyKind.BLOCKED)
_LINGER_SECONDS = 0.002
_CLOSE_GRACE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What probing one address produced: a reply, or why there is none."""

    reply: SmtpReply | None = None
    host: str | None = None
    failure: str | None = None


def grade(
    outcome: Outcome, *, catch_all: bool | None, role: bool = False, disposable: bool = False
) -> tuple[Verdict, str]:
    """Turn the wire's answer into a verdict; anything we could not learn is unknown, never a bounce."""
    if catch_all:
        return Verdict.RISKY, "catch_all"
    if outcome.reply is None:
        return Verdict.UNKNOWN, outcome.failure or "no_answer"
    verdict, reason = _REPLY_VERDICTS[outcome.reply.kind]
    if verdict is Verdict.DELIVERABLE and (role or disposable):
        return Verdict.RISKY, "disposable_address" if disposable else "role_address"
    return verdict, reason


def grade_route(route: MailRoute) -> tuple[Verdict, str] | None:
    """The verdict a domain's mail route settles on its own (no SMTP needed), if any."""
    return _ROUTE_VERDICTS.get(route.status)


@dataclass
class _Item:
    """One check in a domain's queue: addresses probed in order on one transaction."""

    addresses: list[str]
    stop_at_accept: bool
    future: asyncio.Future[list[Outcome]]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def next_address(self) -> str | None:
        if self.stop_at_accept and self.outcomes and _accepted(self.outcomes[-1]):
            return None
        if len(self.outcomes) < len(self.addresses):
            return self.addresses[len(self.outcomes)]
        return None


@dataclass
class _DomainQueue:
    route: MailRoute
    items: deque[_Item] = field(default_factory=deque)
    workers: int = 0
    catch_all_test: asyncio.Event | None = None  # set when the test in flight has its answer
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


def _accepted(outcome: Outcome) -> bool:
    return outcome.reply is not None and outcome.reply.kind is ReplyKind.ACCEPTED


class _BackOff(Exception):
    """The host said slow down or blocked us mid-session: leave it for the next MX."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.failure)
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class DomainProbe:
    """Result of probing addresses at one domain: the route, catch-all status and one outcome each."""

    route: MailRoute
    catch_all: bool | None
    outcomes: list[Outcome]

    @property
    def rcpt_commands(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.reply is not None)


class Verifier:
    """Verifies addresses over DNS and SMTP; one instance per process shares caches and connections."""

    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        politeness: Politeness | None = None,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.resolver = resolver or Resolver.from_settings(settings)
        self.politeness = politeness or Politeness.from_settings(settings)
        self._wall_clock = wall_clock
        self._clock = clock
        self._queues: dict[str, _DomainQueue] = {}
        self._catch_all: dict[str, tuple[bool, float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.rcpt_commands = 0

    # -- public API -------------------------------------------------------------------------

    async def verify(self, address: str, *, smtp: bool = True, wait_greylisted: bool = False) -> VerifyResult:
        """Verify one address. Bad syntax is a verdict (undeliverable), not an exception."""
        result = await self._verify_once(address, smtp=smtp)
        if wait_greylisted and result.reason == "greylisted":
            await asyncio.sleep(self.settings.greylist_delay)
            result = await self._verify_once(address, smtp=smtp)
        return result

    async def verify_many(
        self, addresses: Iterable[str] | AsyncIterable[str], *, concurrency: int = 1000, **options: bool
    ) -> AsyncIterator[VerifyResult]:
        """Verify a stream of addresses, yielding results in input order with bounded memory.

        Up to ``concurrency`` checks are in flight; checks for the same domain are batched onto shared
        connections by the domain queues, so the window only has to be wide enough to keep them fed.
        """
        async for _, result in ordered_map(addresses, lambda a: self.verify(a, **options), concurrency):
            yield result

    async def probe(
        self, domain: str, addresses: Sequence[str], *, stop_at_accept: bool = False, route: MailRoute | None = None
    ) -> DomainProbe:
        """Probe addresses at ``domain`` in order on a shared transaction (the finder's primitive).

        On a catch-all domain nothing beyond the catch-all test is sent: every answer would be yes.
        """
        route = route or await self.resolver.mail_route(domain)
        if route.status is not RouteStatus.OK or not addresses:
            return DomainProbe(route, None, [])
        if self.cached_catch_all(domain):
            return DomainProbe(route, True, [])
        outcomes = await self._enqueue(domain, route, list(addresses), stop_at_accept)
        return DomainProbe(route, self.cached_catch_all(domain), outcomes)

    async def check_catch_all(self, domain: str) -> DomainProbe:
        """Whether ``domain`` accepts every address: one RCPT for a local part nobody has, on the
        domain's shared queue (cached like every catch-all test). None when the domain takes no mail
        or no server gave a clear answer (greylisted, blocked, unreachable)."""
        route = await self.resolver.mail_route(domain)
        if route.status is not RouteStatus.OK:
            return DomainProbe(route, None, [])
        if self.cached_catch_all(domain) is None:
            await self._enqueue(domain, route, [], stop_at_accept=False)  # no address: only the test
        return DomainProbe(route, self.cached_catch_all(domain), [])

    def cached_catch_all(self, domain: str) -> bool | None:
        entry = self._catch_all.get(domain)
        if entry is None or entry[1] < self._clock():
            return None
        return entry[0]

    async def close(self) -> None:
        """Let the domain workers hand their sessions back (RSET, then QUIT below) for a moment, then
        cancel the rest: a connection dropped mid-command stays open on the server's side a while
        after its slot is free (with shared politeness, another worker may already be connecting)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=_CLOSE_GRACE_SECONDS)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.politeness.close()

    async def __aenter__(self) -> Verifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- one address --------------------------------------------------------------------------

    async def _verify_once(self, address: str, *, smtp: bool) -> VerifyResult:
        try:
            normalised, local, domain = domains.parse_address(address)
        except domains.InvalidAddress as exc:
            return VerifyResult(email=address, verdict=Verdict.UNDELIVERABLE, reason=f"invalid_syntax: {exc}")
        result = VerifyResult(
            email=normalised,
            verdict=Verdict.UNKNOWN,
            reason="",
            domain=domain,
            disposable=domains.is_disposable(domain),
            role=domains.is_role(local),
            free=domains.is_free_provider(domain),
            suggestion=domains.suggest(normalised),
        )
        route = self.resolver.cached_route(domain) or await self.resolver.mail_route(domain)
        result.mx_hosts = [mx.host for mx in route.hosts]
        settled = grade_route(route)
        if settled is not None:
            result.verdict, result.reason = settled
            return result
        if not smtp:
            result.reason = "smtp_skipped"
            return result
        if not normalised.isascii():  # an internationalised local part needs SMTPUTF8, which we do not speak
            result.reason = "smtputf8_unsupported"
            return result
        probe = await self.probe(domain, [normalised], route=route)
        outcome = probe.outcomes[0] if probe.outcomes else Outcome(failure="catch_all")
        result.catch_all = probe.catch_all
        result.verdict, result.reason = grade(
            outcome, catch_all=probe.catch_all, role=result.role, disposable=result.disposable
        )
        if outcome.reply is not None:
            result.smtp_code = outcome.reply.code
            result.enhanced_status = outcome.reply.enhanced
            result.smtp_text = outcome.reply.text
            if outcome.reply.kind is ReplyKind.GREYLISTED:
                result.retry_at = self._wall_clock() + self.settings.greylist_delay
        return result

    # -- domain queues and workers --------------------------------------------------------------

    async def _enqueue(self, domain: str, route: MailRoute, addresses: list[str], stop_at_accept: bool) -> list[Outcome]:
        queue = self._queues.get(domain)
        if queue is None:
            queue = self._queues[domain] = _DomainQueue(route)
        item = _Item(addresses, stop_at_accept, asyncio.get_running_loop().create_future())
        queue.items.append(item)
        queue.arrived.set()
        if queue.workers < self.politeness.max_connections:
            queue.workers += 1
            task = asyncio.create_task(self._worker(domain, queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await item.future

    async def _worker(self, domain: str, queue: _DomainQueue) -> None:
        """Drain the domain's queue host by host (MX preference order), one session at a time."""
        try:
            while queue.items:
                failure = Outcome(failure="no_mail_host_answered")
                for ip in self._candidate_hosts(queue.route):
                    if not queue.items:
                        break
                    if not self.settings.allow_private_networks and not is_public_address(ip):
                        failure = Outcome(host=ip, failure="private_network_refused")
                        continue
                    try:
                        async with self.politeness.session(ip, lambda ip=ip: self._open(ip)) as session:
                            await self._drain(domain, ip, session, queue)
                        await self.politeness.forgive(ip)
                        break  # this host works: take the next session from it
                    except HostCoolingDown:
                        failure = Outcome(host=ip, failure="host_cooling_down")
                    except _BackOff as exc:
                        failure = exc.outcome
                    except ProbeError as exc:
                        await self.politeness.penalise(ip)  # dead, tarpitting or refusing: skip it for a while
                        failure = Outcome(exc.reply, ip, f"smtp_{exc.stage}_failed")
                else:
                    self._fail_all(queue, failure)
        except BaseException as exc:  # never leave a caller waiting on a dead worker
            self._fail_all(queue, Outcome(failure=f"internal_error: {type(exc).__name__}"))
            raise
        finally:
            queue.workers -= 1
            if not queue.items and queue.workers == 0 and self._queues.get(domain) is queue:
                del self._queues[domain]

    def _candidate_hosts(self, route: MailRoute) -> list[str]:
        return [ip for mx in route.hosts for ip in mx.addresses]

    async def _open(self, ip: str) -> SmtpSession:
        s = self.settings
        return await SmtpSession.open(
            ip,
            s.smtp_port,
            helo=s.helo_name,
            mail_from=s.envelope_from,
            connect_timeout=s.connect_timeout,
            command_timeout=s.command_timeout,
            starttls=s.use_starttls,
            pipelining=s.use_pipelining,
            source_address=s.source_address,
        )

    async def _drain(self, domain: str, ip: str, session: Session, queue: _DomainQueue) -> None:
        """Send as many queued RCPTs as the session's budget allows, in batches.

        A reply that says slow down or blocked ends the batch: the checks it did not answer go back
        to the queue for the next host (or the next session), with what was answered kept.
        """
        if self.cached_catch_all(domain) is None and queue.items:
            if queue.catch_all_test is not None:  # another session is testing: a batch sent now might
                await queue.catch_all_test.wait()  # all be asked of a domain that says yes to anything
            else:
                queue.catch_all_test = asyncio.Event()  # one test per domain, not one per worker
                try:
                    reply = await self._rcpt(session, ip, f"{_random_local()}@{domain}")
                finally:
                    queue.catch_all_test.set()
                    queue.catch_all_test = None
                if reply.kind is ReplyKind.ACCEPTED:
                    self._remember_catch_all(domain, True)
                elif reply.kind in (ReplyKind.NO_SUCH_USER, ReplyKind.DISABLED):
                    self._remember_catch_all(domain, False)
        while (budget := self.politeness.budget(session)) > 0 and await _more_work(queue):
            taken, asks = self._take(domain, queue, budget)
            try:
                if asks:  # one batch: pipelined in one write when the host offers it; a batch
                    last = len(asks) == budget  # that spends the session's budget ends it (QUIT)
                    async with aclosing(session.rcpt_each([a for _, a in asks], then_quit=last)) as replies:
                        asked = iter(asks)
                        async for reply in replies:
                            item, _ = next(asked)
                            item.outcomes.append(Outcome(await self._answered(reply, ip), ip))
            finally:  # settle the checks that are done; the rest go back to the front, in order
                for item in reversed(taken):
                    if item.next_address is None or self.cached_catch_all(domain) is True:
                        if not item.future.done():
                            item.future.set_result(item.outcomes)
                    else:
                        queue.items.appendleft(item)

    def _take(self, domain: str, queue: _DomainQueue, budget: int) -> tuple[list[_Item], list[tuple[_Item, str]]]:
        """Checks off the front of the queue and the addresses to ask for them, at most ``budget``.

        A finder's sequence (stop_at_accept) gives one address at a time: the next is asked only if
        this one is refused. On a catch-all domain nothing is asked: every answer would be yes.
        """
        taken: list[_Item] = []
        asks: list[tuple[_Item, str]] = []
        catch_all = self.cached_catch_all(domain) is True
        while queue.items and len(asks) < budget:
            item = queue.items.popleft()
            taken.append(item)
            if catch_all or (first := item.next_address) is None:
                continue
            if item.stop_at_accept:
                asks.append((item, first))
            else:
                start = len(item.outcomes)
                asks += [(item, address) for address in item.addresses[start : start + budget - len(asks)]]
        return taken, asks

    async def _rcpt(self, session: Session, ip: str, address: str) -> SmtpReply:
        return await self._answered(await session.rcpt(address), ip)

    async def _answered(self, reply: SmtpReply, ip: str) -> SmtpReply:
        """Count a reply; one that says slow down or blocked ends the session (BackOff)."""
        self.rcpt_commands += 1
        if reply.kind in _BACK_OFF:
            await self.politeness.penalise(ip)
            raise _BackOff(Outcome(reply, ip))
        return reply

    def _remember_catch_all(self, domain: str, value: bool) -> None:
        self._catch_all[domain] = (value, self._clock() + self.settings.cache_ttl)

    def _fail_all(self, queue: _DomainQueue, failure: Outcome) -> None:
        """Answer every waiting check with the last host's failure (graded unknown, never a bounce)."""
        while queue.items:
            item = queue.items.popleft()
            if not item.future.done():
                remaining = len(item.addresses) - len(item.outcomes)
                item.future.set_result(item.outcomes + [failure] * remaining)


async def _more_work(queue: _DomainQueue) -> bool:
    """Whether more checks are queued, lingering briefly for checks about to arrive.

    Bulk checks reach the queue one at a time; handing the session back the moment the queue is
    empty would cost an RSET and MAIL FROM per address instead of per batch.
    """
    if not queue.items:
        queue.arrived.clear()
        with suppress(TimeoutError):
            async with asyncio.timeout(_LINGER_SECONDS):
                await queue.arrived.wait()
    return bool(queue.items)


def _random_local() -> str:
    """A local part no real person has, for the catch-all test."""
    return "ms" + secrets.token_hex(8)
