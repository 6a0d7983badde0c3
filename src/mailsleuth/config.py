"""One settings object, read from MAILSLEUTH_* environment variables.

Every network address the project touches is a setting, so tests and demos can point it at loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILSLEUTH_", env_file=None, extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./mailsleuth.db"
    broker_url: str = ""  # empty: in-process
    redis_url: str = ""  # empty: rate-limit counters and politeness limits in this process's memory
    rate_limits: dict[str, str] = Field(default_factory=dict)  # scope -> "N/period[;M/period]" overrides
    dns_servers: str = ""  # comma-separated host[:port]; empty: the system's resolvers
    dns_timeout: float = 3.0
    smtp_port: int = 25
    helo_name: str = Field(default_factory=socket.getfqdn)
    source_address: str = ""  # local IP outgoing SMTP connections leave from; empty: the system's choice
    mail_from: str = ""  # empty: verify@<helo_name>
    allow_private_networks: bool = False
    egress_ca_file: str = ""  # PEM file of the CAs outgoing HTTPS trusts instead; empty: certifi's roots
    use_starttls: bool = False
    use_pipelining: bool = True  # RCPT batches in one write where the mail host offers PIPELINING (RFC 2920)

    connect_timeout: float = 10.0
    command_timeout: float = 15.0
    max_connections_per_host: int = 2
    max_recipients_per_connection: int = 20
    min_connection_interval: float = 0.0
    cooldown_base: float = 60.0
    cooldown_max: float = 3600.0
    politeness_slot_ttl: float = 30.0  # on Redis: a killed worker's connection slots come free after this
    # Without Redis: a directory of lock files through which the processes of one machine share the
    # per-host limits (serve sets one for itself, its API processes and its worker); empty: per process.
    politeness_dir: str = ""
    greylist_delay: float = 300.0
    cache_ttl: float = 3600.0

    crawl_scheme: str = "https"
    crawl_port: int | None = None  # tests and demos: the loopback web world's port
    crawl_page_budget: int = 20
    crawl_timeout: float = 10.0
    crawl_max_page_bytes: int = 2_000_000
    crawl_user_agent: str = "mailsleuth/0.1 (self-hosted address verifier)"
    crawl_max_age_hours: float = 168.0  # re-crawl a company's website after a week
    # tried, in order, when a company name is resolved to a domain (country endings: "Ravenridge AG")
    company_tlds: str = "com,io,co,net,org,de,fr,co.uk,nl,es,it,ch,at,be,se,dk,no,fi,pl,pt,ie,eu,ca,com.au"
    # candidates one find may try on an honest server: the whole catalogue for a three-part name
    find_max_probes: int = Field(default=40, ge=1, le=200)
    # single finds one process runs at once; more wait their turn (queued). Unbounded, a burst of
    # searches slowed every find down until almost none ended (1 a second with 1,900 in flight)
    concurrent_finds: int = Field(default=16, ge=1, le=1000)

    # `mailsleuth doctor`: the mail host whose port 25 is tried (a domain: its MX; or a host name),
    # the DNS blocklists the outgoing address is looked up in, and that address when the mail host
    # cannot tell it (behind NAT: the public address mail hosts see)
    doctor_mail_host: str = "gmail.com"
    doctor_blocklists: str = "zen.spamhaus.org,bl.spamcop.net,b.barracudacentral.org,psbl.surriel.com"
    doctor_outgoing_address: str = ""

    @field_validator("helo_name", "mail_from")
    @classmethod
    def _no_control_chars(cls, value: str) -> str:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("source_address")
    @classmethod
    def _an_ip_address(cls, value: str) -> str:
        if value:
            ipaddress.ip_address(value)  # ValueError names the bad value
        return value

    @property
    def prober(self) -> str:
        """Who the mail hosts see: the outgoing address, else the HELO name. Politeness limits are
        shared by every worker with the same prober (two machines are two probers)."""
        return self.source_address or self.helo_name

    @property
    def envelope_from(self) -> str:
        return self.mail_from or f"verify@{self.helo_name}"

    @property
    def company_tld_list(self) -> list[str]:
        return [tld.strip().lstrip(".").lower() for tld in self.company_tlds.split(",") if tld.strip()]

    @property
    def doctor_blocklist_zones(self) -> list[str]:
        return [zone.strip().strip(".").lower() for zone in self.doctor_blocklists.split(",") if zone.strip()]

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        """Parse MAILSLEUTH_DNS_SERVERS into (host, port) pairs; [] means the system's."""
        servers: list[tuple[str, int]] = []
        for item in filter(None, (part.strip() for part in self.dns_servers.split(","))):
            host, port = item, 53
            if item.startswith("["):  # [v6]:port
                host, _, rest = item[1:].partition("]")
                port = int(rest.lstrip(":") or 53)
            elif item.count(":") == 1:
                host, raw_port = item.split(":")
                port = int(raw_port)
            servers.append((host, port))
        return servers


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
