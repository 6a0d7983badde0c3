"""What `mailsleuth doctor` looks at, added to a mail world: blocklists with a listed and an unlisted
address, reverse DNS that matches or not, an open and a closed port 25, MAIL FROM domains.

The addresses are from TEST-NET-1 (192.0.2.0/24): they only ever appear in DNS questions to the
world's own server, nothing connects to them.
"""

from __future__ import annotations

from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld

LISTED, CLEAN, MISMATCHED, NO_PTR, ONE_WAY = "192.0.2.10", "192.0.2.20", "192.0.2.21", "192.0.2.22", "192.0.2.23"
BLOCKLIST, CLEAN_LIST, REFUSING_LIST = "black.doctor.test", "grey.doctor.test", "refusing.doctor.test"
OPEN_HOST, CLOSED_HOST = "open.doctor.test", "closed.doctor.test"
SENDER, SENDER_WITHOUT_SPF = "verify@sender.doctor.test", "verify@nospf.doctor.test"
HELO = "mail.doctor.test"
LISTING_REASON = "Listed for sending spam, see https://black.doctor.test/10"


def _reversed(address: str) -> str:
    return ".".join(reversed(address.split(".")))


def add_doctor_domains(world: MailWorld) -> MailWorld:
    dns = world.dns
    # LISTED is on BLOCKLIST; CLEAN_LIST lists no one; REFUSING_LIST answers like Spamhaus does to
    # queries that come through public resolvers
    dns.add(f"{_reversed(LISTED)}.{BLOCKLIST}", "A", "127.0.0.2")
    dns.add(f"{_reversed(LISTED)}.{BLOCKLIST}", "TXT", LISTING_REASON)
    dns.declare(BLOCKLIST)
    dns.declare(CLEAN_LIST)
    for address in (LISTED, CLEAN):
        dns.add(f"{_reversed(address)}.{REFUSING_LIST}", "A", "127.255.255.254")
    # reverse DNS: CLEAN <-> HELO both ways; MISMATCHED has another, forward-confirmed name;
    # NO_PTR has none; ONE_WAY's name does not resolve; LISTED points at HELO, which is CLEAN's
    dns.add(f"{_reversed(CLEAN)}.in-addr.arpa", "PTR", HELO)
    dns.add(HELO, "A", CLEAN)
    dns.add(f"{_reversed(MISMATCHED)}.in-addr.arpa", "PTR", "other.doctor.test")
    dns.add("other.doctor.test", "A", MISMATCHED)
    dns.add(f"{_reversed(ONE_WAY)}.in-addr.arpa", "PTR", "lonely.doctor.test")
    dns.add(f"{_reversed(LISTED)}.in-addr.arpa", "PTR", HELO)
    # a mail host that shows the client's address (as large providers do), one whose port is closed
    world.add_domain(OPEN_HOST, behaviour=Behaviour(show_client=True))
    world.dead_mx(CLOSED_HOST)
    # MAIL FROM domains: with SPF covering LISTED and CLEAN, and without SPF
    world.add_domain("sender.doctor.test", behaviour=Behaviour())
    dns.add("sender.doctor.test", "TXT", "v=spf1 ip4:192.0.2.0/27 -all")
    world.add_domain("nospf.doctor.test", behaviour=Behaviour())
    return world
