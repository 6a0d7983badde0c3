"""The one egress transport, against real listeners on loopback.

Split horizon without touching the hosts file: the name ``localhost`` is what the system resolver
(and /etc/hosts) maps to 127.0.0.1 — the "internal service" — while the egress resolver answers
127.0.0.2, which these tests' address rule treats as the public internet. A connection that follows
the system's answer lands on the internal listener; the pinned one must land on 127.0.0.2 only.
"""

from __future__ import annotations

import asyncio
import errno
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mailsleuth import store
from mailsleuth.config import Settings
from mailsleuth.engine.crawl import crawl_domain
from mailsleuth.engine.egress import Egress, EgressRefused, ResponseTooLarge, is_public_address
from mailsleuth.jobs.webhooks import WebhookDispatcher
from mailsleuth.service.errors import ServiceError
from mailsleuth.service.uploads import fetch_upload
from tests.webworld import WebWorld, html, raw
from tests.webworld.listener import Listener
from tests.webworld.tls import TestCA

PUBLIC = "127.0.0.2"  # plays a public address in these tests
INTERNAL = "127.0.0.1"  # what the system resolver says "localhost" is


@dataclass
class Horizon:
    port: int
    public: Listener
    internal: Listener

    def url(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"


@pytest.fixture(scope="module")
def horizon() -> Iterator[Horizon]:
    for _ in range(20):
        probe = ThreadingHTTPServer((PUBLIC, 0), BaseHTTPRequestHandler)
        port = probe.server_address[1]
        probe.server_close()
        public = Listener(PUBLIC, port, {})
        internal = Listener(INTERNAL, port, {"/secret.csv": (200, {}, b"email\nroot@internal.test\n")})
        try:
            servers = [public.serve(), internal.serve()]
            break
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    else:
        raise RuntimeError("no port free on both addresses")
    public.routes.update({
        "/list.csv": (200, {"content-type": "text/csv"}, b"email\njane@public.test\n"),
        "/secret.csv": (200, {}, b"email\njane@public.test\n"),
        "/inside": (302, {"location": f"http://{INTERNAL}:{port}/secret.csv"}, b""),
        "/inside-by-name": (302, {"location": f"http://internal.test:{port}/secret.csv"}, b""),
        "/big": (200, {}, b"y" * 200_000),
        "/hook": (204, {}, b""),
    })
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield Horizon(port, public, internal)
    for server in servers:
        server.shutdown()
        server.server_close()


async def _split_resolver(host: str) -> tuple[str, ...]:
    """The egress resolver's view: localhost is public (127.0.0.2 here), internal.test is 127.0.0.1."""
    return {"localhost": (PUBLIC,), "internal.test": (INTERNAL,), "mixed.test": (PUBLIC, INTERNAL)}.get(host, ())


def _public_here(ip: str) -> bool:
    return ip == PUBLIC or is_public_address(ip)


EGRESS = Egress(_split_resolver, _public_here)


def _client(**options: object) -> httpx.AsyncClient:
    return EGRESS.client(max_response_bytes=100_000, deadline=2.0, **options)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _clear(horizon: Horizon) -> None:
    horizon.public.seen.clear()
    horizon.internal.seen.clear()


async def test_the_system_resolver_would_reach_the_internal_listener(horizon: Horizon) -> None:
    """The control: what an unpinned client does with the same URL (why the pin is needed)."""
    async with httpx.AsyncClient(trust_env=False) as plain:
        response = await plain.get(horizon.url("/secret.csv"))
    assert response.text == "email\nroot@internal.test\n"
    assert len(horizon.internal.seen) == 1 and horizon.public.seen == []


async def test_the_connection_goes_to_the_checked_address_only(horizon: Horizon) -> None:
    async with _client() as client:
        responses = [await client.get(horizon.url("/secret.csv")) for _ in range(5)]
    assert {r.text for r in responses} == {"email\njane@public.test\n"}
    assert horizon.public.seen == [("GET", "/secret.csv", f"localhost:{horizon.port}")] * 5  # Host kept
    assert horizon.internal.seen == []


async def test_webhooks_are_pinned(horizon: Horizon, tmp_path: Path) -> None:
    db = store.Database(f"sqlite+aiosqlite:///{tmp_path / 'hooks.db'}")
    await db.migrate()
    org = await store.create_org(db, "split")
    async with _client() as client:
        dispatcher = WebhookDispatcher(db, client=client, interval=0.1)
        await dispatcher.enqueue(org.id, horizon.url("/hook"), {"id": 1}, key="k1", job_id=None)
        assert await dispatcher.deliver_due() == 1
    await db.dispose()
    assert horizon.public.seen == [("POST", "/hook", f"localhost:{horizon.port}")]
    assert horizon.internal.seen == []


async def test_file_url_is_pinned_and_every_redirect_rechecked(horizon: Horizon) -> None:
    spool = await fetch_upload(horizon.url("/secret.csv"), egress=EGRESS)
    spool.file.seek(0)
    assert spool.file.read() == b"email\njane@public.test\n"
    for path, detail in (("/inside", "Private, loopback"), ("/inside-by-name", "internal.test resolves to a private")):
        with pytest.raises(ServiceError) as caught:
            await fetch_upload(horizon.url(path), egress=EGRESS)
        assert caught.value.field == "file_url" and detail in caught.value.message
    assert [p for _, p, _ in horizon.public.seen] == ["/secret.csv", "/inside", "/inside-by-name"]
    assert horizon.internal.seen == []


async def test_redirects_followed_by_httpx_are_rechecked(horizon: Horizon) -> None:
    async with _client(follow_redirects=True) as client:
        with pytest.raises(EgressRefused) as caught:
            await client.get(horizon.url("/inside"))
    assert caught.value.reason == "private_network_refused"
    assert len(horizon.public.seen) == 1 and horizon.internal.seen == []


async def test_a_mixed_or_empty_answer_is_refused(horizon: Horizon) -> None:
    async with _client() as client:
        with pytest.raises(EgressRefused, match=r"mixed.test resolves to a private.*127\.0\.0\.1"):
            await client.get(f"http://mixed.test:{horizon.port}/list.csv")
        with pytest.raises(EgressRefused, match="nowhere.test does not resolve") as caught:
            await client.get(f"http://nowhere.test:{horizon.port}/list.csv")
    assert caught.value.reason == "host_not_found"
    assert horizon.public.seen == [] and horizon.internal.seen == []


@pytest.mark.parametrize(
    "host",
    ["[::ffff:127.0.0.1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
     "[::ffff:0:7f00:1]", "[::1]", "127.0.0.1", "[fe80::1]", "[fd00::1]", "[ff02::1]", "224.0.0.1", "0.0.0.0", "169.254.169.254"],
)
async def test_private_literals_are_refused_in_every_form(host: str) -> None:
    egress = Egress(_split_resolver, is_public_address)
    async with egress.client(max_response_bytes=1000, deadline=1.0) as client:
        with pytest.raises(EgressRefused, match="Private, loopback") as caught:
            await client.get(f"http://{host}:9/x")
    assert caught.value.reason == "private_network_refused"


async def test_bodies_are_capped_in_size_and_time(horizon: Horizon) -> None:
    async with _client() as client:
        with pytest.raises(ResponseTooLarge):
            await client.get(horizon.url("/big"))
    async with EGRESS.client(max_response_bytes=100_000, deadline=0.5) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(httpx.ReadTimeout):
            await client.get(horizon.url("/drip"))  # 5 s of dripping
        assert asyncio.get_running_loop().time() - started < 4


def test_loopback_is_allowed_only_by_the_setting() -> None:
    assert Egress.from_settings(Settings(allow_private_networks=True), _split_resolver).allowed("127.0.0.1")
    assert not Egress.from_settings(Settings(allow_private_networks=False), _split_resolver).allowed("127.0.0.1")


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.0.1", False),
        ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
        ("240.0.0.1", False), ("255.255.255.255", False), ("192.0.2.1", False),
        ("::1", False), ("::", False), ("fe80::1", False), ("fe80::1%eth0", False), ("fd12::1", False),
        ("fec0::1", False), ("ff0e::1", False), ("2001:db8::1", False),
        ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("::127.0.0.1", False), ("::8.8.8.8", False),
        ("::ffff:0:7f00:1", False), ("64:ff9b::7f00:1", False), ("64:ff9b::a00:1", False),
        ("64:ff9b:1::1", False), ("2002:7f00:1::", False), ("2002:a00:1::1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False), ("not an ip", False),
        ("8.8.8.8", True), ("93.184.216.34", True), ("2a00:1450::1", True), ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True), ("2002:808:808::1", True),
    ],
)
def test_address_classifier(ip: str, public: bool) -> None:
    assert is_public_address(ip) is public


