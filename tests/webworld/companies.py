"""A seeded world of companies on loopback, with the truth about every person, for tests and benchmarks.

Each company has a domain (mostly .com, some country endings), a display name its homepage title
carries, an address convention from the whole catalogue, a mail server (honest and strict, catch-all,
or one that blocklists probers after a few refusals), a website publishing a few staff addresses with
names next to them, and ordinary employees who have a mailbox but appear nowhere. Some country
companies have a parked lookalike .com, so resolving a company name has to check the homepage.

The truth is computed here, with the company's own clean-up of names (German ü -> ue or not, particles
kept or dropped, compound first names joined or cut), never with mailsleuth's code: a finder is
measured against what the companies did, not against its own idea of it.

    world = build_company_world(seed=1)
    with serve_company_world(world) as running:
        subprocess.run(["mailsleuth", "find-file", "people.csv", "-o", "found.csv"],
                       env={**os.environ, **running.env(database_url="sqlite+aiosqlite:///tmp/x.db")})
        print(running.snapshot().rcpt)
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from html import escape
from types import MappingProxyType
from typing import Any

from anyascii import anyascii

from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld
from tests.webworld.world import Response, WebWorld, html

__all__ = [
    "COMPANY_TLDS",
    "CONVENTION_WEIGHTS",
    "CleanUp",
    "Company",
    "CompanyWorld",
    "BlocklistingBehaviour",
    "Person",
    "RunningWorld",
    "ServerKind",
    "WireCounters",
    "build_company_world",
    "render_local",
    "serve_company_world",
    "site_pages",
]

WEB_ADDRESS = "127.0.0.2"  # every website; the mail world allocates from 127.0.1.1 upwards
MAIL_FIRST_IP = "127.0.1.1"
PROVIDER_MX = "mx1.hostedmail.net"  # a hosted-mail provider shared by several strict companies
PARKING_MX = "mx.parkingcrew.net"  # accepts everything for the parked lookalike domains
COMPANY_TLDS = "com,de,fr,co.uk,nl"  # MAILSLEUTH_COMPANY_TLDS covering every ending used here
ROLE_MAILBOXES = frozenset({"info", "postmaster"})
BLOCK_REPLY = "554 5.7.1 <{address}>: Recipient address rejected: Client host [127.0.0.1] blocked using zen.spamhaus.org"

# The whole catalogue (mailsleuth's patterns.PRIOR), flattened so that rare conventions such as
# {f}{l}, {first}-{last}, {last}, {last}{f} and {last}{first} occur a few times in 60 companies.
CONVENTION_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "{first}.{last}": 14, "{f}{last}": 9, "{first}": 5, "{first}{last}": 5, "{f}.{last}": 4,
        "{first}_{last}": 3, "{first}{l}": 3, "{last}{f}": 4, "{last}.{first}": 3, "{first}-{last}": 4,
        "{last}": 4, "{first}.{l}": 2, "{f}{m}{last}": 2, "{last}{first}": 4, "{first}.{m}.{last}": 1,
        "{f}{l}": 4, "{last}_{first}": 1, "{f}_{last}": 1, "{last}.{f}": 1, "{first}{m}{last}": 1,
        "{f}-{last}": 1, "{first}.{middle}.{last}": 1, "{f}{m}{l}": 1, "{last}-{first}": 1, "{first}_{l}": 1,
        "{last}{f}{m}": 1, "{f}.{m}.{last}": 1, "{first}{middle}{last}": 1,
    }
)


class ServerKind(StrEnum):
    STRICT = "strict"  # honest: 550 5.1.1 for every unknown recipient
    CATCH_ALL = "catch_all"  # 250 for every recipient
    BLOCKING = "blocking"  # honest until it has refused a few, then blocklists the prober (5.7.1)


# --- names -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
    first: str  # may be compound: "José Luis", "Jan-Willem"
    last: str  # without its particle
    particle: str = ""  # "van der", "de la"
    middle: str = ""

    @property
    def full(self) -> str:
        return " ".join(p for p in (self.first, self.middle, self.particle, self.last) if p)


@dataclass(frozen=True)
class _Pool:
    first: tuple[str, ...]
    compound: tuple[str, ...]
    last: tuple[str, ...]
    particles: tuple[tuple[str, str], ...] = ()
    middle: tuple[str, ...] = ()


_POOLS: Mapping[str, _Pool] = MappingProxyType({
    "de": _Pool(
        ("Jürgen", "Anna", "Lukas", "Sabine", "Matthias", "Katrin", "Stefan", "Jörg", "Björn", "Uwe", "Lena", "Felix",
         "Hannah", "Maximilian", "Sophie", "Günter", "Ute"),
        ("Hans-Peter", "Karl-Heinz", "Anne-Sophie", "Klaus Dieter"),
        ("Müller", "Schröder", "Weiß", "Schmidt", "Fischer", "Becker", "Köhler", "Wagner", "Hoffmann", "Krüger",
         "Schäfer", "Bauer", "Groß", "Zimmermann", "Jäger"),
        (("von", "Braun"), ("von der", "Heide"), ("zu", "Lind")),
    ),
    "fr": _Pool(
        ("Chloé", "François", "Hélène", "Julien", "Camille", "Léa", "Mathieu", "Céline", "Nicolas", "Amélie",
         "Sébastien", "Margaux", "Jérôme"),
        ("Jean-Pierre", "Marie-Claire", "Jean-Luc", "Anne-Laure"),
        ("Dubois", "Lefèvre", "Moreau", "Girard", "Lambert", "Bonnet", "Rousseau", "Mercier", "Fontaine", "Chevalier",
         "Durand", "Faure"),
        (("de", "Villiers"), ("du", "Pont"), ("de la", "Roche"), ("Le", "Roux")),
    ),
    "nl": _Pool(
        ("Sanne", "Daan", "Femke", "Ruben", "Lotte", "Bram", "Eva", "Joris", "Anouk", "Thijs", "Maarten"),
        ("Jan-Willem", "Anne-Marie", "Jan Peter"),
        ("Dekker", "Jansen", "Bakker", "Visser", "Smit", "Mulder", "Bos", "Vos", "Peters", "Hendriks"),
        (("van der", "Berg"), ("de", "Vries"), ("van", "Dijk"), ("van den", "Broek"), ("de", "Jong")),
    ),
    "uk": _Pool(
        ("Oliver", "Amelia", "Harry", "Isla", "George", "Emily", "Jack", "Charlotte", "Thomas", "Grace", "William",
         "Sophie", "Niamh"),
        ("Mary-Kate", "Anne Marie"),
        ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Roberts", "Walker", "Wright", "O'Brien",
         "Hughes", "Edwards", "Smith-Jones"),
        (),
        ("James", "Elizabeth", "Edward", "Rose", "Alexander", "Mary"),
    ),
    "intl": _Pool(
        ("James", "Mary", "Michael", "Jennifer", "David", "Sarah", "Wei", "Priya", "José", "Andrés", "Inês", "Kenji",
         "Aisha", "Omar", "Zoë", "Søren", "Łukasz", "Olga", "Ivan", "Fatima", "Noah", "Emma", "Chloé", "John"),
        ("José Luis", "María José", "Juan Carlos", "Ana María"),
        ("Smith", "Johnson", "Garcia", "Gómez", "Núñez", "Martínez", "Nguyen", "Patel", "Kim", "Tanaka", "Silva",
         "Kowalski", "Nowak", "Andersson", "Cohen", "Okafor", "Haddad", "O'Neil", "Walsh", "Chen", "Østergaard"),
        (("de la", "Cruz"), ("Da", "Silva"), ("di", "Marco"), ("van", "Houten")),
        ("Lee", "Ann", "Paul", "Marie", "John"),
    ),
})
_LOCALE = {"com": "intl", "de": "de", "fr": "fr", "nl": "nl", "co.uk": "uk"}
_EXTRA_MIDDLES = ("Maria", "Paul", "Anne", "Johann")  # a namesake told apart by a middle name


@dataclass(frozen=True)
class CleanUp:
    """How one company's directory turns a display name into ASCII tokens (its IT's habits)."""

    expand_umlauts: bool  # Müller -> mueller (else muller)
    keep_hyphens: bool  # Jan-Willem -> jan-willem (else janwillem)
    join_compound: bool  # José Luis -> joseluis (else jose)
    keep_particles: bool  # van der Berg -> vanderberg (else berg)


_EXPANDED = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ø": "oe", "å": "aa", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
                           "Ø": "Oe", "Å": "Aa"})
_NOT_TOKEN = re.compile(r"[^a-z0-9-]+")
_FIELD = re.compile(r"\{(first|middle|last|f|m|l)\}")
_MIDDLE_PIECE = re.compile(r"\{m(?:iddle)?\}[._-]?")
_PART = {"first": "first", "middle": "middle", "last": "last", "f": "first", "m": "middle", "l": "last"}


def _ascii(text: str, cleanup: CleanUp) -> str:
    if cleanup.expand_umlauts:
        text = text.translate(_EXPANDED)
    token = _NOT_TOKEN.sub("", anyascii(text).lower())
    return token if cleanup.keep_hyphens else token.replace("-", "")


def _tokens(name: _Name, cleanup: CleanUp) -> dict[str, str]:
    words = name.first.split()
    first = "".join(words) if cleanup.join_compound else words[0]
    last = f"{name.particle} {name.last}" if name.particle and cleanup.keep_particles else name.last
    return {
        "first": _ascii(first, cleanup),
        "last": _ascii(last.replace(" ", ""), cleanup),
        "middle": _ascii(name.middle.split()[0], cleanup) if name.middle else "",
    }


def render_local(pattern: str, tokens: Mapping[str, str]) -> str:
    """The local part a convention gives; middle-name pieces vanish for people without one
    (a jqsmith company writes jsmith for John Smith)."""
    if not tokens.get("middle"):
        pattern = _MIDDLE_PIECE.sub("", pattern)
    return _FIELD.sub(lambda m: tokens[_PART[m[1]]][: 1 if len(m[1]) == 1 else None], pattern)


# --- the world ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One employee and the truth about them."""

    ref: str  # stable id, e.g. "07-03": company 7, person 3
    full_name: str
    address: str
    domain: str
    published: bool  # the company's website shows this address next to the name
    namesake: bool  # the address carries a digit: a colleague already had the natural one


