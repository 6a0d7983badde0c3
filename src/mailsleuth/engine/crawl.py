"""A company's own website -> the addresses on it (with the pages they came from) and company facts.

Hunter-style sourcing: the homepage, then the pages that usually list people (contact, team, about,
imprint, press...) found through links and the sitemap, within a page budget. Every request goes
through the egress transport (:mod:`mailsleuth.engine.egress`), which resolves the host itself, refuses
private targets (unless ``settings.allow_private_networks``) and connects to the address it checked, so
no hop of a redirect chain and no DNS answer can steer the crawler into a private network. Bodies are
streamed and cut at ``max_page_bytes``. Extraction (:func:`extract_page`) and history keeping (:func:`merge_sources`) are pure.
"""

from __future__ import annotations

import asyncio
import codecs
import heapq
import html
import re
import zlib
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parseaddr
from enum import StrEnum
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import httpx
from protego import Protego
from selectolax.lexbor import LexborHTMLParser, LexborNode

from mailsleuth.config import Settings
from mailsleuth.engine.domains import InvalidAddress, is_role, normalise_domain, parse_address
from mailsleuth.engine.names import InvalidName, PersonName, is_first_name, parse_name
from mailsleuth.engine.patterns import Convention, match_patterns
from mailsleuth.engine.egress import Egress, EgressRefused, is_public_address

__all__ = [
    "USER_AGENT",
    "CompanyFacts",
    "CrawlResult",
    "PageExtract",
    "PageVisit",
    "Skip",
    "Source",
    "crawl_domain",
    "decode_html",
    "extract_page",
    "find_addresses",
    "learn_from_crawl",
    "merge_sources",
]

USER_AGENT = "mailsleuth/0.1 (+https://github.com/mailsleuth/mailsleuth)"
ROBOTS_AGENT = "mailsleuth"  # the token robots.txt groups are matched against
MAX_REDIRECTS = 5
MAX_ROBOTS_BYTES = 512 * 1024  # what Google reads of a robots.txt (RFC 9309 asks for at least 500 KiB)
MAX_SITEMAPS = 3  # sitemap files (indexes included) read per crawl; each counts against the budget
_MAX_RECORD_DEPTH = 6  # ancestors climbed from an address to find the card/row naming its person
_MAX_HINTS = 200  # address-bearing nodes examined for names on one page
_MAX_RECORD_CHARS = 2000  # a card or row is short; a longer element holds more than one person

Resolve = Callable[[str], Awaitable[Sequence[str]]]


class Skip(StrEnum):
    """Why a URL yielded no page."""

    ROBOTS = "disallowed_by_robots"
    PRIVATE = "private_network_refused"
    NOT_FOUND = "host_not_found"
    LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_URL = "bad_url"
    TIMEOUT = "timeout"
    NETWORK = "network_error"
    HTTP_STATUS = "http_status"
    NOT_HTML = "not_html"
    ENCODING = "unsupported_content_encoding"


@dataclass(frozen=True)
class Source:
    """Where an address was seen (Hunter's source object): kept after it disappears, for history."""

    uri: str
    extracted_on: datetime
    last_seen_on: datetime
    still_on_page: bool = True


@dataclass(frozen=True)
class CompanyFacts:
    name: str | None = None
    title: str | None = None
    description: str | None = None
    keywords: tuple[str, ...] = ()
    logo: str | None = None  # absolute URL: apple-touch-icon, else icon, else og:image
    canonical_url: str | None = None


@dataclass(frozen=True)
class PageVisit:
    """One URL the crawler tried; ``error`` is a :class:`Skip` value when it yielded nothing."""

    url: str
    final_url: str | None = None
    status: int | None = None
    bytes_read: int = 0
    truncated: bool = False  # the body was longer than max_page_bytes; only its start was read
    error: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class PageExtract:
    """What one HTML page says: addresses at the domain, names next to them, links worth following."""

    addresses: frozenset[str]
    names: Mapping[str, PersonName]
    links: Mapping[str, int]  # absolute URL -> interest score (> 0)
    facts: CompanyFacts


