"""One HTTP server on one address that counts what reaches it: the egress tests' "public" and
"internal" listeners (a split horizon is two of them on one port)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Listener:
    """One HTTP server on one address; counts every request it gets (method, path, Host)."""

    address: str
    port: int
    routes: dict[str, tuple[int, dict[str, str], bytes]]
    seen: list[tuple[str, str, str]] = field(default_factory=list)

    def serve(self) -> ThreadingHTTPServer:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                listener.seen.append((self.command, self.path, self.headers.get("Host", "")))
                if self.path == "/drip":
                    self.send_response(200)
                    self.send_header("content-length", "1000")
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b"x" * 10)
                        self.wfile.flush()
                        time.sleep(0.05)
                    return
                status, headers, body = listener.routes.get(self.path, (404, {}, b"no"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer((self.address, self.port), Handler)
        server.daemon_threads = True
        return server