@dataclass
class Company:
    index: int
    name: str  # display name, e.g. "Ravenridge AG"; the homepage <title> contains it
    domain: str
    convention: str
    server: ServerKind
    hosted: bool  # mail at the shared PROVIDER_MX rather than the company's own mx.<domain>
    cleanup: CleanUp
    tagline: str
    team_path: str  # "/team" or "/about"
    block_after: int = 0  # BLOCKING: refusals before the host blocklists the prober
    decoy: str | None = None  # a parked lookalike .com that is not this company
    people: list[Person] = field(default_factory=list)

    @property
    def short_name(self) -> str:
        """The name without its legal form ("Ravenridge AG" -> "Ravenridge"), as users often type it."""
        words = self.name.split()
        return " ".join(words[:-1]) if len(words) > 1 and words[-1] in _LEGAL_FORMS_USED else self.name

    @property
    def mx_host(self) -> str:
        return PROVIDER_MX if self.hosted else f"mx.{self.domain}"

    @property
    def published(self) -> list[Person]:
        return [p for p in self.people if p.published]

    @property
    def ordinary(self) -> list[Person]:
        return [p for p in self.people if not p.published]


@dataclass
class CompanyWorld:
    seed: int
    companies: list[Company]

    @property
    def people(self) -> list[Person]:
        return [person for company in self.companies for person in company.people]

    @property
    def decoys(self) -> list[str]:
        return [c.decoy for c in self.companies if c.decoy]

    def company(self, domain: str) -> Company:
        return next(c for c in self.companies if c.domain == domain)

    def summary(self) -> str:
        kinds = {kind: sum(c.server is kind for c in self.companies) for kind in ServerKind}
        hosted = sum(c.hosted for c in self.companies)
        people = self.people
        return (
            f"{len(self.companies)} companies ({kinds[ServerKind.STRICT]} strict, {hosted} of them on a shared host; "
            f"{kinds[ServerKind.CATCH_ALL]} catch-all; {kinds[ServerKind.BLOCKING]} blocking), "
            f"{len(people)} people ({sum(p.published for p in people)} published, "
            f"{sum(p.namesake for p in people)} namesakes with a digit), "
            f"{len({c.convention for c in self.companies})} conventions, {len(self.decoys)} parked lookalikes"
        )