@dataclass
class CrawlResult:
    domain: str
    started_at: datetime
    finished_at: datetime
    facts: CompanyFacts = field(default_factory=CompanyFacts)
    visits: list[PageVisit] = field(default_factory=list)
    sources: dict[str, list[Source]] = field(default_factory=dict)
    names: dict[str, PersonName] = field(default_factory=dict)  # person addresses only
    roles: set[str] = field(default_factory=set)

    @property
    def people(self) -> list[str]:
        """Addresses that belong to a person (every found address that is not a role)."""
        return sorted(self.sources.keys() - self.roles)

    @property
    def home(self) -> PageVisit | None:
        """The homepage visit: the first that was read, else the last one tried (its error says why)."""
        read = [v for v in self.visits if v.error is None]
        return read[0] if read else (self.visits[-1] if self.visits else None)

    @property
    def visited(self) -> set[str]:
        """Pages read in full or in part: the ones :func:`merge_sources` may mark addresses gone from."""
        return {v.final_url for v in self.visits if v.error is None and v.final_url}


# --- text: charsets, addresses, obfuscations -----------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# WHATWG: browsers read these labels as windows-1252, and pages rely on it (0x80-0x9F are “smart” quotes).
_AS_WINDOWS_1252 = frozenset({"iso8859-1", "latin-1", "ascii"})


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in _AS_WINDOWS_1252 else name


