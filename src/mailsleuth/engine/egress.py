"""The one way out: every outgoing HTTP request whose target outside input chose goes through here.

Webhooks, massives' ``file_url``, the crawler and the company-name homepage checks all use an
:class:`Egress` client. Its transport resolves the host once with mailsleuth's own resolver (the
configured DNS servers), refuses the request when any answer is not a public address (IPv4 embedded
in IPv6 included), then connects to exactly that address — the Host header and TLS SNI keep the
name — so neither the system resolver, a hosts file nor a rebinding DNS answer can move the
connection. Every redirect hop is a new request through the same transport, so each is re-checked.
Response bodies are capped in bytes and in time. The same classifier guards SMTP targets
(:func:`is_public_address`). ``allow_private_networks`` lets loopback and private targets through
(tests and demos).
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx

from mailsleuth.config import Settings
from mailsleuth.engine.dns import Resolver

__all__ = [
    "Egress",
    "EgressRefused",
    "EgressTransport",
    "ResponseTooLarge",
    "UnsafeTarget",
    "check_url",
    "is_public_address",
]

MAX_URL_LENGTH = 2048

Resolve = Callable[[str], Awaitable[Sequence[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits are IPv4
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d


def _public_v4(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def is_public_address(ip: str) -> bool:
    """Whether a connection to ``ip`` stays outside every private, loopback, link-local, unique-local,
    multicast and reserved range — also when ``ip`` is an IPv6 form carrying an IPv4 address
    (mapped, NAT64, 6to4: judged by the IPv4 inside; IPv4-compatible, translated and Teredo: refused).
    """
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return _public_v4(address)
    if address.ipv4_mapped is not None:
        return _public_v4(address.ipv4_mapped)
    if address in _NAT64:
        return _public_v4(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        return _public_v4(address.sixtofour)
    if address in _IPV4_COMPATIBLE or address in _IPV4_TRANSLATED or address.teredo is not None:
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_link_local or address.is_site_local
    )


class UnsafeTarget(ValueError):
    """The URL is malformed or points somewhere we refuse to connect to."""


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_url(url: str, *, allow_private: bool) -> str:
    """Validate a URL's syntax (and a literal IP) when it is given, for a clear 400; returns its host.

    Where the name resolves is checked again by the transport right before each connection.
    """
    if not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget("Enter a valid URL.")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise UnsafeTarget("The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget("Enter a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("Enter a valid http or https URL.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("Credentials in the URL are not accepted.")
    if port == 0:
        raise UnsafeTarget("Enter a valid URL.")
    host = parts.hostname
    literal = _literal_ip(host)
    if literal is not None and not allow_private and not is_public_address(literal):
        raise UnsafeTarget("Private, loopback and link-local addresses are not accepted.")
    return host


class EgressRefused(httpx.TransportError):
    """The transport would not connect: ``reason`` is ``host_not_found`` or ``private_network_refused``."""

    def __init__(self, reason: str, message: str, request: httpx.Request) -> None:
        super().__init__(message, request=request)
        self.reason = reason


class ResponseTooLarge(httpx.TransportError):
    """The response body went past the client's byte cap; reading stopped there."""


@cache
def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """Certificate verification with the CAs of ``ca_file`` (default: certifi's roots), built once
    per file: loading them costs ~0.1 s."""
    return ssl.create_default_context(cafile=ca_file or certifi.where())


class _CappedStream(httpx.AsyncByteStream):
    """The inner body, cut off (with an error) past ``limit`` bytes or after ``deadline`` (loop time)."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request, limit: int, deadline: float) -> None:
        self._inner, self._request, self._limit, self._deadline = inner, request, limit, deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        chunks = self._inner.__aiter__()
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout_at(self._deadline):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise httpx.ReadTimeout("the response took longer than allowed", request=self._request) from None
            seen += len(chunk)
            if seen > self._limit:
                raise ResponseTooLarge(f"the response is larger than {self._limit} bytes", request=self._request)
            if loop.time() > self._deadline:
                raise httpx.ReadTimeout("the response took longer than allowed", request=self._request)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class EgressTransport(httpx.AsyncBaseTransport):
    """Resolve once, check every answer, connect to the checked address; cap the body and the time."""

    def __init__(
        self,
        resolve: Resolve,
        allowed: Callable[[str], bool],
        *,
        max_response_bytes: int,
        deadline: float,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._resolve = resolve
        self._allowed = allowed
        self._max_bytes = max_response_bytes
        self._deadline = deadline
        self._inner = httpx.AsyncHTTPTransport(retries=0, verify=tls or tls_context(), trust_env=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        deadline = asyncio.get_running_loop().time() + self._deadline
        try:
            async with asyncio.timeout_at(deadline):
                address = await self._checked_address(host, request)
                request.url = request.url.copy_with(host=address)  # the Host header keeps the name
                request.extensions = {**request.extensions, "sni_hostname": host}
                response = await self._inner.handle_async_request(request)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"{host} did not answer in time", request=request) from None
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CappedStream(response.stream, request, self._max_bytes, deadline)
        return response

    async def _checked_address(self, host: str, request: httpx.Request) -> str:
        literal = _literal_ip(host)
        addresses: Sequence[str] = (literal,) if literal else await self._resolve(host)
        if not addresses:
            raise EgressRefused("host_not_found", f"{host} does not resolve.", request)
        refused = [ip for ip in addresses if not self._allowed(ip)]
        if refused:  # one private answer is enough: a mixed answer is how rebinding attacks start
            message = (
                "Private, loopback and link-local addresses are not accepted."
                if literal
                else f"{host} resolves to a private, loopback or link-local address ({refused[0]})."
            )
            raise EgressRefused("private_network_refused", message, request)
        return addresses[0]

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(frozen=True)
class Egress:
    """Where outgoing requests may go: the resolver whose answer is used and the address rule."""

    resolve: Resolve
    allowed: Callable[[str], bool]
    tls: ssl.SSLContext | None = None  # the CAs HTTPS certificates are checked against; None: certifi's

    @classmethod
    def from_settings(
        cls, settings: Settings, resolve: Resolve | None = None, is_public: Callable[[str], bool] = is_public_address
    ) -> Egress:
        """The configured DNS servers (or ``resolve``), public addresses only unless settings allow,
        HTTPS checked against ``settings.egress_ca_file`` when one is set."""
        if resolve is None:
            resolve = Resolver.from_settings(settings).addresses
        allow = settings.allow_private_networks
        return cls(resolve, lambda ip: allow or is_public(ip), tls_context(settings.egress_ca_file))

    def transport(self, *, max_response_bytes: int, deadline: float) -> EgressTransport:
        return EgressTransport(
            self.resolve, self.allowed, max_response_bytes=max_response_bytes, deadline=deadline, tls=self.tls
        )

    def client(self, *, max_response_bytes: int, deadline: float, **options: Any) -> httpx.AsyncClient:
        """An httpx client whose every request (and redirect hop) goes through this egress.

        ``deadline`` bounds each request from the first lookup to the last byte of its body.
        """
        transport = self.transport(max_response_bytes=max_response_bytes, deadline=deadline)
        return httpx.AsyncClient(transport=transport, trust_env=False, **options)