_TLD_WEIGHTS = {"com": 60, "de": 12, "fr": 10, "co.uk": 10, "nl": 8}
_LEGAL_FORMS = {"com": ("Inc", "LLC", "Corp", ""), "de": ("GmbH", "AG"), "fr": ("SA", "SAS"),
                "co.uk": ("Ltd", "plc"), "nl": ("B.V.", "N.V.")}
_LEGAL_FORMS_USED = frozenset(form for forms in _LEGAL_FORMS.values() for form in forms if form)
_PREFIXES = ("Raven", "Stone", "Silver", "Blue", "North", "Oak", "Iron", "Bright", "Clear", "Fern", "Hollow", "Amber",
             "Cedar", "Falcon", "Granite", "Harbor", "Linden", "Maple", "Quartz", "Willow", "Copper", "Ember", "Frost",
             "Glen", "Heron", "Juniper", "Kestrel", "Lark", "Moss", "Pine")
_SUFFIXES = ("ridge", "field", "brook", "gate", "works", "wood", "stone", "point", "vale", "line", "crest", "haven",
             "mark", "light", "bridge", "ford", "moor", "wick")
_SECTORS = ("Analytics", "Logistics", "Robotics", "Dynamics", "Systems", "Textiles")
_TAGLINES = ("Precision parts since 1987", "Software for logistics", "Engineering you can trust",
             "Sustainable packaging", "Industrial sensors", "Cloud services for retail", "Architecture and design")
