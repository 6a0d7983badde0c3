"""Company websites on loopback, for the crawler's tests and benchmarks.

One threaded HTTP/1.1 server per loopback address, all on ONE shared port (the crawler takes a single
``port``), serving virtual hosts by the Host header. Host names resolve through :meth:`WebWorld.resolve`,
which the crawler takes as its resolver; :meth:`WebWorld.alias` points a name at an address nothing
serves (10.x) to stand for an internal host. The servers count requests and bytes actually written,
so tests can prove a page was never requested or a body was not read to its end. ``WebWorld(tls=TestCA())``
serves HTTPS instead, with a certificate per site chosen by SNI (``tests/webworld/tls.py``).

    with WebWorld() as world:
        world.add_site("acme.test", {"/": html("<a href='mailto:jane@acme.test'>Jane</a>")})
        result = await crawl_domain("acme.test", settings=..., scheme="http", port=world.port,
                                    resolve=world.resolve)
"""

from __future__ import annotations

import errno
import ssl
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from tests.webworld.tls import TestCA

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Response:
    """What a path serves. ``chunks`` produces the body lazily, so a 50 MB page costs no memory."""

    chunks: Callable[[], Iterable[bytes]]
    length: int
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


def raw(body: bytes, content_type: str, status: int = 200, **headers: str) -> Response:
    return Response(lambda: [body], len(body), status, {"Content-Type": content_type, **headers})


def html(text: str, charset: str = "utf-8", *, header_charset: bool = True) -> Response:
    """An HTML page encoded in ``charset``, declared in Content-Type unless header_charset is False."""
    content_type = f"text/html; charset={charset}" if header_charset else "text/html"
    return raw(text.encode(charset), content_type)


def plain(body: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return raw(body.encode(), content_type)


def redirect(location: str, status: int = 302) -> Response:
    return raw(b"", "text/html", status, Location=location)


def huge(size: int, head: str, tail: str) -> Response:
    """An HTML page of ``size`` bytes: ``head``, filler, then ``tail`` in its last bytes."""
    start, end = head.encode(), tail.encode()
    filler = size - len(start) - len(end)

    def chunks() -> Iterator[bytes]:
        yield start
        block = b"<p>" + b"lorem ipsum " * ((CHUNK - 8) // 12) + b"</p>\n"
        remaining = filler
        while remaining > 0:
            piece = block[:remaining]
            remaining -= len(piece)
            yield piece
        yield end

    return Response(chunks, size, 200, {"Content-Type": "text/html; charset=utf-8"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls
    server: _Server

    def do_POST(self) -> None:
        """A webhook delivery: the body is read (and its size counted), then the path is served."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.world._lock:
            self.server.world.posted.append(body)
        self.do_GET()

    def do_GET(self) -> None:
        world = self.server.world
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        path = self.path.split("#", 1)[0]
        world._count(host, path)
        pages = world.sites.get(host, {})
        response = pages.get(path) or pages.get(path.split("?", 1)[0]) or raw(b"not found", "text/plain", 404)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(response.length))
        self.end_headers()
        try:
            for chunk in response.chunks():
                self.wfile.write(chunk)
                world._sent(host, path, len(chunk))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading: that is what limits are for

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs under a concurrent crawl: 1 s retransmit stalls
    allow_reuse_address = False  # a shared port must really be free on every address

    def __init__(self, address: tuple[str, int], world: WebWorld) -> None:
        self.world = world
        super().__init__(address, _Handler)
        self._tls = world.tls.server_context() if world.tls else None

    def get_request(self) -> tuple[Any, Any]:
        """With TLS, the handshake (and its SNI callback) runs in the handler's thread, on first read."""
        connection, address = super().get_request()
        if self._tls is not None:
            connection = self._tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def handle_error(self, request: object, client_address: object) -> None:
        # A crawler hanging up is no error, nor a client refusing the certificate it was shown.
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            super().handle_error(request, client_address)


class WebWorld:
    """Virtual-hosted sites on a set of loopback addresses sharing one port."""

    def __init__(self, addresses: Iterable[str] = ("127.0.0.2", "127.0.0.1"), *, tls: TestCA | None = None) -> None:
        self.addresses = tuple(addresses)
        self.tls = tls  # serve HTTPS only, with certificates from this CA chosen by SNI
        self.posted: list[bytes] = []  # bodies of POST requests, in order
        self.sites: dict[str, dict[str, Response]] = {}
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()  # (host, path) -> requests
        self.bytes_sent: Counter[tuple[str, str]] = Counter()  # (host, path) -> body bytes written
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self.port = 0

    def add_site(self, host: str, pages: Mapping[str, Response], address: str | None = None) -> None:
        """Serve ``pages`` (path -> response) for ``host``, which resolves to ``address`` (default: the first)."""
        address = address or self.addresses[0]
        if address not in self.addresses:
            raise ValueError(f"{address} is not one of this world's addresses {self.addresses}")
        self.sites[host.lower()] = dict(pages)
        self._names[host.lower()] = address

    def alias(self, host: str, address: str) -> None:
        """Make ``host`` resolve to ``address`` (e.g. 10.0.0.7: an internal host nothing here serves)."""
        self._names[host.lower()] = address

    async def resolve(self, host: str) -> tuple[str, ...]:
        """The crawler's resolver in this world: names added here, nothing else (no real DNS)."""
        address = self._names.get(host.lower().rstrip("."))
        return (address,) if address else ()

    def url(self, host: str, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def hits(self, host: str, path: str | None = None) -> int:
        with self._lock:
            return sum(n for (h, p), n in self.requests.items() if h == host and (path is None or p == path))

    def sent(self, host: str, path: str) -> int:
        with self._lock:
            return self.bytes_sent[(host, path)]

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_sent.clear()
            self.posted.clear()
        if self.tls:
            self.tls.reset()

    def _count(self, host: str, path: str) -> None:
        with self._lock:
            self.requests[(host, path)] += 1

    def _sent(self, host: str, path: str, size: int) -> None:
        with self._lock:
            self.bytes_sent[(host, path)] += size

    def start(self) -> Self:
        for _ in range(20):
            try:
                self._bind()
                break
            except OSError as exc:
                self._close_servers()
                if exc.errno != errno.EADDRINUSE:
                    raise
        else:
            raise RuntimeError("no port free on every web world address")
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _bind(self) -> None:
        first = _Server((self.addresses[0], 0), self)
        self._servers = [first]
        self.port = first.server_address[1]
        for address in self.addresses[1:]:
            self._servers.append(_Server((address, self.port), self))

    def _close_servers(self) -> None:
        for server in self._servers:
            server.server_close()
        self._servers = []

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
        self._close_servers()
        self._threads = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
