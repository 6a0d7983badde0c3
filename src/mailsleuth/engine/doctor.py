"""Is this host fit to verify addresses? The self-hoster's first question, answered with fixes.

A self-hosted verifier that "does not work" is most often the host, not the code: outbound port 25
blocked by the cloud provider, the outgoing address on a blocklist, a HELO name that does not match
the address's reverse DNS, a MAIL FROM domain that cannot receive bounces. Each check here says what
it saw and, when something is wrong, what to change, in plain words. DNS goes through the project's
resolver (so MAILSLEUTH_DNS_SERVERS applies), SMTP through `SmtpSession` (banner, EHLO, MAIL FROM,
QUIT: never a recipient).
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import dns.reversename

from mailsleuth.engine.dns import Lookup, MailRoute, RouteStatus
from mailsleuth.engine.smtp import ProbeError, SmtpSession

if TYPE_CHECKING:
    from mailsleuth.config import Settings

MAX_HOSTS_TRIED = 2
# Spamhaus answers 127.255.255.x for "your query was refused" (open or public resolver, over quota)
_REFUSED = ipaddress.ip_network("127.255.255.0/24")
_LISTED = ipaddress.ip_network("127.0.0.0/8")
_SEEN = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    summary: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "summary": self.summary, "fix": self.fix,
                "details": self.details}


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        """No check failed (warnings are allowed)."""
        return all(check.status is not Status.FAIL for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "checks": [check.to_dict() for check in self.checks]}


class DoctorResolver(Protocol):
    async def mail_route(self, domain: str) -> MailRoute: ...

    async def addresses(self, host: str) -> tuple[str, ...]: ...

    async def records(self, name: str, rdtype: str) -> Lookup: ...


@dataclass(frozen=True)
class DoctorConfig:
    mail_host: str
    port: int
    helo_name: str
    mail_from: str
    blocklists: tuple[str, ...]
    outgoing_address: str | None
    connect_timeout: float
    command_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> DoctorConfig:
        return cls(
            mail_host=settings.doctor_mail_host,
            port=settings.smtp_port,
            helo_name=settings.helo_name,
            mail_from=settings.envelope_from,
            blocklists=tuple(settings.doctor_blocklist_zones),
            outgoing_address=settings.doctor_outgoing_address.strip() or None,
            connect_timeout=settings.connect_timeout,
            command_timeout=settings.command_timeout,
        )


async def diagnose(resolver: DoctorResolver, config: DoctorConfig) -> Report:
    """Every check, in the order a fix would be made; later checks use the address the first saw."""
    reach, seen = await reach_mail_host(resolver, config)
    outgoing, address = outgoing_address(seen, config.outgoing_address)
    if address is None:
        skipped = "needs the outgoing address (see above)"
        later = [Check("reverse_dns", Status.SKIPPED, skipped), Check("blocklists", Status.SKIPPED, skipped)]
    else:
        later = list(await asyncio.gather(
            reverse_dns(resolver, address, config.helo_name), blocklists(resolver, address, config.blocklists)
        ))
    sender = await mail_from_domain(resolver, config.mail_from, address)
    return Report((reach, outgoing, *later, sender))


# --- port 25 -------------------------------------------------------------------------------------


async def reach_mail_host(resolver: DoctorResolver, config: DoctorConfig) -> tuple[Check, str | None]:
    """Connect to the configured mail host's port, greet it and give it our MAIL FROM; returns the
    check and the client address the host reported (or our end of the connection)."""
    name = "port25"
    try:
        route = await resolver.mail_route(config.mail_host)
    except ValueError as exc:
        return Check(name, Status.FAIL, str(exc), "Set MAILSLEUTH_DOCTOR_MAIL_HOST to a domain or mail host name."), None
    targets = [(host.host, address) for host in route.hosts for address in host.addresses[:1]][:MAX_HOSTS_TRIED]
    if route.status is not RouteStatus.OK or not targets:
        return Check(
            name, Status.FAIL, f"could not find where {config.mail_host} takes mail (DNS: {route.status.value})",
            "Check that this host can resolve names (MAILSLEUTH_DNS_SERVERS, /etc/resolv.conf) and that "
            "MAILSLEUTH_DOCTOR_MAIL_HOST names a domain that receives mail.",
            {"mail_host": config.mail_host},
        ), None
    errors: list[str] = []
    for host, address in targets:
        details = {"mail_host": config.mail_host, "host": host, "address": address, "port": config.port}
        try:
            session = await SmtpSession.open(
                address, config.port, helo=config.helo_name, mail_from=config.mail_from,
                connect_timeout=config.connect_timeout, command_timeout=config.command_timeout,
            )
        except ProbeError as exc:
            if exc.stage == "connect":
                errors.append(f"{host} ({address}): {exc}")
                continue
            details["error"] = str(exc)
            return _talked_but_refused(name, host, config, exc, details), None
        async with session:
            seen = _reported_client(session.hello_reply) or session.local_address
            details["banner_to_mail_from"] = "accepted"
        return Check(name, Status.OK, f"port {config.port} of {host} answers and accepts our MAIL FROM", None,
                     details), seen
    return Check(
        name, Status.FAIL, f"cannot connect to port {config.port} of {config.mail_host}'s mail hosts",
        f"Outgoing connections to port {config.port} fail. Most cloud providers block port 25 by default "
        "(AWS, Google Cloud, Azure, DigitalOcean, ...): ask yours to lift the block, or run mailsleuth "
        "(or a `mailsleuth worker`) on a host that may connect to port 25. A firewall on this host or "
        "network can block it too.",
        {"mail_host": config.mail_host, "port": config.port, "errors": errors},
    ), None


def _talked_but_refused(name: str, host: str, config: DoctorConfig, exc: ProbeError, details: dict[str, Any]) -> Check:
    text = str(exc)
    if exc.stage == "mail" and exc.reply is not None and exc.reply.code >= 500:
        fix = ("The mail host refused our sender. If it names a blocklist, see the blocklists check; "
               f"otherwise set MAILSLEUTH_MAIL_FROM to an address at a domain you own (now {config.mail_from!r}).")
    elif exc.stage in ("ehlo", "helo"):
        fix = f"The mail host refused our HELO name {config.helo_name!r}: set MAILSLEUTH_HELO_NAME to this host's " \
              "public name (the one its address's reverse DNS gives)."
    else:
        fix = "The mail host answered but did not finish the greeting; it may be slowing strangers down. Try " \
              "again later, or raise MAILSLEUTH_COMMAND_TIMEOUT."
    return Check(name, Status.WARN, f"port {config.port} of {host} is reachable, but: {text}", fix, details)


def _reported_client(reply: str) -> str | None:
    """The client address a greeting such as "mx.google.com at your service, [203.0.113.7]" shows."""
    for match in _SEEN.finditer(reply):
        try:
            return str(ipaddress.ip_address(match.group(1)))
        except ValueError:
            continue
    return None


# --- the outgoing address ------------------------------------------------------------------------


def outgoing_address(seen: str | None, configured: str | None) -> tuple[Check, str | None]:
    """The address mail hosts see: the configured one, else the one the mail host reported."""
    name = "outgoing_address"
    if configured is not None:
        try:
            address = str(ipaddress.ip_address(configured))
        except ValueError:
            return Check(name, Status.FAIL, f"MAILSLEUTH_DOCTOR_OUTGOING_ADDRESS is not an IP address: {configured!r}",
                         "Set it to the public IPv4 or IPv6 address of this host, or leave it empty."), None
        return Check(name, Status.OK, f"{address} (from MAILSLEUTH_DOCTOR_OUTGOING_ADDRESS)", None,
                     {"address": address, "source": "setting"}), address
    if seen is None:
        return Check(name, Status.SKIPPED, "unknown: the mail host could not be reached",
                     "Fix port 25 first, or set MAILSLEUTH_DOCTOR_OUTGOING_ADDRESS to this host's public address."), None
    if not ipaddress.ip_address(seen).is_global:
        return Check(
            name, Status.WARN, f"{seen}, a private address: mail hosts see another one (NAT)",
            "The checks below use this address, so they say little about the public one. Set "
            "MAILSLEUTH_DOCTOR_OUTGOING_ADDRESS to the public address mail hosts see.",
            {"address": seen, "source": "connection"},
        ), seen
    return Check(name, Status.OK, f"{seen}", None, {"address": seen, "source": "connection"}), seen


# --- reverse DNS ---------------------------------------------------------------------------------


async def reverse_dns(resolver: DoctorResolver, address: str, helo_name: str) -> Check:
    """The address's PTR names, whether one is the HELO name, and whether it resolves back."""
    name = "reverse_dns"
    helo = helo_name.rstrip(".").lower()
    answer = await resolver.records(dns.reversename.from_address(address).to_text(), "PTR")
    names = sorted({record.rstrip(".").lower() for record in answer.records})
    details: dict[str, Any] = {"address": address, "helo_name": helo, "ptr": names}
    if answer.status in (RouteStatus.SERVFAIL, RouteStatus.TIMEOUT):
        return Check(name, Status.WARN, f"could not look up the reverse DNS of {address} ({answer.status.value})",
                     "Check the DNS servers this host uses (MAILSLEUTH_DNS_SERVERS).", details)
    if not names:
        return Check(
            name, Status.FAIL, f"{address} has no reverse DNS (PTR)",
            f"Ask whoever owns {address} (your hosting provider's control panel usually has it) to set its "
            f"reverse DNS to {helo}, and make {helo} resolve to {address}. Many mail hosts refuse or "
            "slow down clients without one.",
            details,
        )
    confirmed = [ptr for ptr in names if address in await _forward(resolver, ptr)]
    details["forward_confirmed"] = confirmed
    if helo in names and helo in confirmed:
        return Check(name, Status.OK, f"{address} -> {helo} -> {address}: matches the HELO name", None, details)
    if helo in names:
        return Check(name, Status.FAIL, f"{address} -> {helo}, but {helo} does not resolve back to {address}",
                     f"Add an A (or AAAA) record {helo} -> {address}.", details)
    best = confirmed[0] if confirmed else names[0]
    return Check(
        name, Status.FAIL if not confirmed else Status.WARN,
        f"{address} -> {', '.join(names)}: not the HELO name {helo}"
        + ("" if confirmed else f", and it does not resolve back to {address}"),
        f"Set MAILSLEUTH_HELO_NAME={best}" + ("" if confirmed else f" and add an A record {best} -> {address}")
        + f", or change the reverse DNS of {address} to {helo}.",
        details,
    )