_TITLES = ("CEO", "Head of Sales", "CTO", "Marketing Manager", "Office Manager", "Press Officer", "Founder")


def build_company_world(seed: int, companies: int = 60) -> CompanyWorld:
    """The same world for the same seed and size; build it, then serve it with serve_company_world."""
    rng = random.Random(seed)
    names = rng.sample([p + s for p in _PREFIXES for s in _SUFFIXES], companies)
    return CompanyWorld(seed, [_company(rng, index, stem) for index, stem in enumerate(names)])


def _company(rng: random.Random, index: int, stem: str) -> Company:
    tld = rng.choices(list(_TLD_WEIGHTS), list(_TLD_WEIGHTS.values()))[0]
    words = [stem] + ([rng.choice(_SECTORS)] if rng.random() < 0.2 else [])
    label = ("-" if len(words) > 1 and rng.random() < 0.3 else "").join(w.lower() for w in words)
    legal = rng.choice(_LEGAL_FORMS[tld])
    server = rng.choices(list(ServerKind), [75, 15, 10])[0]
    company = Company(
        index=index,
        name=" ".join(words + ([legal] if legal else [])),
        domain=f"{label}.{tld}",
        convention=rng.choices(list(CONVENTION_WEIGHTS), list(CONVENTION_WEIGHTS.values()))[0],
        server=server,
        hosted=server is ServerKind.STRICT and rng.random() < 0.3,
        cleanup=CleanUp(
            expand_umlauts=rng.random() < (0.6 if tld == "de" else 0.15),
            keep_hyphens=rng.random() < 0.6,
            join_compound=rng.random() < 0.6,
            keep_particles=rng.random() < 0.7,
        ),
        tagline=rng.choice(_TAGLINES),
        team_path=rng.choice(("/team", "/about")),
        block_after=rng.randint(5, 8) if server is ServerKind.BLOCKING else 0,
        decoy=f"{label}.com" if tld != "com" and rng.random() < 0.4 else None,
    )
    _staff(rng, company, _POOLS[_LOCALE[tld]], published=rng.randint(2, 4), ordinary=rng.randint(8, 15))
    return company


def _staff(rng: random.Random, company: Company, pool: _Pool, *, published: int, ordinary: int) -> None:
    """Hire the published staff first (they keep the natural addresses), then everyone else;
    a quarter of the companies hire a namesake of a published colleague, who gets a digit."""
    names: list[_Name] = []
    seen: set[str] = set()
    while len(names) < published + ordinary:
        name = _random_name(rng, pool if rng.random() < 0.8 else _POOLS["intl"])
        if name.full not in seen:
            seen.add(name.full)
            names.append(name)
    if rng.random() < 0.25:
        namesake = _namesake(rng, names[rng.randrange(published)], company)
        if namesake.full not in seen:
            names.insert(published + rng.randrange(ordinary), namesake)
    taken: set[str] = set()
    for position, name in enumerate(names):
        natural = render_local(company.convention, _tokens(name, company.cleanup))
        local, n = natural, 1
        while local in taken or local in ROLE_MAILBOXES:
            n += 1
            local = f"{natural}{n}"
        taken.add(local)
        company.people.append(Person(
            ref=f"{company.index:02d}-{position:02d}", full_name=name.full, address=f"{local}@{company.domain}",
            domain=company.domain, published=position < published, namesake=local != natural,
        ))


