"""Split horizon with real parts: a network namespace, a veth pair, a DNS server and a hosts file.

The test creates a network namespace with iproute2 and links it to this one by a veth pair. On the
host side of the veth runs the mail world's DNS server, answering a public address (93.184.216.34,
held inside the namespace only) for split.test; inside the namespace, `ip netns exec` puts a hosts
file in place that maps the same name to loopback, where the "internal" listener waits. The probe
(`tests/engine/splithorizon.py`) runs in the namespace: an unpinned client reaches the internal
listener (the control), while webhook delivery and a massive's file_url through the egress transport
must reach the public listener only, the internal one's hit count staying 0. Nothing leaves the
namespace and the veth the test made. Needs root and `ip` (Debian's iproute2, see .ci/run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.splithorizon import NAME, PUBLIC_FILE, SECRET
from tests.mailworld.dns_server import DnsServer

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_IP = "93.184.216.34"  # public-looking; exists only inside the test's namespace


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (apt-get install iproute2)"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@dataclass
class Namespace:
    name: str
    host_address: str  # this side of the veth, where the DNS server listens


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    pid = os.getpid()
    name, host_link, inner_link = f"ms-split-{pid}", f"msh{pid}", f"msn{pid}"
    prefix, base = f"10.251.{pid // 64 % 256}", pid % 64 * 4  # a /30 per test process
    host_address, inner_address = f"{prefix}.{base + 1}", f"{prefix}.{base + 2}"
    hosts = Path("/etc/netns") / name
    try:
        _ip("netns", "add", name)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create a network namespace here: {exc.stderr.strip()}")
    try:
        hosts.mkdir(parents=True)
        (hosts / "hosts").write_text(f"127.0.0.1 localhost\n127.0.0.1 {NAME}\n")
        _ip("link", "add", host_link, "type", "veth", "peer", "name", inner_link)
        _ip("link", "set", inner_link, "netns", name)
        _ip("addr", "add", f"{host_address}/30", "dev", host_link)
        _ip("link", "set", host_link, "up")
        for args in (("addr", "add", f"{inner_address}/30", "dev", inner_link),
                     ("addr", "add", f"{PUBLIC_IP}/32", "dev", inner_link),
                     ("link", "set", inner_link, "up"), ("link", "set", "lo", "up")):
            _ip("netns", "exec", name, "ip", *args)
        yield Namespace(name, host_address)
    finally:
        subprocess.run(["ip", "link", "del", host_link], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        shutil.rmtree(hosts, ignore_errors=True)


def test_webhooks_and_file_url_never_reach_the_loopback_the_hosts_file_names(namespace: Namespace) -> None:
    with DnsServer(namespace.host_address) as dns:
        dns.add(NAME, "A", PUBLIC_IP)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        probe = subprocess.run(
            ["ip", "netns", "exec", namespace.name, sys.executable, "-m", "tests.engine.splithorizon",
             f"{dns.host}:{dns.port}", PUBLIC_IP],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        assert probe.returncode == 0, probe.stderr
        seen = json.loads(probe.stdout)
        asked = dns.queries(NAME, "A")
    # The control: the system's resolution (the namespace's hosts file) leads to the internal listener.
    assert (seen["control"], seen["control_internal_hits"]) == (SECRET.decode(), 1)
    # The egress asked the DNS server, checked its public answer and connected there, for both.
    internal_hits = len(seen["internal_seen"])
    print(f"\nsplit horizon in namespace {namespace.name}: internal (loopback) listener hit {internal_hits} times; "
          f"public listener saw {seen['public_seen']}")
    assert internal_hits == 0
    assert seen["delivered"] == 1 and seen["file_url"] == PUBLIC_FILE.decode()
    port = seen["public_seen"][0][2].rsplit(":", 1)[1]
    assert [tuple(hit) for hit in seen["public_seen"]] == [
        ("POST", "/hook", f"{NAME}:{port}"), ("GET", "/list.csv", f"{NAME}:{port}")
    ]
    assert asked >= 1