async def _forward(resolver: DoctorResolver, host: str) -> tuple[str, ...]:
    try:
        return tuple(str(ipaddress.ip_address(a)) for a in await resolver.addresses(host))
    except ValueError:
        return ()


# --- DNS blocklists ------------------------------------------------------------------------------


async def blocklists(resolver: DoctorResolver, address: str, zones: tuple[str, ...]) -> Check:
    """Look the address up in each zone (`<reversed address>.<zone>`, as RFC 5782 says)."""
    name = "blocklists"
    if not zones:
        return Check(name, Status.SKIPPED, "no blocklist configured (MAILSLEUTH_DOCTOR_BLOCKLISTS)")
    results = await asyncio.gather(*(_listing(resolver, address, zone) for zone in zones))
    details = {"address": address, "zones": dict(zip(zones, (result for result, _ in results)))}
    listed = [(zone, reason) for zone, (result, reason) in zip(zones, results) if result == "listed"]
    unchecked = [zone for zone, (result, _) in zip(zones, results) if result not in ("listed", "not listed")]
    if listed:
        reasons = "; ".join(f"{zone}" + (f" ({reason})" if reason else "") for zone, reason in listed)
        return Check(
            name, Status.FAIL, f"{address} is listed on {reasons}",
            "Mail hosts that use these lists refuse or mislead checks from this address. Ask for delisting on "
            "each list's website (after fixing whatever sent spam or got the address listed), or verify from "
            "another address (a `mailsleuth worker` on another host).",
            details,
        )
    if unchecked:
        return Check(
            name, Status.WARN, f"{address} is on none of the lists that answered; could not check {', '.join(unchecked)}",
            "Some lists (Spamhaus among them) refuse queries that come through public resolvers: point "
            "MAILSLEUTH_DNS_SERVERS at a resolver of your own to check them.",
            details,
        )
    return Check(name, Status.OK, f"{address} is on none of {len(zones)} lists", None, details)