# --- HTTPS: the connection goes to the checked address, the name stays in SNI and Host ------------

SHOP = "shop.example.test"  # no resolver but the egress's own knows this name: only a pinned connection can reach it


@pytest.fixture(scope="module")
def tls_world() -> Iterator[tuple[WebWorld, TestCA]]:
    ca = TestCA()
    world = WebWorld(("127.0.0.2",), tls=ca)
    world.add_site(SHOP, {"/": html("<p>Write to <a href='mailto:jane.doe@shop.example.test'>Jane Doe</a></p>"),
                          "/hook": raw(b"", "text/plain", 204)})
    with world:
        yield world, ca
    ca.close()


@pytest.fixture
def tls(tls_world: tuple[WebWorld, TestCA]) -> tuple[WebWorld, TestCA]:
    tls_world[0].reset_counts()
    return tls_world


def _tls_settings(ca: TestCA | None) -> Settings:
    return Settings(allow_private_networks=True, helo_name="crawler.test", egress_ca_file=ca.ca_file if ca else "")


async def test_a_crawl_over_https_keeps_sni_and_host(tls: tuple[WebWorld, TestCA]) -> None:
    world, ca = tls
    result = await crawl_domain(SHOP, settings=_tls_settings(ca), scheme="https", port=world.port,
                                resolve=world.resolve, page_budget=1)
    assert result.people == ["jane.doe@shop.example.test"]
    assert [(visit.url, visit.status) for visit in result.visits if visit.url.endswith("/")] == [
        (f"https://{SHOP}:{world.port}/", 200)
    ]
    assert world.hits(SHOP, "/") == 1  # the Host header named the site (virtual hosting found it)
    assert set(ca.server_names) == {SHOP}  # and so did every handshake's server_name


