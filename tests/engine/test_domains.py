import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mailsleuth.engine import domains
from mailsleuth.engine.domains import (
    InvalidAddress,
    InvalidDomain,
    is_disposable,
    is_free_provider,
    is_role,
    normalise_domain,
    parse_address,
    registrable_domain,
    suggest,
)

# A 253-character domain (the limit) built from 63-character labels (the label limit).
LONGEST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
assert len(LONGEST) == 253


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme.com", "acme.com"),
        ("ACME.com.", "acme.com"),
        ("  acme.com  ", "acme.com"),
        ("https://www.acme.com/about?x", "acme.com"),
        ("http://Acme.COM:8080/a/b#frag", "acme.com"),
        ("acme.com:443", "acme.com"),
        ("acme.com/careers", "acme.com"),
        ("acme.com/go?to=https://other.com", "acme.com"),
        ("//acme.com/x", "acme.com"),
        ("www.acme.co.uk", "acme.co.uk"),
        ("WWW.Acme.com", "acme.com"),
        ("mail.acme.com", "mail.acme.com"),
        ("www.www.acme.com", "www.acme.com"),
        ("www.com", "www.com"),  # "com" alone is a public suffix, so "www" is the name
        ("www.co.uk", "www.co.uk"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("MÜNCHEN.DE", "xn--mnchen-3ya.de"),
        ("https://www.münchen.de/", "xn--mnchen-3ya.de"),
        ("XN--MNCHEN-3YA.DE", "xn--mnchen-3ya.de"),
        ("straße.de", "xn--strae-oqa.de"),  # IDNA 2008: ß is kept, not mapped to "ss"
        ("ａｃｍｅ．ｃｏｍ", "acme.com"),  # full-width letters and dot
        ("acme。com", "acme.com"),  # ideographic full stop
        ("a-b.example", "a-b.example"),
        ("acme.test", "acme.test"),
        ("1password.com", "1password.com"),
        ("acme.c0m", "acme.c0m"),
        (LONGEST, LONGEST),
        (LONGEST + ".", LONGEST),
    ],
)
def test_normalise_domain(value: str, expected: str) -> None:
    assert normalise_domain(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("acme.com\r\n", "control or invisible character (U+000D)"),
        ("acme.com\nx", "control or invisible character (U+000A)"),
        ("acme\x00.com", "control or invisible character (U+0000)"),
        ("acme\t.com", "control or invisible character (U+0009)"),
        ("acme\x7f.com", "control or invisible character (U+007F)"),
        ("acme\x85.com", "control or invisible character (U+0085)"),
        ("acme\u2028.com", "control or invisible character (U+2028)"),
        ("acme\u200b.com", "control or invisible character (U+200B)"),
        ("acme\u00ad.com", "control or invisible character (U+00AD)"),
        ("ac me.com", "whitespace"),
        ("acme.com\u00a0", "whitespace"),
        ("user@acme.com", "contains '@'"),
        ("https://user:pw@acme.com/", "contains '@'"),
        ("mailto:jane@acme.com", "contains '@'"),
        ("acme.com:abc", "Port could not be cast"),
        ("acme.com:99999", "Port out of range"),
        ("https:///path", "there is no host name"),
        ("/about", "there is no host name"),
        ("1.2.3.4", "it is an IP address"),
        ("http://10.0.0.1:80/", "it is an IP address"),
        ("[::1]", "it is an IP address"),
        ("https://[2001:db8::1]/", "it is an IP address"),
        ("[acme.com]", "does not appear to be an IPv4 or IPv6 address"),
        ("1.2.3.4.", "the top-level domain is numeric"),
        ("acme.123", "the top-level domain is numeric"),
        ("acme", "it has no dot"),
        ("com.", "it has no dot"),
        ("acme.localhost", ".localhost is reserved"),
        ("localhost.localdomain.local", ".local is reserved"),
        ("printer.internal", ".internal is reserved"),
        ("acme.invalid", ".invalid is reserved"),
        ("abc.onion", ".onion is reserved"),
        ("4.3.2.1.in-addr.arpa", ".arpa is reserved"),
        ("acme..com", "Empty Label"),
        ("-acme.com", "must not start or end with a hyphen"),
        ("acme-.com", "must not start or end with a hyphen"),
        ("ab--cd.com", "hyphens in 3rd and 4th position"),
        ("xn--zz.com", "Invalid A-label"),
        ("a_b.com", "U+005F"),
        ("acme!.com", "U+0021"),
        ("💩.la", "U+1F4A9"),
        ("a" * 64 + ".com", "Label too long"),
        (LONGEST + "d", "longer than 253"),
        (LONGEST + "d.", "longer than 253"),
        ("ü." * 100 + "de", "Domain too long"),  # short in Unicode, too long as A-labels
        ("x" * 10_000 + ".com", "longer than 253"),
    ],
)
def test_normalise_domain_rejects(value: str, reason: str) -> None:
    with pytest.raises(InvalidDomain, match=re.escape(reason)) as caught:
        normalise_domain(value)
    message = str(caught.value)
    assert message.startswith(repr(value)[:40])
    assert not re.search(r"[\x00-\x1f\x7f]", message), "user input must be escaped in messages"
    assert len(message) < 300


