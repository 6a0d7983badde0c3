"""What an ended bulk job POSTs to its webhook, as an interface: one builder per job kind.

The shapes are the dialects' own (`mailsleuth.api.<dialect>`), so this layer only names them. Every
process that ends jobs (the API server and each `mailsleuth worker`) builds its `Runtime` with the
dialects' builders (`mailsleuth.api.dialects.DIALECTS.notices()`); the `Runtime` requires them, so a
process cannot forget them and silently send nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mailsleuth.store.bulk import Job

Rows = AsyncIterable[tuple[dict[str, Any], dict[str, Any]]]
"""The job's (input, result) pairs in input order, read from the ledger only if the builder iterates."""


@dataclass(frozen=True)
class Notice:
    """One webhook body of an ended job. `part` tells the job's bodies apart in the idempotency key
    (e.g. "end" for a single completion body, "row:3" for one per row)."""

    part: str
    body: str


NoticeBuilder = Callable[[Job, Rows], AsyncIterator[Notice]]
Notices = Mapping[str, NoticeBuilder]
"""The builders by job kind (`mailsleuth.jobs.bulk.JobKind` values)."""


def compact_json(payload: Mapping[str, Any]) -> str:
    """A webhook body as compact JSON (what every dialect sends)."""
    return json.dumps(payload, separators=(",", ":"))