def _random_name(rng: random.Random, pool: _Pool) -> _Name:
    roll = rng.random()
    first = rng.choice(pool.compound) if roll < 0.14 else rng.choice(pool.first)
    middle = rng.choice([m for m in pool.middle if m != first] or [""]) if roll > 0.86 and " " not in first else ""
    if pool.particles and rng.random() < 0.14:
        particle, last = rng.choice(pool.particles)
        return _Name(first, last, particle, middle)
    return _Name(first, rng.choice(pool.last), middle=middle)


def _namesake(rng: random.Random, colleague: _Name, company: Company) -> _Name:
    """Someone whose natural address is the colleague's: same first and last name told apart by a
    middle name when the convention spells the whole first name, else same initial and surname."""
    if "{first}" in company.convention:
        middle = "" if colleague.middle else rng.choice(_EXTRA_MIDDLES)
        return _Name(colleague.first, colleague.last, colleague.particle, middle)
    initial = colleague.first[0]
    firsts = [f for pool in _POOLS.values() for f in pool.first if f[0] == initial and f != colleague.first]
    return _Name(rng.choice(firsts) if firsts else colleague.first, colleague.last, colleague.particle,
                 "" if firsts else rng.choice(_EXTRA_MIDDLES))


# --- websites ----------------------------------------------------------------------------------------


def _shown(address: str, obfuscate: bool) -> str:
    if not obfuscate:
        return f'<a href="mailto:{address}">{address}</a>'
    local, _, domain = address.partition("@")
    return f"{local} [at] {' [dot] '.join(domain.split('.'))}"


def site_pages(company: Company, rng: random.Random | None = None) -> dict[str, Response]:
    """Homepage (title naming the company), a team or about page of staff cards, and a contact page
    with the role address and, for larger teams, one more person in a table row."""
    rng = rng or random.Random(f"{company.domain}-site")
    published = company.published
    on_contact = published[-1:] if len(published) >= 3 else []
    cards = "".join(
        f'<li class="card"><h3>{escape(p.full_name)}</h3><p>{rng.choice(_TITLES)}</p>'
        f"<p>{_shown(p.address, rng.random() < 0.25)}</p></li>"
        for p in published if p not in on_contact
    )
    rows = "".join(f"<tr><td>{escape(p.full_name)}</td><td>{_shown(p.address, False)}</td></tr>" for p in on_contact)
    title = escape(f"{company.name} | {company.tagline}")
    nav = f'<nav><a href="/">Home</a> <a href="{company.team_path}">Our team</a> <a href="/contact">Contact</a></nav>'
    return {
        "/": html(f"<html><head><title>{title}</title><meta name=\"description\" content=\"{escape(company.tagline)}\">"
                  f"</head><body>{nav}<h1>{escape(company.name)}</h1><p>{escape(company.tagline)}.</p></body></html>"),
        company.team_path: html(f"<html><head><title>Team | {escape(company.name)}</title></head><body>{nav}"
                                f"<h1>Meet the team</h1><ul>{cards}</ul></body></html>"),
        "/contact": html(f"<html><head><title>Contact | {escape(company.name)}</title></head><body>{nav}"
                         f"<p>General enquiries: {_shown(f'info@{company.domain}', False)}</p>"
                         f"<table>{rows}</table></body></html>"),
    }


def _parked_page() -> dict[str, Response]:
    return {"/": html("<html><head><title>This domain may be for sale</title></head>"
                      "<body><p>Buy this premium name today.</p></body></html>")}


# --- serving it --------------------------------------------------------------------------------------


@dataclass
class BlocklistingBehaviour(Behaviour):
    """An honest host that blocklists a client after ``block_after`` unknown-user refusals, as
    directory-harvest protection does: from then on RCPT and MAIL FROM get a 5.7.1 blocklist reply."""

    block_after: int = 6
    refusals: int = 0
    blocked_replies: int = 0  # RCPTs answered with the blocklist reply

    def mailbox_reply(self, address: str) -> str:
        if self.block:
            self.blocked_replies += 1
            return BLOCK_REPLY.format(address=address)
        reply = super().mailbox_reply(address)
        if reply.startswith("550 5.1.1"):
            self.refusals += 1
            self.block = self.refusals >= self.block_after
        return reply


@dataclass(frozen=True)
class WireCounters:
    """What the servers saw: counts since the world started (subtract two snapshots for one run)."""

    rcpt: int
    data: int
    connections: int
    pages: int  # HTTP requests of every kind (robots.txt and sitemaps included)
    dns_queries: int
    blocked_replies: int
    blocked_hosts: int  # blocking hosts that have blocklisted the prober
    peak_connections: Mapping[str, int]  # host -> most concurrent connections since reset_peaks()

    def since(self, earlier: WireCounters) -> WireCounters:
        return WireCounters(
            self.rcpt - earlier.rcpt, self.data - earlier.data, self.connections - earlier.connections,
            self.pages - earlier.pages, self.dns_queries - earlier.dns_queries,
            self.blocked_replies - earlier.blocked_replies, self.blocked_hosts - earlier.blocked_hosts,
            self.peak_connections,
        )