def test_errors_are_value_errors() -> None:
    assert issubclass(InvalidDomain, ValueError)
    assert issubclass(InvalidAddress, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane@acme.com", ("jane@acme.com", "jane", "acme.com")),
        ("Jane.Doe@Acme.COM", ("Jane.Doe@acme.com", "Jane.Doe", "acme.com")),
        ("  jane@acme.com ", ("jane@acme.com", "jane", "acme.com")),
        ("jane+tag@acme.com", ("jane+tag@acme.com", "jane+tag", "acme.com")),
        ("o'brien@acme.com", ("o'brien@acme.com", "o'brien", "acme.com")),
        ("jane@mail.acme.co.uk", ("jane@mail.acme.co.uk", "jane", "mail.acme.co.uk")),
        ("jane@www.acme.com", ("jane@www.acme.com", "jane", "www.acme.com")),  # an address keeps its host
        ("jane@münchen.de", ("jane@xn--mnchen-3ya.de", "jane", "xn--mnchen-3ya.de")),
        ("jane@MÜNCHEN.de", ("jane@xn--mnchen-3ya.de", "jane", "xn--mnchen-3ya.de")),
        ("jane@xn--mnchen-3ya.de", ("jane@xn--mnchen-3ya.de", "jane", "xn--mnchen-3ya.de")),
        ("jané@acme.com", ("jané@acme.com", "jané", "acme.com")),
        ("jane@acme.test", ("jane@acme.test", "jane", "acme.test")),
        ("x" * 64 + "@acme.com", ("x" * 64 + "@acme.com", "x" * 64, "acme.com")),
    ],
)
def test_parse_address(value: str, expected: tuple[str, str, str]) -> None:
    assert parse_address(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "it is empty"),
        ("jane@acme.com\r\nRCPT TO:<x@evil.com>", "(U+000D)"),
        ("jane@acme.com\n", "(U+000A)"),
        ("ja\x00ne@acme.com", "(U+0000)"),
        ("jane\t@acme.com", "(U+0009)"),
        ("jane@acme.com\x1b", "(U+001B)"),
        ("jane\u2029@acme.com", "(U+2029)"),
        ("ja\u200bne@acme.com", "(U+200B)"),
        ("jane doe@acme.com", "whitespace"),
        ("Jane <jane@acme.com>", "whitespace"),
        ('"jane"@acme.com', "Quoting the part before the @-sign is not allowed"),
        ('"ja@ne"@acme.com', "Quoting the part before the @-sign is not allowed"),
        ("jane@[192.0.2.1]", "bracketed IP address"),
        ("jane@[IPv6:2001:db8::1]", "bracketed IP address"),
        ("jane@192.0.2.1", "not within a valid top-level domain"),
        ("acme.com", "must have an @-sign"),
        ("@acme.com", "There must be something before the @-sign"),
        ("jane@", "There must be something after the @-sign"),
        ("jane@acme", "It should have a period"),
        ("jane@test", "it has no dot"),
        ("jane@acme.com.", "cannot end with a period"),
        ("jane@acme..com", "two periods in a row"),
        ("ja..ne@acme.com", "two periods in a row"),
        (".jane@acme.com", "cannot start with a period"),
        ("jane@b@acme.com", "invalid characters: '@'"),
        ("jane@acme_corp.com", "invalid characters: '_'"),
        ("jane@-acme.com", "hyphen immediately after the @-sign"),
        ("jane@xn--zz.com", "not valid IDNA"),
        ("jane@acme.localhost", "special-use or reserved name"),
        ("jane@printer.internal", ".internal is reserved"),
        ("x" * 65 + "@acme.com", "too long before the @-sign"),
        ("jane@" + "a" * 64 + ".com", "periods cannot be separated by so many characters"),
    ],
)
def test_parse_address_rejects(value: str, reason: str) -> None:
    with pytest.raises(InvalidAddress, match=re.escape(reason)) as caught:
        parse_address(value)
    message = str(caught.value)
    assert message.startswith(repr(value)[:40])
    assert not re.search(r"[\x00-\x1f\x7f]", message), "user input must be escaped in messages"


