"""Outgoing URLs chosen by callers (webhooks) must not reach into our own network.

A webhook URL is checked twice: its syntax and any literal IP when the request arrives (a clear 400
for the caller), and every address its host resolves to right before each delivery (DNS can change
in between). Private, loopback, link-local and other non-global addresses are refused unless
`allow_private_networks` is set (tests and demos).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from mailsleuth.engine.verify import is_public_address as is_public

MAX_URL_LENGTH = 2048


class UnsafeTarget(ValueError):
    """The URL is malformed or points somewhere we refuse to connect to."""


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_url(url: str, *, allow_private: bool) -> str:
    """Validate a webhook URL's syntax (and literal IP); returns the host name to resolve later."""
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
    if literal is not None and not allow_private and not is_public(literal):
        raise UnsafeTarget("Private, loopback and link-local addresses are not accepted.")
    return host


async def check_target(
    url: str, *, allow_private: bool, resolve: Callable[[str], Awaitable[tuple[str, ...]]]
) -> None:
    """Full check right before connecting: every address the host resolves to must be public."""
    host = check_url(url, allow_private=allow_private)
    if allow_private:
        return
    literal = _literal_ip(host)
    addresses = (literal,) if literal else await resolve(host)
    if not addresses:
        raise UnsafeTarget(f"{host} does not resolve.")
    if not all(is_public(address) for address in addresses):
        raise UnsafeTarget(f"{host} resolves to a private, loopback or link-local address.")
