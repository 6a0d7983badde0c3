"""An authoritative DNS server on loopback serving a scripted zone table (dnslib, UDP and TCP).

It answers like a real server would, so dnspython's parsing, TCP fallback and rcodes are exercised:
unknown names get NXDOMAIN, known names without the asked type get an empty answer, and both carry
an SOA so negative TTLs are real. Some names are scripted to fail (SERVFAIL) or to never answer.
Every question is counted so cache tests can prove that a lookup sent nothing.
"""

from __future__ import annotations

import errno
import threading
from collections import Counter
from typing import Self

from dnslib import AAAA, MX, PTR, QTYPE, RCODE, RR, SOA, TXT, A, DNSError, DNSLabel, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

RData = A | AAAA | MX | TXT | PTR
_RDATA: dict[str, type[RData]] = {"A": A, "AAAA": AAAA, "MX": MX, "TXT": TXT, "PTR": PTR}


class _ZoneResolver(BaseResolver):
    """The zone table; dnslib calls resolve() from its handler threads."""

    def __init__(self, negative_ttl: int) -> None:
        self.negative_ttl = negative_ttl
        self.lock = threading.Lock()
        self.records: dict[str, list[RR]] = {}
        self.servfail: set[str] = set()
        self.silent: set[str] = set()
        self.queries: Counter[tuple[str, str]] = Counter()

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        name = _norm(str(request.q.qname))
        rtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries[(name, rtype)] += 1
            if _covered(name, self.silent):
                raise DNSError(f"scripted timeout for {name}")  # the handler then sends nothing
            reply = request.reply()
            if _covered(name, self.servfail):
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            records = self.records.get(name)
            if records is None:
                reply.header.rcode = RCODE.NXDOMAIN
            else:
                for record in records:
                    if record.rtype == request.q.qtype:
                        reply.add_answer(record)
            if not reply.rr:
                reply.add_auth(self._soa(name))
            return reply

    def _soa(self, name: str) -> RR:
        zone = ".".join(name.split(".")[-2:])  # the scripted world has no deeper delegation
        rdata = SOA(f"ns.{zone}", f"hostmaster.{zone}", (1, 3600, 600, 86400, self.negative_ttl))
        return RR(zone, QTYPE.SOA, rdata=rdata, ttl=self.negative_ttl)


class DnsServer:
    """Serve `add()`-ed records on `host` (UDP and TCP on the same free port)."""

    def __init__(self, host: str = "127.0.0.1", *, ttl: int = 300, negative_ttl: int = 300) -> None:
        self.host = host
        self.ttl = ttl
        self._zone = _ZoneResolver(negative_ttl)
        self._servers: list[DNSServer] = []
        self.port = 0

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def add(self, name: str, rtype: str, value: str | tuple[int, str], ttl: int | None = None) -> None:
        """Add one record: A/AAAA/TXT/PTR take a string, MX takes (preference, exchange) ("." is null MX)."""
        if rtype not in _RDATA:
            raise ValueError(f"unsupported record type {rtype!r}; use one of {sorted(_RDATA)}")
        if rtype == "MX":
            if not isinstance(value, tuple):
                raise TypeError("MX records take (preference, exchange)")
            rdata: RData = MX(value[1], value[0])
        elif isinstance(value, str):
            rdata = _RDATA[rtype](value)
        else:
            raise TypeError(f"{rtype} records take a string")
        record = RR(name, getattr(QTYPE, rtype), rdata=rdata, ttl=self.ttl if ttl is None else ttl)
        with self._zone.lock:
            self._zone.records.setdefault(_norm(name), []).append(record)

    def declare(self, name: str) -> None:
        """Make `name` exist without records (it answers NODATA instead of NXDOMAIN)."""
        with self._zone.lock:
            self._zone.records.setdefault(_norm(name), [])

    def remove(self, name: str) -> None:
        """Forget every record of `name` (later questions get NXDOMAIN)."""
        with self._zone.lock:
            self._zone.records.pop(_norm(name), None)

    def servfail(self, name: str) -> None:
        """Answer SERVFAIL for `name` and every name below it."""
        with self._zone.lock:
            self._zone.servfail.add(_norm(name))

    def timeout(self, name: str) -> None:
        """Never answer questions about `name` or any name below it."""
        with self._zone.lock:
            self._zone.silent.add(_norm(name))

    def queries(self, name: str | None = None, rtype: str | None = None) -> int:
        """How many questions arrived, optionally only those about `name` and/or of type `rtype`."""
        with self._zone.lock:
            return sum(
                count
                for (qname, qtype), count in self._zone.queries.items()
                if (name is None or qname == _norm(name)) and (rtype is None or qtype == rtype)
            )

    def start(self) -> None:
        for _ in range(20):
            udp = DNSServer(self._zone, address=self.host, port=0, logger=_QUIET)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self._zone, address=self.host, port=port, tcp=True, logger=_QUIET)
            except OSError as exc:
                udp.server.server_close()
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            self._servers = [udp, tcp]
            self.port = port
            for server in self._servers:  # a short poll interval keeps stop() quick
                thread = threading.Thread(target=server.server.serve_forever, args=(0.05,), daemon=True)
                thread.start()
            return
        raise RuntimeError("no port free for both UDP and TCP")

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
        self._servers = []

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_QUIET = DNSLogger(log="-request,-reply,-truncated,-error")


def _norm(name: str) -> str:
    return str(DNSLabel(name)).rstrip(".").lower() or "."


def _covered(name: str, roots: set[str]) -> bool:
    return any(name == root or name.endswith("." + root) for root in roots)