def decode_html(body: bytes, declared: str | None = None) -> str:
    """Bytes -> text the way browsers do: BOM, then the HTTP charset, then <meta charset>, then a guess.

    The guess is UTF-8 when the bytes are valid UTF-8, else windows-1252; undecodable bytes become
    U+FFFD, so a page lying about its charset still yields its ASCII addresses.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, "replace")
    meta = _META_CHARSET.search(body[:4096])
    codec = _codec(declared) or _codec(meta.group(1).decode("ascii") if meta else None)
    if codec and not codec.startswith("utf-16"):  # a meta tag read as ASCII cannot be UTF-16
        return body.decode(codec, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", "replace")


_ADDRESS = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![\w-])"
)
# Patterns that may start with whitespace begin at the start of a run ((?<!\s)), so a megabyte of
# blanks costs one scan, not one per position.
_BRACKET_AT = re.compile(r"(?<!\s)\s*[\[({<]\s*(?:at|@|arobase)\s*[\])}>]\s*", re.IGNORECASE)
_BRACKETED = re.compile(r"[\[({<]\s*(?:at|@|arobase)\s*[\])}>]", re.IGNORECASE)
_BRACKET_DOT = re.compile(r"(?<!\s)\s*[\[({<]\s*(?:dot|punkt|point|\.)\s*[\])}>]\s*", re.IGNORECASE)
# "jane at acme dot com": plain words are ambiguous in prose, so this form is only believed when the
# domain it spells is the crawled one and the "local part" is not an everyday word ("us at acme dot com").
_WORDS_ADDRESS = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})\s+at\s+([A-Za-z0-9-]+(?:\s+dot\s+[A-Za-z0-9-]+)+)\b",
    re.IGNORECASE,
)
_PROSE_WORDS = frozenset(
    {"us", "me", "you", "him", "her", "them", "it", "we", "they", "one", "all", "here", "there",
     "this", "that", "look", "find", "visit", "reach", "email", "mail", "write", "contact", "call",
     "available", "online"}
)
_HINT = re.compile(r"@|[\[({<]\s*at\s*[\])}>]|\sat\s+\S+\s+dot\s", re.IGNORECASE)


def _at_domain(address_domain: str, domain: str) -> bool:
    return address_domain == domain or address_domain.endswith("." + domain)


def _checked(candidate: str, domain: str) -> str | None:
    """The normalised (lower-case) address when it is valid and at the domain or a subdomain."""
    try:
        address, _, address_domain = parse_address(candidate)
    except InvalidAddress:
        return None
    return address.lower() if _at_domain(address_domain, domain) else None


def find_addresses(text: str, domain: str) -> list[str]:
    """Addresses at ``domain`` in text, undoing the usual obfuscations, in order of appearance."""
    # Each pattern runs only where its anchor occurs (an "@", a bracket, the word "dot"): most page
    # text has none, and scanning it with every pattern made extraction the crawler's bottleneck.
    found: dict[str, None] = {}
    plain = _BRACKET_DOT.sub(".", _BRACKET_AT.sub("@", text)) if _BRACKETED.search(text) else text
    end = 0
    for at in re.finditer("@", plain):
        if at.start() < end:
            continue  # inside the address just read
        window = _ADDRESS.search(plain, max(end, at.start() - 65), at.start() + 300)
        if window is None:
            continue
        end = window.end()
        if address := _checked(window.group(0), domain):
            found.setdefault(address)
    if "dot" not in text.lower():
        return list(found)
    for match in _WORDS_ADDRESS.finditer(text):
        local, spelled = match.groups()
        if local.lower() in _PROSE_WORDS:
            continue
        address_domain = re.sub(r"\s+dot\s+", ".", spelled, flags=re.IGNORECASE).lower()
        if _at_domain(address_domain, domain) and (address := _checked(f"{local}@{address_domain}", domain)):
            found.setdefault(address)
    return list(found)


def _mailto_addresses(href: str, domain: str) -> list[str]:
    if href[:7].lower() != "mailto:":
        return []
    targets = unquote(href[7:].split("?", 1)[0])
    return [a for part in targets.split(",") if (a := _checked(parseaddr(part)[1], domain))]


# --- names next to addresses ---------------------------------------------------------------------

_RECORD_TAGS = frozenset({"li", "tr", "article", "address", "dd", "figure", "td"})
_RECORD_CLASS = re.compile(
    r"card|person|people|member|profile|staff|employee|team|bio|contact|author|vcard|h-card|colleague",
    re.IGNORECASE,
)
_NAME_SELECTORS = (
    "[itemprop=name]", ".p-name", ".fn", "[class*=name]", "h1, h2, h3, h4, h5, h6", "strong, b", "th, dt",
)
_CHUNK = re.compile(r"(?<!\s)\s*(?:[\n|,;:•·–—/()]|\s-\s)\s*")
_NAME_WORD = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)


def _person_name(text: str, local: str) -> PersonName | None:
    """A name for the owner of ``local`` when ``text`` clearly is one.

    Accepted when it looks like a written name (2-4 words, capitalised, no digits) and either the
    local part is built from it or its first word is a known given name: "Sales Team" is not a person.
    """
    text = " ".join(text.split())
    words = text.split(" ")
    if not (2 <= len(words) <= 4 and len(text) <= 60):
        return None
    if not all(_NAME_WORD.fullmatch(word) for word in words) or not (words[0][0].isupper() and words[-1][0].isupper()):
        return None
    try:
        name = parse_name(text)
    except InvalidName:
        return None
    if not (name.first and name.last):
        return None
    if match_patterns(local, name) or is_first_name(name.variants()[0].first):
        return name
    return None


def _is_record(node: LexborNode) -> bool:
    attributes = node.attributes
    return (
        node.tag in _RECORD_TAGS
        or "itemscope" in attributes
        or bool(_RECORD_CLASS.search(attributes.get("class") or ""))
    )


def _record_addresses(node: LexborNode, text: str, domain: str) -> set[str]:
    found = set(find_addresses(text, domain))
    for link in node.css("a[href]"):
        found.update(_mailto_addresses(link.attributes.get("href") or "", domain))
    return found


def _name_in_record(record: LexborNode, local: str) -> PersonName | None:
    for selector in _NAME_SELECTORS:
        for node in record.css(selector):
            if name := _person_name(node.text(separator=" "), local):
                return name
    for chunk in _CHUNK.split(record.text(separator="\n")):
        if name := _person_name(chunk, local):
            return name
    return None


def _names(root: LexborNode, hints: Iterable[LexborNode], domain: str) -> dict[str, PersonName]:
    """Names of the people whose address sits alone in a card, list item or table row."""
    names: dict[str, PersonName] = {}
    examined: set[int] = set()
    for hint in hints:
        node: LexborNode | None = hint
        for _ in range(_MAX_RECORD_DEPTH):
            if node is None or node.tag in ("body", "html", "-undef"):
                break
            if node.tag != "-text" and _is_record(node):
                if node.mem_id in examined:
                    break  # climbed from here before: same answer
                examined.add(node.mem_id)
                text = node.text(separator=" ")
                if len(text) > _MAX_RECORD_CHARS:
                    break
                addresses = _record_addresses(node, text, domain)
                if len(addresses) > 1:
                    break  # several people (or a person and a role): nothing here names one of them
                if len(addresses) == 1:
                    address = next(iter(addresses))
                    if is_role(address.partition("@")[0]) or address in names:
                        break
                    if name := _name_in_record(node, address.partition("@")[0]):
                        names[address] = name
                        break
            node = node.parent
    return names


# --- links and facts -----------------------------------------------------------------------------

_STRONG = re.compile(
    r"contact|kontakt|contacto|contatti|team|people|staff|leadership|management|imprint|impressum|"
    r"mentions-legales|legal-notice|our-people|who-we-are|equipo|equipe|directory|employees",
    re.IGNORECASE,
)
_WEAK = re.compile(r"about|uber-uns|ueber-uns|over-ons|chi-siamo|press|media|company|board|founders", re.IGNORECASE)
_NOT_PAGE = re.compile(
    r"\.(?:pdf|jpe?g|png|gif|svg|webp|ico|css|js|zip|gz|mp4|mp3|docx?|xlsx?|pptx?)$", re.IGNORECASE
)


def _link_score(url: str, text: str = "") -> int:
    """How likely a page lists people: 3 for contact/team-like, 1 for about/press-like, 0 otherwise."""
    path = urlsplit(url).path
    if _NOT_PAGE.search(path):
        return 0
    where = f"{path} {text}"
    return 3 if _STRONG.search(where) else 1 if _WEAK.search(where) else 0


def _absolute(base: str, href: str) -> str | None:
    """An absolute http(s) URL without fragment, or None for anything else (javascript:, tel:, junk)."""
    href = href.strip()
    if not href or any(ord(ch) < 32 for ch in href):
        return None
    try:
        parts = urlsplit(urljoin(base, href))
        parts.port  # noqa: B018 -- reading it validates the port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))


_GENERIC_TITLE = re.compile(r"^(?:home|homepage|home page|welcome|startseite|accueil|inicio|official (?:web)?site)$", re.IGNORECASE)
_TITLE_SEPARATORS = re.compile(r"(?<!\s)\s+[|–—:·•»-]\s+|(?<!\s)\s*\|\s*")


def _name_from_title(title: str, domain: str) -> str | None:
    """The title segment naming the company ("Acme Corp | Home" -> "Acme Corp"): the one spelling the domain."""
    segments = [s for s in _TITLE_SEPARATORS.split(title) if s and not _GENERIC_TITLE.match(s)]
    segments = [re.sub(r"^welcome to\s+", "", s, flags=re.IGNORECASE) for s in segments]
    if not segments:
        return None
    label = domain.split(".")[0]
    for segment in segments:
        compact = re.sub(r"[^a-z0-9]", "", segment.lower())
        if compact and (label in compact or compact in label):
            return segment
    return segments[0]


def _facts(tree: LexborHTMLParser, url: str, domain: str) -> CompanyFacts:
    meta: dict[str, str] = {}
    for node in tree.css("meta[content]"):
        key = (node.attributes.get("property") or node.attributes.get("name") or "").strip().lower()
        if key and key not in meta:
            meta[key] = " ".join((node.attributes.get("content") or "").split())
    related: dict[str, str] = {}  # <link rel=...> -> its absolute href
    for node in tree.css("link[rel][href]"):
        if href := _absolute(url, node.attributes.get("href") or ""):
            for rel in (node.attributes.get("rel") or "").lower().split():
                related.setdefault(rel, href)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node else ""
    og_image = _absolute(url, meta.get("og:image", ""))
    logo = (
        related.get("apple-touch-icon") or related.get("apple-touch-icon-precomposed") or related.get("icon") or og_image
    )
    keywords = tuple(k for k in (part.strip() for part in meta.get("keywords", "").split(",")) if k)
    return CompanyFacts(
        name=meta.get("og:site_name") or meta.get("application-name") or (_name_from_title(title, domain) if title else None),
        title=title or None,
        description=meta.get("description") or meta.get("og:description") or None,
        keywords=keywords,
        logo=logo,
        canonical_url=related.get("canonical"),
    )


def extract_page(page: str, url: str, domain: str) -> PageExtract:
    """Addresses at ``domain`` (text, mailto links, obfuscations), names next to them, links, facts."""
    tree = LexborHTMLParser(page)
    for node in tree.css("script, style, template"):
        if node.tag != "script" or "ld+json" not in (node.attributes.get("type") or ""):
            node.decompose()
    root = tree.body or tree.root
    addresses: dict[str, None] = {}
    names: dict[str, PersonName] = {}
    links: dict[str, int] = {}
    hints: list[LexborNode] = []
    for link in tree.css("a[href]"):
        href = link.attributes.get("href") or ""
        mailto = _mailto_addresses(href, domain)
        if mailto:
            hints.append(link)
            for address in mailto:
                addresses.setdefault(address)
            local = mailto[0].partition("@")[0]
            if len(mailto) == 1 and not is_role(local) and (name := _person_name(link.text(separator=" "), local)):
                names.setdefault(mailto[0], name)
        elif (target := _absolute(url, href)) and (score := _link_score(target, link.text())):
            links[target] = max(links.get(target, 0), score)
    if root is not None:
        for address in find_addresses(root.text(separator=" "), domain):
            addresses.setdefault(address)
        hints.extend(n for n in root.traverse(include_text=True) if n.tag == "-text" and _HINT.search(n.text_content or ""))
        for address, name in _names(root, hints[:_MAX_HINTS], domain).items():
            names.setdefault(address, name)
    return PageExtract(frozenset(addresses), names, links, _facts(tree, url, domain))


def _sitemap_locations(body: bytes) -> tuple[list[str], bool]:
    """(<loc> URLs, whether this is a sitemap index). A regex, not an XML parser: no entity expansion."""
    text = body.decode("utf-8", "replace")
    locations = [html.unescape(m.strip()) for m in re.findall(r"<loc>([^<]*)</loc>", text, re.IGNORECASE)]
    return locations, bool(re.search(r"<sitemapindex[\s>]", text, re.IGNORECASE))


# --- history and learning ------------------------------------------------------------------------


def merge_sources(
    old: Mapping[str, Sequence[Source]], new: Mapping[str, Sequence[Source]], *, visited: Collection[str]
) -> dict[str, list[Source]]:
    """Fold a new crawl's sources into stored ones, keeping history.

    A (address, page) pair seen again keeps its first ``extracted_on`` and takes the new
    ``last_seen_on``; one whose page was read again (``visited``) without it is kept with
    ``still_on_page=False``; pages this crawl did not read leave their sources untouched.
    """
    merged: dict[str, list[Source]] = {}
    for address in old.keys() | new.keys():
        before = {s.uri: s for s in old.get(address, ())}
        now = {s.uri: s for s in new.get(address, ())}
        sources = []
        for uri in before.keys() | now.keys():
            kept, seen = before.get(uri), now.get(uri)
            if kept and seen:
                sources.append(
                    Source(uri, min(kept.extracted_on, seen.extracted_on), max(kept.last_seen_on, seen.last_seen_on))
                )
            elif seen:
                sources.append(seen)
            elif kept:
                sources.append(replace(kept, still_on_page=False) if uri in visited else kept)
        merged[address] = sorted(sources, key=lambda s: (s.extracted_on, s.uri))
    return merged


def learn_from_crawl(result: CrawlResult, convention: Convention) -> int:
    """Teach a domain's convention the person addresses a crawl found; returns observations added.

    Addresses named on the page are read with the name (falling back to the bare local part when
    the name does not render it); others are read with the first-name lexicon. Roles and addresses
    at subdomains (often another mail system) are skipped. Feed each address once: the store should
    pass only addresses it had not learned from before.
    """
    learned = 0
    for address in result.people:
        local, _, address_domain = address.rpartition("@")
        if address_domain != result.domain:
            continue
        name = result.names.get(address)
        if (name is not None and convention.observe(local, name)) or convention.observe(local):
            learned += 1
    return learned


# --- the wire ------------------------------------------------------------------------------------


class _FetchError(Exception):
    def __init__(self, skip: Skip, detail: str = "", *, final_url: str | None = None, status: int | None = None) -> None:
        super().__init__(detail or skip.value)
        self.skip, self.detail, self.final_url, self.status = skip, detail, final_url, status


@dataclass(frozen=True)
class _Body:
    url: str  # after redirects
    status: int
    content_type: str
    charset: str | None
    data: bytes
    truncated: bool


async def _read_limited(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the (decompressed) body, and whether there was more."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        inflate = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    else:
        raise _FetchError(Skip.ENCODING, encoding)
    body = bytearray()
    async for chunk in response.aiter_raw():
        # Inflating with a cap keeps a compression bomb as small as the limit.
        data = inflate.decompress(chunk, limit + 1 - len(body)) if inflate else chunk
        body += data
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False


class _Fetcher:
    """GET with manual redirects (each hop robots-checked and address-checked), a deadline and a size cap."""

    def __init__(self, client: httpx.AsyncClient, *, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._robots: dict[str, Protego] = {}

    async def get(
        self, url: str, *, limit: int, accept: Collection[str] | None = None, robots: bool = True
    ) -> _Body:
        """The body at url (following redirects); ``accept`` lists content types worth reading."""
        chain = [url]
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            if robots:
                try:
                    rules = await self.robots(current)
                except _FetchError as exc:
                    raise _FetchError(exc.skip, exc.detail, final_url=current) from None
                if not rules.can_fetch(current, ROBOTS_AGENT):
                    raise _FetchError(Skip.ROBOTS, final_url=current)
            try:
                async with asyncio.timeout(self._timeout):
                    async with self._client.stream("GET", current) as response:
                        if response.is_redirect:
                            location = _absolute(current, response.headers["location"])
                            if location is None:
                                raise _FetchError(Skip.BAD_URL, response.headers["location"], final_url=current)
                            if location in chain:
                                raise _FetchError(Skip.LOOP, " -> ".join([*chain, location]), final_url=current)
                            chain.append(location)
                            current = location
                            continue
                        if response.status_code != 200:
                            raise _FetchError(Skip.HTTP_STATUS, final_url=current, status=response.status_code)
                        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                        if accept is not None and content_type not in accept:
                            raise _FetchError(Skip.NOT_HTML, content_type, final_url=current, status=200)
                        data, truncated = await _read_limited(response, limit)
                        return _Body(current, 200, content_type, response.charset_encoding, data, truncated)
            except EgressRefused as exc:
                raise _FetchError(Skip(exc.reason), str(exc), final_url=current) from None
            except (TimeoutError, httpx.TimeoutException):
                raise _FetchError(Skip.TIMEOUT, final_url=current) from None
            except httpx.InvalidURL as exc:
                raise _FetchError(Skip.BAD_URL, str(exc), final_url=current) from None
            except httpx.HTTPError as exc:
                raise _FetchError(Skip.NETWORK, f"{type(exc).__name__}: {exc}", final_url=current) from None
        raise _FetchError(Skip.TOO_MANY_REDIRECTS, " -> ".join(chain), final_url=current)

    async def robots(self, url: str) -> Protego:
        """The robots rules of url's origin, fetched once (RFC 9309: 4xx allows all, failure disallows).

        Raises when the origin may not or cannot be contacted at all, so that reason is reported.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            try:
                body = await self.get(origin + "/robots.txt", limit=MAX_ROBOTS_BYTES, robots=False)
                rules = body.data.decode("utf-8", "replace")
            except _FetchError as exc:
                if exc.skip in (Skip.PRIVATE, Skip.NOT_FOUND, Skip.NETWORK, Skip.TIMEOUT):
                    raise  # the origin cannot be contacted at all: say so (and let https fall back)
                unavailable = exc.status is not None and 400 <= exc.status < 500
                rules = "" if unavailable else "User-agent: *\nDisallow: /"
            self._robots[origin] = Protego.parse(rules)
        return self._robots[origin]


