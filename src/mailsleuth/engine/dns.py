"""Where a domain's mail goes: MX hosts in preference order, with the RFC 7505 and RFC 5321 rules.

Every SMTP probe starts here, so answers are cached (bounded by the records' TTL) and concurrent
lookups of one domain share a single query: a bulk file with 500 rows at one company must not
become 500 MX queries. Failures are kept apart (NXDOMAIN is a fact about the domain, SERVFAIL and
timeouts are facts about DNS right now) because only the first may turn into "undeliverable".
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Generic, TypeVar

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

if TYPE_CHECKING:
    from mailsleuth.config import Settings

NEGATIVE_TTL = 60.0  # upper bound for caching "does not exist" answers
FAILURE_TTL = 5.0  # SERVFAIL/timeout: cached just long enough to absorb a burst of lookups
_MAX_ENTRIES = 100_000

T = TypeVar("T")


class RouteStatus(enum.StrEnum):
    OK = "ok"
    NULL_MX = "null_mx"  # RFC 7505: the domain declares it accepts no mail
    NXDOMAIN = "nxdomain"
    NO_MAIL = "no_mail"  # the name exists but has neither MX nor A/AAAA
    SERVFAIL = "servfail"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class MxHost:
    preference: int
    host: str
    addresses: tuple[str, ...]  # IPv4 first, then IPv6; empty when the host does not resolve


@dataclass(frozen=True, slots=True)
class MailRoute:
    domain: str
    status: RouteStatus
    hosts: tuple[MxHost, ...]
    implicit: bool  # no MX record: the domain's own A/AAAA act as MX (RFC 5321 section 5.1)


@dataclass(frozen=True, slots=True)
class Lookup:
    """A plain query's outcome: OK with no records means the name exists without that type."""

    status: RouteStatus
    records: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Answer:
    """One query's outcome; OK with no records means the name exists without data of that type."""

    status: RouteStatus
    records: tuple[str, ...]
    ttl: float


class _Cache(Generic[T]):
    """Values with an expiry, plus the loads still in flight so concurrent callers share one."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[T, float]] = {}
        self._inflight: dict[str, asyncio.Future[tuple[T, float]]] = {}

    def fresh(self, key: str) -> tuple[T, float] | None:
        """(value, expires_at) while the value is fresh, else None."""
        entry = self._entries.get(key)
        return entry if entry is not None and entry[1] > self._clock() else None

    async def get(self, key: str, load: Callable[[], Awaitable[tuple[T, float]]]) -> tuple[T, float]:
        """Return (value, expires_at); `load` returns (value, seconds to keep it)."""
        entry = self.fresh(key)
        if entry is not None:
            return entry
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._fill(key, load))
            self._inflight[key] = future
        # shield: one cancelled caller must not cancel the query the others are waiting for
        return await asyncio.shield(future)

    async def _fill(self, key: str, load: Callable[[], Awaitable[tuple[T, float]]]) -> tuple[T, float]:
        try:
            value, ttl = await load()
            entry = (value, self._clock() + ttl)
            self._entries.pop(key, None)
            if ttl > 0:
                if len(self._entries) >= _MAX_ENTRIES:
                    del self._entries[next(iter(self._entries))]  # oldest insertion
                self._entries[key] = entry
            return entry
        finally:
            del self._inflight[key]


class Resolver:
    """Async MX/A/AAAA resolution with a TTL cache; nameservers may listen on any port."""

    def __init__(
        self,
        nameservers: list[tuple[str, int]] | None = None,
        timeout: float = 3.0,
        cache_ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        negative_ttl: float = NEGATIVE_TTL,
    ) -> None:
        self._backend = _backend(nameservers or [], timeout)
        self._timeout = timeout
        self._cache_ttl = max(cache_ttl, 0.0)
        self._negative_ttl = min(negative_ttl, self._cache_ttl)
        self._clock = clock
        self._routes: _Cache[MailRoute] = _Cache(clock)
        self._addresses: _Cache[_Answer] = _Cache(clock)

    @classmethod
    def from_settings(cls, settings: Settings) -> Resolver:
        return cls(settings.nameservers or None, timeout=settings.dns_timeout, cache_ttl=settings.cache_ttl)

    async def mail_route(self, domain: str) -> MailRoute:
        """Where mail for `domain` goes; raises ValueError for a malformed domain name."""
        name, key = _named(domain)
        route, _ = await self._routes.get(key, lambda: self._load_route(name))
        return route

    def cached_route(self, domain: str) -> MailRoute | None:
        """The route `mail_route` would return now without asking anyone, if it has one (no await:
        bulk rows ask for the same few domains over and over)."""
        entry = self._routes.fresh(_named(domain)[1])
        return entry[0] if entry is not None else None

    async def addresses(self, host: str) -> tuple[str, ...]:
        """A then AAAA addresses of `host`; empty when it does not resolve."""
        return (await self._host_addresses(_to_name(host)))[0].records

    async def records(self, name: str, rdtype: str) -> Lookup:
        """One uncached question (TXT, PTR, A, ...) for the rarer checks (`mailsleuth doctor`)."""
        answer = await self._query(_to_name(name), dns.rdatatype.from_text(rdtype))
        return Lookup(answer.status, answer.records)

    async def _load_route(self, name: dns.name.Name) -> tuple[MailRoute, float]:
        domain = _key(name)
        mx = await self._query(name, dns.rdatatype.MX)
        if mx.status is not RouteStatus.OK:
            return MailRoute(domain, mx.status, (), implicit=False), mx.ttl
        if mx.records:
            exchanges = sorted({_parse_mx(record) for record in mx.records})
            if all(host == "" for _, host in exchanges):
                return MailRoute(domain, RouteStatus.NULL_MX, (), implicit=False), mx.ttl
            exchanges = [(pref, host) for pref, host in exchanges if host]  # a stray "." next to real MX
            found = await asyncio.gather(*(self._host_addresses(_to_name(host)) for _, host in exchanges))
            hosts = tuple(MxHost(pref, host, answer.records) for (pref, host), (answer, _) in zip(exchanges, found))
            ttl = min([mx.ttl, *(self._remaining(expires) for _, expires in found)])
            return MailRoute(domain, RouteStatus.OK, hosts, implicit=False), ttl
        own, expires = await self._host_addresses(name)
        ttl = min(mx.ttl, self._remaining(expires))
        if own.records:
            return MailRoute(domain, RouteStatus.OK, (MxHost(0, domain, own.records),), implicit=True), ttl
        status = own.status if own.status in (RouteStatus.SERVFAIL, RouteStatus.TIMEOUT) else RouteStatus.NO_MAIL
        return MailRoute(domain, status, (), implicit=False), ttl

    async def _host_addresses(self, name: dns.name.Name) -> tuple[_Answer, float]:
        return await self._addresses.get(_key(name), lambda: self._load_addresses(name))

    async def _load_addresses(self, name: dns.name.Name) -> tuple[_Answer, float]:
        v4, v6 = await asyncio.gather(self._query(name, dns.rdatatype.A), self._query(name, dns.rdatatype.AAAA))
        records = v4.records + v6.records
        if records:  # a family without records (most hosts lack AAAA) must not shorten the others
            ttl = min(answer.ttl for answer in (v4, v6) if answer.records)
            return _Answer(RouteStatus.OK, records, ttl), ttl
        ttl = min(v4.ttl, v6.ttl)
        # a failure says "ask again soon"; it outweighs a definite answer from the other family
        failures = [a.status for a in (v4, v6) if a.status in (RouteStatus.SERVFAIL, RouteStatus.TIMEOUT)]
        status = failures[0] if failures else v4.status
        return _Answer(status, (), ttl), ttl

    async def _query(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> _Answer:
        """One question to the nameservers, with the answer's cache lifetime already bounded."""
        try:
            answer = await self._backend.resolve(
                name, rdtype, raise_on_no_answer=False, lifetime=self._timeout, search=False
            )
        except dns.resolver.NXDOMAIN as exc:
            return _Answer(RouteStatus.NXDOMAIN, (), self._negative(_nxdomain_ttl(exc, name)))
        except dns.exception.Timeout:
            return _Answer(RouteStatus.TIMEOUT, (), min(FAILURE_TTL, self._cache_ttl))
        except dns.exception.DNSException:  # NoNameservers (SERVFAIL/REFUSED from all), malformed replies
            return _Answer(RouteStatus.SERVFAIL, (), min(FAILURE_TTL, self._cache_ttl))
        ttl = answer.chaining_result.minimum_ttl
        if answer.rrset is None:
            return _Answer(RouteStatus.OK, (), self._negative(ttl))
        return _Answer(RouteStatus.OK, tuple(rdata.to_text() for rdata in answer.rrset), min(ttl, self._cache_ttl))

    def _negative(self, ttl: float) -> float:
        return min(ttl, self._negative_ttl)

    def _remaining(self, expires_at: float) -> float:
        return max(expires_at - self._clock(), 0.0)