@pytest.mark.parametrize(
    "domain",
    [
        "acme.com",
        "ACME.COM",
        "münchen.de",
        "xn--mnchen-3ya.de",
        "acme.test",
        "a-b.example",
        "1password.com",
        LONGEST[:240],
        "acme",
        "acme.123",
        "acme.internal",
        "acme.localhost",
        "acme..com",
        "a_b.com",
        "ab--cd.com",
        "xn--zz.com",
        "1.2.3.4",
        "-acme.com",
        "a" * 64 + ".com",
    ],
)
def test_domains_and_address_domains_follow_one_rule_book(domain: str) -> None:
    try:
        expected = normalise_domain(domain)
    except InvalidDomain:
        with pytest.raises(InvalidAddress):
            parse_address(f"jane@{domain}")
    else:
        assert parse_address(f"jane@{domain}")[2] == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("acme.com", "acme.com"),
        ("mail.acme.co.uk", "acme.co.uk"),
        ("a.b.c.acme.com", "acme.com"),
        ("https://www.shop.acme.com.au/x", "acme.com.au"),
        ("Mail.Acme.CO.UK.", "acme.co.uk"),
        ("a.b.foo.github.io", "foo.github.io"),  # private-section suffixes count: github.io hosts many owners
        ("mx.münchen.de", "xn--mnchen-3ya.de"),
        ("mail.acme.test", "acme.test"),  # an unknown top-level name is its own suffix
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("co.uk", "is a public suffix"),
        ("github.io", "is a public suffix"),
        ("com", "it has no dot"),
        ("mail.acme.com\r\n", "(U+000D)"),
        ("192.0.2.1", "it is an IP address"),
    ],
)
def test_registrable_domain_rejects(host: str, reason: str) -> None:
    with pytest.raises(InvalidDomain, match=re.escape(reason)):
        registrable_domain(host)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("gmail.com", True),
        ("GMAIL.COM", True),
        ("gmx.de", True),
        ("yahoo.co.uk", True),
        ("mx.gmail.com", True),  # under a listed registrable domain
        ("acme.com", False),
        ("gmail.com.acme.com", False),
        ("acme.za.com", False),  # za.com is listed but is a public suffix: its subdomains are companies
        ("guerrillamail.com", False),
    ],
)
def test_is_free_provider(domain: str, expected: bool) -> None:
    assert is_free_provider(domain) is expected


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("mailinator.com", True),
        ("MAILINATOR.com", True),
        ("guerrillamail.com", True),
        ("x.y.mailinator.com", True),
        ("https://www.mailinator.com/", True),
        ("x.lacraffe.fr.nf", True),  # listed entry below a private public suffix
        ("fr.nf", False),
        ("gmail.com", False),
        ("acme.com", False),
        ("mailinator.com.acme.com", False),
    ],
)
def test_is_disposable(domain: str, expected: bool) -> None:
    assert is_disposable(domain) is expected