# --- the crawl -----------------------------------------------------------------------------------

_HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml"})
# A homepage failing like this over https may still answer over http; a refusal by policy
# (robots, private address) or an answer from the site is final.
_TRY_NEXT_SCHEME = frozenset({Skip.NETWORK.value, Skip.TIMEOUT.value})


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Crawl:
    def __init__(self, domain: str, fetcher: _Fetcher, *, budget: int, limit: int, clock: Callable[[], datetime]) -> None:
        self.domain = domain
        self.fetcher = fetcher
        self.budget = budget
        self.limit = limit
        self.clock = clock
        self.result = CrawlResult(domain, clock(), clock())
        self.requests = 0
        self.seen: set[str] = set()
        self.queue: list[tuple[int, int, str]] = []
        self.site_hosts: set[str] = set()

    def _on_site(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return _at_domain(host, self.domain) or host in self.site_hosts

    def enqueue(self, url: str, score: int) -> None:
        if url not in self.seen and score > 0 and self._on_site(url):
            self.seen.add(url)
            heapq.heappush(self.queue, (-score, len(self.seen), url))

    async def fetch(self, url: str, accept: Collection[str] | None = None) -> _Body | None:
        self.seen.add(url)
        try:
            body = await self.fetcher.get(url, limit=self.limit, accept=accept)
        except _FetchError as exc:
            if exc.skip is not Skip.ROBOTS:  # robots are checked before any request is made
                self.requests += 1
            self.result.visits.append(PageVisit(url, exc.final_url, exc.status, error=exc.skip.value, detail=exc.detail))
            return None
        self.requests += 1
        self.seen.add(body.url)
        self.result.visits.append(PageVisit(url, body.url, body.status, len(body.data), body.truncated))
        return body

    async def page(self, url: str) -> PageExtract | None:
        body = await self.fetch(url, _HTML_TYPES)
        if body is None:
            return None
        extract = extract_page(decode_html(body.data, body.charset), body.url, self.domain)
        seen_at = self.clock()
        for address in extract.addresses:
            self.result.sources.setdefault(address, []).append(Source(body.url, seen_at, seen_at))
            if is_role(address.partition("@")[0]):
                self.result.roles.add(address)
        for address, name in extract.names.items():
            self.result.names.setdefault(address, name)
        for link, score in extract.links.items():
            self.enqueue(link, score)
        return extract

    async def sitemaps(self, home: str) -> None:
        robots = await self.fetcher.robots(home)
        pending = list(robots.sitemaps) or [urljoin(home, "/sitemap.xml")]
        read = 0
        while pending and read < MAX_SITEMAPS and self.requests < self.budget:
            url = _absolute(home, pending.pop(0))
            if url is None or not self._on_site(url) or url in self.seen:
                continue
            read += 1
            body = await self.fetch(url)
            if body is None:
                continue
            locations, is_index = _sitemap_locations(body.data)
            if is_index:
                pending.extend(locations)
                continue
            for location in locations:
                if target := _absolute(url, location):
                    self.enqueue(target, _link_score(target))

    async def run(self, starts: Sequence[str]) -> CrawlResult:
        """Crawl from the first start URL whose homepage can be read (https, then http)."""
        home = None
        for start in starts:
            home = await self.page(start)
            last = self.result.visits[-1]
            if home is not None or last.error not in _TRY_NEXT_SCHEME:
                break
        if home is not None:
            final = self.result.visits[-1].final_url or start
            self.site_hosts.add(urlsplit(final).hostname or "")
            self.result.facts = home.facts
            await self.sitemaps(final)
            while self.queue and self.requests < self.budget:
                _, _, url = heapq.heappop(self.queue)
                await self.page(url)
        self.result.finished_at = self.clock()
        return self.result


async def crawl_domain(
    domain: str,
    *,
    settings: Settings,
    page_budget: int = 20,
    scheme: str = "https",
    port: int | None = None,
    timeout: float = 10.0,
    max_page_bytes: int = 2_000_000,
    user_agent: str = USER_AGENT,
    resolve: Resolve | None = None,
    is_public: Callable[[str], bool] = is_public_address,
    clock: Callable[[], datetime] = _utcnow,
) -> CrawlResult:
    """Crawl a company's website from ``scheme://domain[:port]/`` for addresses and company facts.

    With ``https`` (the default) a site that cannot be reached over TLS is read over plain http, as
    many small companies' sites only answer there; an http page redirecting to https is followed
    (each hop re-checked). ``http`` reads plain http only.

    ``page_budget`` caps the page and sitemap fetches attempted (robots.txt is not counted);
    ``timeout`` bounds each request from connect to last byte. Host names are resolved with
    ``resolve`` (default: mailsleuth's DNS resolver, i.e. MAILSLEUTH_DNS_SERVERS) and every address
    must pass ``is_public`` unless ``settings.allow_private_networks``. Raises InvalidDomain.
    """
    domain = normalise_domain(domain)
    if scheme not in ("http", "https"):
        raise ValueError(f"scheme must be http or https, not {scheme!r}")
    if page_budget < 1 or max_page_bytes < 1 or timeout <= 0:
        raise ValueError("page_budget, max_page_bytes and timeout must be positive")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in user_agent):
        raise ValueError("user_agent must not contain control characters")
    egress = Egress.from_settings(settings, resolve, is_public)
    headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate, identity", "Accept": "text/html,*/*;q=0.5"}
    # The crawler truncates bodies itself at max_page_bytes (decompressed); the transport's cap is
    # the backstop on raw bytes, so it sits well above what a truncated read can take.
    client = egress.client(max_response_bytes=2 * max_page_bytes + 65536, deadline=timeout,
                           headers=headers, timeout=timeout, follow_redirects=False)
    async with client:
        crawl = _Crawl(domain, _Fetcher(client, timeout=timeout), budget=page_budget, limit=max_page_bytes, clock=clock)
        netloc = domain if port is None else f"{domain}:{port}"
        schemes = ("https", "http") if scheme == "https" else (scheme,)
        return await crawl.run([f"{s}://{netloc}/" for s in schemes])