async def test_https_is_checked_against_the_configured_ca_only(tls: tuple[WebWorld, TestCA]) -> None:
    """Without the test CA (the default trust store) the same site's certificate is refused: no page."""
    world, ca = tls
    result = await crawl_domain(SHOP, settings=_tls_settings(None), scheme="https", port=world.port,
                                resolve=world.resolve, page_budget=1)
    assert result.people == [] and world.hits(SHOP) == 0
    assert ca.server_names[SHOP] >= 1  # the handshake was tried, with the name, and failed on trust


async def test_a_webhook_over_https_keeps_sni_and_host(tls: tuple[WebWorld, TestCA], tmp_path: Path) -> None:
    world, ca = tls
    db = store.Database(f"sqlite+aiosqlite:///{tmp_path / 'hooks.db'}")
    await db.migrate()
    org = await store.create_org(db, "tls")
    egress = Egress.from_settings(_tls_settings(ca), world.resolve)
    async with egress.client(max_response_bytes=100_000, deadline=5.0) as client:
        dispatcher = WebhookDispatcher(db, client=client, interval=0.1)
        await dispatcher.enqueue(org.id, world.url(SHOP, "/hook"), {"id": 7}, key="k7", job_id=None)
        assert await dispatcher.deliver_due() == 1
    await db.dispose()
    assert world.hits(SHOP, "/hook") == 1
    assert [json.loads(body) for body in world.posted] == [{"id": 7}]
    assert set(ca.server_names) == {SHOP}