def _backend(nameservers: list[tuple[str, int]], timeout: float) -> dns.asyncresolver.Resolver:
    if nameservers:
        backend = dns.asyncresolver.Resolver(configure=False)
        backend.nameservers = [dns.nameserver.Do53Nameserver(*_checked(host, port)) for host, port in nameservers]
    else:
        backend = dns.asyncresolver.Resolver()  # the system's resolv.conf
    backend.timeout = timeout
    backend.lifetime = timeout
    backend.cache = None  # ours knows negative and failure lifetimes
    return backend


def _checked(host: str, port: int) -> tuple[str, int]:
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"nameserver must be an IP address, got {host!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"nameserver port out of range: {port}")
    return address, port


@lru_cache(maxsize=8192)
def _to_name(domain: str) -> dns.name.Name:
    """Parsed once per domain (names are immutable): bulk checks look the same few domains up per row."""
    text = domain.rstrip(".").lower()
    if not text or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError(f"invalid domain name: {domain!r}")
    try:
        return dns.name.from_text(text)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise ValueError(f"invalid domain name: {domain!r} ({exc})") from None


@lru_cache(maxsize=8192)
def _named(domain: str) -> tuple[dns.name.Name, str]:
    """A domain's parsed name and its cache key, once per domain (a million rows ask for 50 domains)."""
    name = _to_name(domain)
    return name, _key(name)


def _key(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _parse_mx(record: str) -> tuple[int, str]:
    """Split MX text such as `10 mx.example.com.`; the null MX target `.` becomes ""."""
    preference, _, exchange = record.partition(" ")
    return int(preference), exchange.rstrip(".").lower()


def _nxdomain_ttl(exc: dns.resolver.NXDOMAIN, name: dns.name.Name) -> float:
    """RFC 2308 negative TTL from the response's SOA (dnspython's default when there is none)."""
    response = exc.responses().get(name) if "responses" in exc.kwargs else None
    if response is None:
        return dns.message.NEGATIVE_TTL_WITHOUT_SOA
    try:
        return response.resolve_chaining().minimum_ttl
    except dns.exception.DNSException:
        return dns.message.NEGATIVE_TTL_WITHOUT_SOA