async def _listing(resolver: DoctorResolver, address: str, zone: str) -> tuple[str, str | None]:
    """("listed" | "not listed" | "refused" | "error: ...", the list's reason text)."""
    query = f"{_reversed(address)}.{zone}"
    try:
        answer = await resolver.records(query, "A")
    except ValueError:
        return f"error: {zone!r} is not a DNS zone", None
    if answer.status is RouteStatus.NXDOMAIN or (answer.status is RouteStatus.OK and not answer.records):
        return "not listed", None
    if answer.status is not RouteStatus.OK:
        return f"error: {answer.status.value}", None
    codes = [ipaddress.ip_address(record) for record in answer.records]
    if all(code in _REFUSED for code in codes):
        return "refused", None
    if not any(code in _LISTED for code in codes):
        return "error: unexpected answer " + ", ".join(map(str, codes)), None
    reason = await resolver.records(query, "TXT")
    return "listed", " ".join(record.strip('"') for record in reason.records) or None


def _reversed(address: str) -> str:
    """The address in the order blocklists expect: 192.0.2.1 -> 1.2.0.192 (nibbles for IPv6)."""
    text = dns.reversename.from_address(address).to_text(omit_final_dot=True)
    return text.removesuffix(".in-addr.arpa").removesuffix(".ip6.arpa")