@pytest.mark.parametrize("check", [is_free_provider, is_disposable])
def test_list_checks_reject_bad_domains(check) -> None:
    with pytest.raises(InvalidDomain, match=re.escape("(U+000A)")):
        check("gmail.com\n")


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("info", True),
        ("INFO", True),
        ("Sales", True),
        ("sales+eu", True),
        ("customer.service", True),
        ("customer-service", True),
        ("customer_service", True),
        ("web.master", True),
        ("noreply", True),
        ("no-reply", True),
        ("no.reply", True),
        ("no_reply", True),
        ("noreply-billing", True),
        ("NoReply.Notifications", True),
        ("do-not-reply", True),
        ("donotreply+x", True),
        ("mailer-daemon", True),
        ("bounces+abc=acme.com", True),
        ("postmaster", True),
        ("abuse", True),
        ("hr", True),
        ("it", True),
        ("h.r", False),  # two-letter roles must match as written: this is likely initials
        ("i-t", False),
        ("jane", False),
        ("jane.doe", False),
        ("sales.maria", False),  # Sales is a surname; only the whole local part counts
        ("salesteam", False),
        ("information.jane", False),
        ("bill", False),
        ("steve.jobs", False),
        ("", False),
        ("+info", False),
        ("...", False),
    ],
)
def test_is_role(local: str, expected: bool) -> None:
    assert is_role(local) is expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("jane@gmial.com", "jane@gmail.com"),
        ("jane@gamil.com", "jane@gmail.com"),
        ("jane@gmaill.com", "jane@gmail.com"),
        ("jane@gmal.com", "jane@gmail.com"),
        ("jane@hotmial.com", "jane@hotmail.com"),
        ("jane@yahooo.com", "jane@yahoo.com"),
        ("jane@outlok.com", "jane@outlook.com"),
        ("jane@protonmial.com", "jane@protonmail.com"),
        ("jane@protnmial.com", "jane@protonmail.com"),  # long names tolerate two typos
        ("jane@gmail.con", "jane@gmail.com"),
        ("jane@gmail.cmo", "jane@gmail.com"),
        ("jane@gmail.cm", "jane@gmail.com"),
        ("jane@gmail.comm", "jane@gmail.com"),
        ("jane@gmial.con", "jane@gmail.com"),  # one typo in the name and one in the suffix
        ("jane@icloud.co", "jane@icloud.com"),
        ("jane@yahoo.cm", "jane@yahoo.com"),
        ("jane@hotmail.co.k", "jane@hotmail.co.uk"),
        ("jane@aol.con", "jane@aol.com"),  # short names: the suffix may still be fixed
        ("jane@gmx.dee", "jane@gmx.de"),
        ("jane@gmail,com", "jane@gmail.com"),
        ("jane@gmailcom", "jane@gmail.com"),
        ("jane@gmail..com", "jane@gmail.com"),
        ("jane@.gmail.com", "jane@gmail.com"),
        ("Jane.Doe@GMIAL.COM", "Jane.Doe@gmail.com"),
        (" jane@gmial.com ", "jane@gmail.com"),
        ("jane@gmail.com", None),
        ("jane@GMail.com", None),
        ("jane@gmx.net", None),
        ("jane@ymail.com", None),  # a provider of its own, one letter from gmail
        ("jane@email.com", None),  # likewise
        ("jane@acme.com", None),
        ("jane@aon.com", None),  # short provider names are never guessed from a near company name
        ("jane@gmc.com", None),
        ("jane@lives.com", None),
        ("jane@cloud.com", None),  # the first letter must match
        ("jane@horizon.com", None),
        ("jane@gmail.com.br", None),  # a different suffix, not a typo
        ("jane@hotmail.company", None),
        ("jane@gmial.com\r\n", None),  # the fix would still be an invalid address
        ("ja ne@gmial.com", None),
        ("gmial.com", None),
        ("@gmial.com", None),
        ("jane@", None),
        ("jane@" + "g" * 300 + ".com", None),
    ],
)
def test_suggest(address: str, expected: str | None) -> None:
    assert suggest(address) == expected


def test_suggestions_are_always_valid_addresses() -> None:
    for address in ("jane@gmial.com", "jane@gmail,com", "Jane@hotmail.co.k"):
        fixed = suggest(address)
        assert fixed is not None
        assert parse_address(fixed)[0] == fixed


def test_no_network_is_touched() -> None:
    """Classifying domains must work on a machine with no network: fail on any socket use."""
    script = textwrap.dedent(
        """
        import sys

        def refuse(event, args):
            if event.startswith(("socket.", "urllib.")):
                raise SystemExit(f"network used: {event} {args}")

        sys.addaudithook(refuse)
        from mailsleuth.engine import domains

        assert domains.registrable_domain("mail.acme.co.uk") == "acme.co.uk"
        assert domains.normalise_domain("https://www.münchen.de/") == "xn--mnchen-3ya.de"
        assert domains.parse_address("jane@münchen.de")[2] == "xn--mnchen-3ya.de"
        assert domains.is_free_provider("gmail.com") and domains.is_disposable("mailinator.com")
        assert domains.is_role("info") and domains.suggest("jane@gmial.com") == "jane@gmail.com"
        print("offline ok")
        """
    )
    package_root = str(Path(domains.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.strip() == "offline ok"
