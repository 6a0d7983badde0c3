"""A test certificate authority for the web world's HTTPS sites, made with `cryptography`.

The CA signs one certificate per host name, chosen by the name the client sends in SNI; a client
that sends no name (or another one) gets a certificate for ``unnamed.invalid`` and fails to verify
it. Every name asked for is recorded, so a test can see which server_name a connection carried.
"""

from __future__ import annotations

import datetime
import ssl
import tempfile
import threading
from collections import Counter
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

UNNAMED = "unnamed.invalid"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


class TestCA:
    """A CA whose PEM file a client can trust (`ca_file`) and server contexts issued per SNI name."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self._now = now
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(_name("mailsleuth test CA"))
            .issuer_name(_name("mailsleuth test CA"))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self._folder = tempfile.TemporaryDirectory(prefix="mailsleuth-ca-")
        self.ca_file = str(Path(self._folder.name) / "ca.pem")
        Path(self.ca_file).write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self.server_names: Counter[str] = Counter()  # SNI names the servers were asked for
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def _context_for(self, host: str) -> ssl.SSLContext:
        with self._lock:
            if host not in self._contexts:
                self._contexts[host] = self._issue(host)
            return self._contexts[host]

    def _issue(self, host: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(hours=1))
            .not_valid_after(self._now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        pem = Path(self._folder.name) / f"{host}.pem"
        pem.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            + cert.public_bytes(serialization.Encoding.PEM)
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem)
        return context

    def server_context(self) -> ssl.SSLContext:
        """The listening socket's context: picks the certificate for the SNI name and records it."""
        context = self._context_for(UNNAMED)

        def choose(connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
            name = (server_name or "").lower()
            with self._lock:
                self.server_names[name] += 1
            connection.context = self._context_for(name or UNNAMED)

        context.sni_callback = choose  # type: ignore[assignment]
        return context

    def reset(self) -> None:
        with self._lock:
            self.server_names.clear()

    def close(self) -> None:
        self._folder.cleanup()
