"""JSON answers serialised in one step, for the routes clients poll.

A route that returns a dict has FastAPI validate and encode it through its response model machinery
first; a poll answers the same small object thousands of times a second, so its routes hand back
this response, encoded once by orjson.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class FastJSON(JSONResponse):
    """A JSONResponse whose body orjson encodes (UTF-8, same keys and order as `json.dumps`)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