# --- the MAIL FROM domain ------------------------------------------------------------------------


async def mail_from_domain(resolver: DoctorResolver, mail_from: str, address: str | None) -> Check:
    """The sender's domain must take mail (bounces) and should publish SPF naming our address."""
    name = "mail_from_domain"
    domain = mail_from.rpartition("@")[2].lower()
    details: dict[str, Any] = {"mail_from": mail_from, "domain": domain}
    change = f"Set MAILSLEUTH_MAIL_FROM to an address at a domain you control (now {mail_from!r})"
    try:
        route = await resolver.mail_route(domain)
    except ValueError:
        return Check(name, Status.FAIL, f"{mail_from!r} has no valid domain", change + ".", details)
    details["mx"] = [host.host for host in route.hosts]
    if route.status in (RouteStatus.SERVFAIL, RouteStatus.TIMEOUT):
        return Check(name, Status.WARN, f"could not look up {domain} ({route.status.value})",
                     "Check the DNS servers this host uses (MAILSLEUTH_DNS_SERVERS).", details)
    if route.status is not RouteStatus.OK:
        return Check(
            name, Status.FAIL, f"{domain} cannot receive mail ({route.status.value}): mail hosts reject such senders",
            change + ", with an MX record.", details,
        )
    spf = [r.strip('"') for r in (await resolver.records(domain, "TXT")).records if r.strip('"').startswith("v=spf1")]
    details["spf"] = spf
    if not spf:
        example = f"v=spf1 ip4:{address} -all" if address and ":" not in address else "v=spf1 mx -all"
        return Check(name, Status.WARN, f"{domain} takes mail but publishes no SPF record",
                     f"Add a TXT record to {domain}: \"{example}\" (some hosts distrust senders without SPF).", details)
    if address is None or await _spf_names(resolver, domain, spf[0], address):
        return Check(name, Status.OK, f"{domain} has MX and SPF" + (f" naming {address}" if address else ""), None,
                     details)
    return Check(
        name, Status.WARN, f"{domain}'s SPF does not name {address} directly",
        f"Add ip{6 if ':' in address else 4}:{address} to the SPF record of {domain} "
        "(its include:/redirect= parts are not followed here).",
        details,
    )


async def _spf_names(resolver: DoctorResolver, domain: str, record: str, address: str) -> bool:
    """Whether the record's own ip4/ip6/a/mx terms cover the address (includes are not followed)."""
    ip = ipaddress.ip_address(address)
    for term in record.split()[1:]:
        mechanism, _, value = term.lstrip("+").partition(":")
        if mechanism in ("ip4", "ip6"):
            try:
                if ip in ipaddress.ip_network(value, strict=False):
                    return True
            except ValueError:
                continue
        elif mechanism == "a" and address in await _forward(resolver, value or domain):
            return True
        elif mechanism == "mx":
            route = await resolver.mail_route(value or domain)
            if any(address in host.addresses for host in route.hosts):
                return True
    return False