class RunningWorld:
    """A served company world: its settings for a mailsleuth process and the servers' counters."""

    def __init__(self, world: CompanyWorld, mail: MailWorld, web: WebWorld, behaviours: Mapping[str, Behaviour]) -> None:
        self.world, self.mail, self.web = world, mail, web
        self._behaviours = behaviours  # mail host -> its behaviour

    @property
    def hosts(self) -> list[str]:
        return list(self._behaviours)

    def env(self, **overrides: Any) -> dict[str, str]:
        """MAILSLEUTH_* variables pointing mailsleuth at this world (DNS, SMTP port, websites over
        http on the web world's port, company endings); ``overrides`` win (e.g. database_url=...)."""
        return self.mail.env(
            crawl_scheme="http", crawl_port=self.web.port, crawl_timeout=5.0, company_tlds=COMPANY_TLDS, **overrides
        )

    def snapshot(self) -> WireCounters:
        stats = {host: self.mail.stats(host) for host in self._behaviours}
        blocking = [b for b in self._behaviours.values() if isinstance(b, BlocklistingBehaviour)]
        pages = sum(self.web.hits(host) for host in self.web.sites)
        return WireCounters(
            rcpt=sum(s.rcpt_count for s in stats.values()),
            data=sum(s.data_count for s in stats.values()),
            connections=sum(s.connections for s in stats.values()),
            pages=pages,
            dns_queries=self.mail.dns.queries(),
            blocked_replies=sum(b.blocked_replies for b in blocking),
            blocked_hosts=sum(b.block for b in blocking),
            peak_connections={host: s.max_concurrent for host, s in stats.items()},
        )

    def reset_peaks(self) -> None:
        """Start counting concurrent-connection peaks afresh (call while no client is connected)."""
        for host in self._behaviours:
            stats = self.mail.stats(host)
            stats.max_concurrent = stats.concurrent


def _behaviours(world: CompanyWorld) -> dict[str, Behaviour]:
    """One behaviour per mail host; the provider and the parking host serve several domains, so
    their mailboxes are full addresses."""
    hosts: dict[str, Behaviour] = {}
    hosted = [c for c in world.companies if c.hosted]
    if hosted:
        addresses = {p.address for c in hosted for p in c.people} | {f"{r}@{c.domain}" for c in hosted for r in ROLE_MAILBOXES}
        hosts[PROVIDER_MX] = Behaviour(mailboxes=addresses)
    if world.decoys:
        hosts[PARKING_MX] = Behaviour(catch_all=True)
    for company in world.companies:
        if company.hosted:
            continue
        mailboxes = {p.address.partition("@")[0] for p in company.people} | ROLE_MAILBOXES
        if company.server is ServerKind.BLOCKING:
            hosts[company.mx_host] = BlocklistingBehaviour(mailboxes=mailboxes, block_after=company.block_after)
        else:
            hosts[company.mx_host] = Behaviour(mailboxes=mailboxes, catch_all=company.server is ServerKind.CATCH_ALL)
    return hosts


@contextmanager
def serve_company_world(world: CompanyWorld) -> Iterator[RunningWorld]:
    """Start the world's DNS, mail servers and websites on loopback; every name (mail hosts and
    websites alike) resolves through the world's DNS server, as it would in production."""
    behaviours = _behaviours(world)
    mail = MailWorld(first_ip=MAIL_FIRST_IP)
    web = WebWorld((WEB_ADDRESS,))
    for company in world.companies:
        mail.add_domain(company.domain, mx=[(10, company.mx_host)], behaviour=behaviours[company.mx_host])
        mail.dns.add(company.domain, "A", WEB_ADDRESS)
        web.add_site(company.domain, site_pages(company))
        if company.decoy:
            mail.add_domain(company.decoy, mx=[(10, PARKING_MX)], behaviour=behaviours[PARKING_MX])
            mail.dns.add(company.decoy, "A", WEB_ADDRESS)
            web.add_site(company.decoy, _parked_page())
    with web, mail:
        yield RunningWorld(world, mail, web, behaviours)

