"""mailsleuth.engine.dns against a real authoritative DNS server (dnslib) on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mailsleuth.config import Settings
from mailsleuth.engine.dns import MailRoute, MxHost, Resolver, RouteStatus
from tests.mailworld.dns_server import DnsServer
from tests.mailworld.world import MailWorld


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def zone() -> Iterator[DnsServer]:
    server = DnsServer(ttl=300, negative_ttl=300)
    # MX preference order with a tie (10) and a host that does not resolve
    for pref, host in [(30, "c.mx.order.test"), (10, "z.mx.order.test"), (20, "b.mx.order.test"),
                       (10, "a.mx.order.test"), (40, "ghost.mx.order.test")]:
        server.add("order.test", "MX", (pref, host))
    server.add("a.mx.order.test", "A", "127.0.1.1")
    server.add("z.mx.order.test", "A", "127.0.1.2")
    server.add("b.mx.order.test", "A", "127.0.1.3")
    server.add("b.mx.order.test", "AAAA", "::1")
    server.add("c.mx.order.test", "AAAA", "::2")
    server.add("nullmx.test", "MX", (0, "."))
    server.add("mixednull.test", "MX", (0, "."))
    server.add("mixednull.test", "MX", (10, "mx.halfbroken.test"))
    server.add("dual.test", "AAAA", "::1")
    server.add("dual.test", "A", "127.0.2.1")
    server.add("dual.test", "A", "127.0.2.2")
    server.add("v6only.test", "AAAA", "::3")
    server.add("nomail.test", "TXT", "v=spf1 -all")
    server.servfail("servfail.test")
    server.timeout("silent.test")
    server.add("halfbroken.test", "MX", (10, "mx.halfbroken.test"))
    server.add("halfbroken.test", "MX", (20, "mx.lame.test"))
    server.add("mx.halfbroken.test", "A", "127.0.3.1")
    server.servfail("lame.test")
    server.add("shortttl.test", "MX", (10, "mx.shortttl.test"), ttl=30)
    server.add("mx.shortttl.test", "A", "127.0.4.1", ttl=3000)
    server.add("longttl.test", "MX", (10, "mx.longttl.test"), ttl=86400)
    server.add("mx.longttl.test", "A", "127.0.4.2", ttl=86400)
    server.add("shortaddr.test", "MX", (10, "mx.shortaddr.test"), ttl=3000)
    server.add("mx.shortaddr.test", "A", "127.0.4.3", ttl=20)
    server.add("xn--bcher-kva.test", "MX", (10, "mx.xn--bcher-kva.test"))
    server.add("inflight.test", "MX", (10, "mx.inflight.test"))
    server.add("mx.inflight.test", "A", "127.0.4.4")
    with server:
        yield server


def resolver_for(server: DnsServer, **kwargs: object) -> Resolver:
    return Resolver([server.address], **{"timeout": 2.0, **kwargs})  # type: ignore[arg-type]


async def test_mx_hosts_come_in_preference_order_with_ties_by_name(zone: DnsServer) -> None:
    route = await resolver_for(zone).mail_route("order.test")

    assert route == MailRoute(
        domain="order.test",
        status=RouteStatus.OK,
        hosts=(
            MxHost(10, "a.mx.order.test", ("127.0.1.1",)),
            MxHost(10, "z.mx.order.test", ("127.0.1.2",)),
            MxHost(20, "b.mx.order.test", ("127.0.1.3", "::1")),
            MxHost(30, "c.mx.order.test", ("::2",)),
            MxHost(40, "ghost.mx.order.test", ()),
        ),
        implicit=False,
    )


async def test_domain_names_are_normalised(zone: DnsServer) -> None:
    route = await resolver_for(zone).mail_route("Order.TEST.")

    assert route.domain == "order.test"
    assert route.hosts[0].host == "a.mx.order.test"


async def test_unicode_domains_are_asked_as_a_labels(zone: DnsServer) -> None:
    route = await resolver_for(zone).mail_route("bücher.test")

    assert route.domain == "xn--bcher-kva.test"
    assert [host.host for host in route.hosts] == ["mx.xn--bcher-kva.test"]


async def test_null_mx_means_no_mail(zone: DnsServer) -> None:
    route = await resolver_for(zone).mail_route("nullmx.test")

    assert (route.status, route.hosts) == (RouteStatus.NULL_MX, ())


async def test_a_null_mx_next_to_real_ones_is_ignored(zone: DnsServer) -> None:
    route = await resolver_for(zone).mail_route("mixednull.test")

    assert route.status is RouteStatus.OK
    assert route.hosts == (MxHost(10, "mx.halfbroken.test", ("127.0.3.1",)),)


async def test_implicit_mx_uses_a_then_aaaa(zone: DnsServer) -> None:
    route = await resolver_for(zone).mail_route("dual.test")

    assert route.status is RouteStatus.OK
    assert route.implicit
    assert route.hosts == (MxHost(0, "dual.test", ("127.0.2.1", "127.0.2.2", "::1")),)


async def test_implicit_mx_from_aaaa_alone(zone: DnsServer) -> None:
    route = await resolver_for(zone).mail_route("v6only.test")

    assert route.implicit
    assert route.hosts == (MxHost(0, "v6only.test", ("::3",)),)


async def test_name_without_mx_or_address_has_no_mail(zone: DnsServer) -> None:
    route = await resolver_for(zone).mail_route("nomail.test")

    assert (route.status, route.hosts, route.implicit) == (RouteStatus.NO_MAIL, (), False)


@pytest.mark.parametrize(
    ("domain", "status"),
    [("missing.test", RouteStatus.NXDOMAIN), ("servfail.test", RouteStatus.SERVFAIL)],
)
async def test_failures_are_kept_apart(zone: DnsServer, domain: str, status: RouteStatus) -> None:
    route = await resolver_for(zone).mail_route(domain)

    assert (route.status, route.hosts) == (status, ())


async def test_a_server_that_never_answers_is_a_timeout(zone: DnsServer) -> None:
    route = await resolver_for(zone, timeout=0.3).mail_route("silent.test")

    assert route.status is RouteStatus.TIMEOUT
    assert zone.queries("silent.test", "MX") >= 1


async def test_an_mx_host_that_fails_to_resolve_keeps_the_others(zone: DnsServer) -> None:
    route = await resolver_for(zone).mail_route("halfbroken.test")

    assert route.status is RouteStatus.OK
    assert route.hosts == (MxHost(10, "mx.halfbroken.test", ("127.0.3.1",)), MxHost(20, "mx.lame.test", ()))


async def test_addresses_lists_a_before_aaaa(zone: DnsServer) -> None:
    resolver = resolver_for(zone)

    assert await resolver.addresses("b.mx.order.test") == ("127.0.1.3", "::1")
    assert await resolver.addresses("unknown.order.test") == ()


@pytest.mark.parametrize("bad", ["", ".", "exa mple.test", "a\r\nRCPT TO:<x>", "a..b", "x" * 64 + ".test"])
async def test_malformed_domains_are_refused_before_any_query(zone: DnsServer, bad: str) -> None:
    before = zone.queries()

    with pytest.raises(ValueError, match="invalid domain"):
        await resolver_for(zone).mail_route(bad)
    assert zone.queries() == before


def test_nameservers_must_be_ip_addresses() -> None:
    with pytest.raises(ValueError, match="IP address"):
        Resolver([("dns.example", 53)])
    with pytest.raises(ValueError, match="port"):
        Resolver([("127.0.0.1", 0)])


async def test_second_lookup_is_served_from_cache(zone: DnsServer) -> None:
    resolver = resolver_for(zone)
    first = await resolver.mail_route("order.test")
    sent = zone.queries()

    assert await resolver.mail_route("order.test") == first
    assert await resolver.addresses("a.mx.order.test") == ("127.0.1.1",)
    assert zone.queries() == sent


async def test_records_expire_with_their_ttl(zone: DnsServer) -> None:
    clock = FakeClock()
    resolver = resolver_for(zone, clock=clock)
    await resolver.mail_route("shortttl.test")
    sent = zone.queries("shortttl.test", "MX")

    clock.now += 29
    await resolver.mail_route("shortttl.test")
    assert zone.queries("shortttl.test", "MX") == sent

    clock.now += 2
    await resolver.mail_route("shortttl.test")
    assert zone.queries("shortttl.test", "MX") == sent + 1


async def test_a_cached_route_is_there_only_while_it_is_fresh(zone: DnsServer) -> None:
    clock = FakeClock()
    resolver = resolver_for(zone, clock=clock)
    sent = zone.queries("shortttl.test", "MX")
    assert resolver.cached_route("shortttl.test") is None  # never asked: nothing to give, nothing sent
    route = await resolver.mail_route("ShortTTL.test.")
    assert resolver.cached_route("shortttl.test") == route == resolver.cached_route("SHORTTTL.TEST")
    clock.now += 31
    assert resolver.cached_route("shortttl.test") is None
    assert zone.queries("shortttl.test", "MX") == sent + 1


async def test_a_short_address_ttl_shortens_the_route(zone: DnsServer) -> None:
    clock = FakeClock()
    resolver = resolver_for(zone, clock=clock)
    await resolver.mail_route("shortaddr.test")

    clock.now += 21
    await resolver.mail_route("shortaddr.test")
    assert zone.queries("mx.shortaddr.test", "A") == 2
    assert zone.queries("shortaddr.test", "MX") == 2


async def test_cache_ttl_bounds_long_record_ttls(zone: DnsServer) -> None:
    clock = FakeClock()
    resolver = resolver_for(zone, clock=clock, cache_ttl=100)
    await resolver.mail_route("longttl.test")
    sent = zone.queries("longttl.test", "MX")

    clock.now += 99
    await resolver.mail_route("longttl.test")
    assert zone.queries("longttl.test", "MX") == sent

    clock.now += 2
    await resolver.mail_route("longttl.test")
    assert zone.queries("longttl.test", "MX") == sent + 1


async def test_expired_entries_pick_up_zone_changes() -> None:
    clock = FakeClock()
    with DnsServer(ttl=60) as server:
        server.add("moving.test", "MX", (10, "old.moving.test"))
        resolver = resolver_for(server, clock=clock)
        assert (await resolver.mail_route("moving.test")).hosts[0].host == "old.moving.test"

        server.remove("moving.test")
        server.add("moving.test", "MX", (10, "new.moving.test"))
        assert (await resolver.mail_route("moving.test")).hosts[0].host == "old.moving.test"

        clock.now += 61
        assert (await resolver.mail_route("moving.test")).hosts[0].host == "new.moving.test"


@pytest.mark.parametrize(
    ("domain", "kept"),
    [("gone.test", 60.0), ("servfail.test", 5.0)],
    ids=["nxdomain-capped-at-60s", "servfail-5s"],
)
async def test_negative_and_failed_answers_are_cached_briefly(zone: DnsServer, domain: str, kept: float) -> None:
    clock = FakeClock()
    resolver = resolver_for(zone, clock=clock)
    await resolver.mail_route(domain)
    sent = zone.queries(domain, "MX")

    clock.now += kept - 1
    await resolver.mail_route(domain)
    assert zone.queries(domain, "MX") == sent

    clock.now += 2
    await resolver.mail_route(domain)
    assert zone.queries(domain, "MX") == sent + 1


async def test_negative_ttl_follows_a_shorter_soa_minimum() -> None:
    clock = FakeClock()
    with DnsServer(negative_ttl=10) as server:
        resolver = resolver_for(server, clock=clock)
        await resolver.mail_route("absent.test")

        clock.now += 11
        await resolver.mail_route("absent.test")
        assert server.queries("absent.test", "MX") == 2


async def test_concurrent_lookups_share_one_query(zone: DnsServer) -> None:
    resolver = resolver_for(zone)

    routes = await asyncio.gather(*(resolver.mail_route("inflight.test") for _ in range(20)))

    assert {route.hosts for route in routes} == {(MxHost(10, "mx.inflight.test", ("127.0.4.4",)),)}
    assert zone.queries("inflight.test", "MX") == 1
    assert zone.queries("mx.inflight.test", "A") == 1


async def test_zero_cache_ttl_still_shares_in_flight_queries(zone: DnsServer) -> None:
    resolver = resolver_for(zone, cache_ttl=0)
    before = zone.queries("order.test", "MX")

    await asyncio.gather(resolver.mail_route("order.test"), resolver.mail_route("order.test"))
    await resolver.mail_route("order.test")

    assert zone.queries("order.test", "MX") == before + 2


async def test_nameserver_port_is_honoured() -> None:
    with DnsServer() as one, DnsServer() as two:
        one.add("where.test", "A", "127.0.5.1")
        two.add("where.test", "A", "127.0.5.2")
        assert one.port != two.port

        assert await resolver_for(one).addresses("where.test") == ("127.0.5.1",)
        assert await resolver_for(two).addresses("where.test") == ("127.0.5.2",)


async def test_from_settings_uses_the_configured_servers_and_timeout(zone: DnsServer) -> None:
    host, port = zone.address
    settings = Settings(dns_servers=f"{host}:{port}", dns_timeout=0.3, cache_ttl=0)
    resolver = Resolver.from_settings(settings)
    before = zone.queries("nullmx.test", "MX")

    assert (await resolver.mail_route("nullmx.test")).status is RouteStatus.NULL_MX
    assert (await resolver.mail_route("silent.test")).status is RouteStatus.TIMEOUT
    await resolver.mail_route("nullmx.test")
    assert zone.queries("nullmx.test", "MX") == before + 2  # cache_ttl=0: nothing kept


async def test_world_mail_hosts_answer_on_one_shared_port(mail_world: MailWorld) -> None:
    resolver = Resolver([mail_world.dns_address], timeout=2.0)
    acme = await resolver.mail_route("acme.test")
    backup = await resolver.mail_route("backup.test")
    live = [acme.hosts[0].addresses[0], backup.hosts[-1].addresses[0]]
    assert live[0] != live[1]

    for address in live:
        reader, writer = await asyncio.open_connection(address, mail_world.smtp_port)
        banner = await asyncio.wait_for(reader.readline(), 5)
        writer.write(b"QUIT\r\n")
        await writer.drain()
        writer.close()
        assert banner.startswith(b"220"), banner


def test_world_hosts_stay_on_loopback() -> None:
    world = MailWorld()

    with pytest.raises(ValueError, match="127.0.0.0/8"):
        world.add_domain("outside.test", mx=[(10, "mx.outside.test", "192.0.2.1")])
    with pytest.raises(ValueError, match="127.0.0.0/8"):
        MailWorld(first_ip="10.0.0.1")
