"""Send the vendor documents' own requests to the test server: a curl line as printed in the document
(continuation backslashes and all), or a `requests` snippet, with only the base URL and the token
placeholder swapped.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

from tests.api.conftest import ApiServer

VENDOR_BASES = ("https://api.voilanorbert.com", "http://developer.kaspr.fr")
TOKEN_PLACEHOLDERS = ("{secure_token}", "YOUR-API-KEY-HERE")


@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def swapped(api: ApiServer, text: str, key: str) -> str:
    """The document's text with our base URL for the vendor's and `key` for the token placeholder."""
    for base in VENDOR_BASES:
        text = text.replace(base, api.url)
    for placeholder in TOKEN_PLACEHOLDERS:
        text = text.replace(placeholder, key)
    return text


def curl(api: ApiServer, line: str, key: str) -> Answer:
    """Run a document's curl command (no shell) and return the status and body it received."""
    argv = shlex.split(swapped(api, line, key).replace("\\\n", " "))
    assert argv[0] == "curl"
    argv[1:1] = ["--silent", "--show-error", "--noproxy", "*", "--max-time", "30", "--write-out", "\n%{http_code}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=40, check=True).stdout
    body, _, status = out.rpartition("\n")
    return Answer(int(status), body)
