"""A scripted mail world on loopback: one DNS server plus an SMTP server per mail host.

Every mail host gets its own 127.x address and they all listen on ONE shared port, because the
prober has a single MAILSLEUTH_SMTP_PORT. The SMTP servers run on an event loop in a background
thread, so async tests, subprocess CLI tests and bench scripts can share the same world:

    with build_standard_world() as world:
        subprocess.run(["mailsleuth", "verify", "jane.doe@acme.test"], env={**os.environ, **world.env()})
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import threading
from collections.abc import Collection, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from mailsleuth.config import Settings
from tests.mailworld.dns_server import DnsServer
from tests.mailworld.smtp_server import Behaviour, ScriptedSmtpServer, ServerStats

T = TypeVar("T")

HELO_NAME = "probe.mailsleuth.test"
GREYLIST_SECONDS = 1.0  # greylist.test's window, and the retry delay the world's settings ask for

MxSpec = tuple[int, str] | tuple[int, str, str]  # (preference, host name[, ip])

NXDOMAIN_DOMAIN = "nxdomain.test"  # never added: the standard world's name that does not exist


@dataclass
class _Host:
    name: str
    ip: str
    behaviour: Behaviour | None  # None: a dead host, the address exists but nothing listens
    server: ScriptedSmtpServer | None = None


class MailWorld:
    """Domains, their DNS records and their mail servers; add domains before or after start()."""

    def __init__(self, *, first_ip: str = "127.0.1.1", dns_host: str = "127.0.0.1", ttl: int = 300) -> None:
        self.dns = DnsServer(dns_host, ttl=ttl)
        self.smtp_port = 0
        self._hosts: dict[str, _Host] = {}  # by host name and by ip
        self._next_ip = _loopback(first_ip)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- building the world -------------------------------------------------------------------

    def add_domain(
        self,
        name: str,
        mx: Sequence[MxSpec] | None = None,
        behaviour: Behaviour | None = None,
        *,
        dead: Collection[str] = (),
    ) -> tuple[str, ...]:
        """Publish MX records for `name` and run a server with `behaviour` on each MX host.

        `mx` defaults to one host, `mx.<name>`; a spec without ip gets the next free 127.x address.
        Host names listed in `dead` get an address where nothing listens. A host name already in
        the world is shared (like a hosted provider's MX). Returns the MX host names.
        """
        specs = mx if mx is not None else [(10, f"mx.{name}")]
        dead_names = {_norm(host) for host in dead}
        hosts = []
        for spec in specs:
            ip = spec[2] if len(spec) == 3 else None
            host = self._host(spec[1], ip, behaviour, dead=_norm(spec[1]) in dead_names)
            self.dns.add(name, "MX", (spec[0], host.name))
            hosts.append(host.name)
        return tuple(hosts)

    def a_only(self, name: str, behaviour: Behaviour | None = None, ip: str | None = None) -> str:
        """A domain without MX whose own A record receives mail (implicit MX); returns the ip."""
        return self._host(name, ip, behaviour).ip

    def dead_mx(self, name: str) -> tuple[str, ...]:
        """A domain whose only MX host has an address but no server."""
        return self.add_domain(name, dead={f"mx.{name}"})

    def null_mx(self, name: str) -> None:
        """RFC 7505: the domain declares it accepts no mail."""
        self.dns.add(name, "MX", (0, "."))

    def no_mail(self, name: str) -> None:
        """The name exists (it has a TXT record) but has neither MX nor A/AAAA."""
        self.dns.add(name, "TXT", "v=spf1 -all")

    def servfail(self, name: str) -> None:
        self.dns.servfail(name)

    def dns_timeout(self, name: str) -> None:
        """Questions about the domain are never answered."""
        self.dns.timeout(name)

    def _host(self, name: str, ip: str | None, behaviour: Behaviour | None, *, dead: bool = False) -> _Host:
        """The mail host called `name`, created on first use (behaviour None: as is, or strict)."""
        name = _norm(name)
        if name in self._hosts:
            host = self._hosts[name]
            if ip is not None and str(_loopback(ip)) != host.ip:
                raise ValueError(f"{name} already has address {host.ip}")
            if dead != (host.behaviour is None) or behaviour not in (None, host.behaviour):
                raise ValueError(f"{name} is already in the world with another behaviour")
            return host
        address = str(_loopback(ip)) if ip is not None else self._allocate_ip()
        if address in self._hosts:
            raise ValueError(f"{address} is already used by {self._hosts[address].name}")
        host = _Host(name, address, None if dead else behaviour or Behaviour())
        self._hosts[name] = self._hosts[address] = host
        self.dns.add(name, "A", address)
        if self._loop is not None and host.behaviour is not None:
            self._run(self._start_servers([host]))
        return host

    # -- running it ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start DNS, then every SMTP server on one port that is free on all their addresses."""
        if self._loop is not None:
            raise RuntimeError("the world is already running")
        self.dns.start()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mailworld", daemon=True)
        self._thread.start()
        for _ in range(10):
            self.smtp_port = _free_port()
            try:
                self._run(self._start_servers(self._live_hosts()))
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    self.stop()
                    raise
        self.stop()
        raise RuntimeError("no SMTP port free on every mail host address")

    def stop(self) -> None:
        if self._loop is not None:
            self._run(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            assert self._thread is not None
            self._thread.join()
            self._loop.close()
            self._loop = self._thread = None
        self.dns.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- looking at it -------------------------------------------------------------------------

    @property
    def dns_address(self) -> tuple[str, int]:
        return self.dns.address

    def server(self, host_or_ip: str) -> ScriptedSmtpServer:
        """The SMTP server of a mail host (by name or ip), to read its stats."""
        host = self._hosts.get(_norm(host_or_ip))
        if host is None or host.server is None:
            raise KeyError(f"no running mail server for {host_or_ip!r}")
        return host.server

    def stats(self, host_or_ip: str) -> ServerStats:
        return self.server(host_or_ip).stats

    def ip(self, host: str) -> str:
        return self._hosts[_norm(host)].ip

    def settings(self, **overrides: Any) -> Settings:
        """Settings that point a prober at this world (explicit values beat MAILSLEUTH_* variables)."""
        return Settings(**{**self._setting_values(), **overrides})

    def env(self, **overrides: Any) -> dict[str, str]:
        """The same settings as MAILSLEUTH_* variables, for subprocesses: env={**os.environ, **world.env()}."""
        values = {**self._setting_values(), **overrides}
        return {f"MAILSLEUTH_{key.upper()}": _env_value(value) for key, value in values.items()}

    def _setting_values(self) -> dict[str, Any]:
        if self._loop is None:
            raise RuntimeError("start the world first: its ports are chosen at start")
        host, port = self.dns_address
        return {
            "dns_servers": f"{host}:{port}",
            "smtp_port": self.smtp_port,
            "allow_private_networks": True,
            "helo_name": HELO_NAME,
            "dns_timeout": 1.0,
            "connect_timeout": 2.0,
            "command_timeout": 2.0,
            "greylist_delay": GREYLIST_SECONDS,
        }

    # -- the event loop thread -----------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _live_hosts(self) -> list[_Host]:
        unique = {id(host): host for host in self._hosts.values()}
        return [host for host in unique.values() if host.behaviour is not None]

    async def _start_servers(self, hosts: list[_Host]) -> None:
        """Start all or none: a port clash on one address stops the ones already listening."""
        for host in hosts:
            host.server = ScriptedSmtpServer(host.ip, self.smtp_port, host.behaviour, name=host.name)
        results = await asyncio.gather(*(host.server.start() for host in hosts), return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            started = [host for host, result in zip(hosts, results) if not isinstance(result, BaseException)]
            await self._stop_servers(started)
            for host in hosts:
                host.server = None
            raise failures[0]

    async def _shutdown(self) -> None:
        """Stop every server, then cancel what is left (a connection accepted while stopping)."""
        await self._stop_servers(self._live_hosts())
        for host in self._live_hosts():
            host.server = None
        leftovers = asyncio.all_tasks() - {asyncio.current_task()}
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    async def _stop_servers(self, hosts: list[_Host]) -> None:
        await asyncio.gather(*(host.server.stop() for host in hosts if host.server is not None))

    def _allocate_ip(self) -> str:
        while True:
            candidate = self._next_ip
            self._next_ip += 1
            if not candidate.is_loopback:
                raise RuntimeError("ran out of loopback addresses")
            if candidate.packed[-1] not in (0, 255) and str(candidate) not in self._hosts:
                return str(candidate)


def _loopback(ip: str) -> ipaddress.IPv4Address:
    address = ipaddress.ip_address(ip)
    if not isinstance(address, ipaddress.IPv4Address) or not address.is_loopback:
        raise ValueError(f"mail world hosts must use 127.0.0.0/8 addresses, got {ip!r}")
    return address


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def build_standard_world() -> MailWorld:
    """One domain per verdict path; not started. The truth about each domain:

    acme.test        strict host mx.acme.test: jane.doe, john.smith, maria.garcia, info, postmaster
                     exist, every other address gets 550 5.1.1 (a {first}.{last} company)
    catchall.test    accepts every recipient (250); only jane.doe really exists
    greylist.test    jane.doe exists; each recipient first gets 450 4.7.1 for GREYLIST_SECONDS
    tarpit.test      jane.doe exists, but the banner takes 30 s (beyond any probe timeout)
    ratelimit.test   jane.doe, john.smith exist; 421 4.7.0 above 1 concurrent connection,
                     452 4.5.3 above 3 recipients on one connection
    blocked.test     jane.doe exists, but MAIL FROM gets 554 5.7.1 ... zen.spamhaus.org
    full.test        jane.doe's mailbox is full (552 5.2.2); john.smith exists
    disabled.test    jane.doe's account is disabled (550 5.2.1); john.smith exists
    nullmx.test      RFC 7505 null MX: accepts no mail
    aonly.test       no MX; its A record's host takes mail (implicit MX): jane.doe exists
    backup.test      MX 10 mx1.backup.test is dead (nothing listens), MX 20 mx2.backup.test is
                     strict with jane.doe
    dead.test        its only MX host is dead
    nomail.test      exists (TXT) but has neither MX nor A
    servfail.test    every question gets SERVFAIL
    dnstimeout.test  questions are never answered
    nxdomain.test    does not exist (NXDOMAIN_DOMAIN)
    """
    world = MailWorld()
    world.add_domain(
        "acme.test", behaviour=Behaviour(mailboxes={"jane.doe", "john.smith", "maria.garcia", "info", "postmaster"})
    )
    world.add_domain("catchall.test", behaviour=Behaviour(mailboxes={"jane.doe"}, catch_all=True))
    world.add_domain("greylist.test", behaviour=Behaviour(mailboxes={"jane.doe"}, greylist_seconds=GREYLIST_SECONDS))
    world.add_domain("tarpit.test", behaviour=Behaviour(mailboxes={"jane.doe"}, banner_delay=30.0))
    world.add_domain(
        "ratelimit.test",
        behaviour=Behaviour(mailboxes={"jane.doe", "john.smith"}, max_connections=1, max_recipients=3),
    )
    world.add_domain("blocked.test", behaviour=Behaviour(mailboxes={"jane.doe"}, block=True))
    world.add_domain("full.test", behaviour=Behaviour(mailboxes={"john.smith"}, full={"jane.doe"}))
    world.add_domain("disabled.test", behaviour=Behaviour(mailboxes={"john.smith"}, disabled={"jane.doe"}))
    world.null_mx("nullmx.test")
    world.a_only("aonly.test", Behaviour(mailboxes={"jane.doe"}))
    world.add_domain(
        "backup.test",
        mx=[(10, "mx1.backup.test"), (20, "mx2.backup.test")],
        behaviour=Behaviour(mailboxes={"jane.doe"}),
        dead={"mx1.backup.test"},
    )
    world.dead_mx("dead.test")
    world.no_mail("nomail.test")
    world.servfail("servfail.test")
    world.dns_timeout("dnstimeout.test")
    return world
