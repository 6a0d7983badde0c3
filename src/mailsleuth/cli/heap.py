"""Long-running processes keep what they started with out of the garbage collector's sweeps.

CPython's collection of its oldest generation walks every tracked object. In a process that has
imported SQLAlchemy, FastAPI, pydantic and the engine that is hundreds of thousands of them, and
while a bulk upload and searches ran (bench/api_requests.py, phase 2) each such sweep stopped the
API's event loop, or a worker holding the SQLite writer, for 60-280 ms: the tail of a search
request's latency. What exists once a process has started lives as long as it does: `gc.freeze`
moves it to a generation no sweep visits. Full sweeps are then also made ten times rarer than
CPython's default: what they walk is what a busy server made since (thousands of in-flight
searches), while the young generations, swept as often as before, still free short-lived cycles.
"""

from __future__ import annotations

import gc

FULL_SWEEP_AFTER = 100  # middle-generation sweeps between two full ones (CPython's default: 10)


def settle() -> None:
    """Call once a server or worker process has started (imports done, app or runtime built)."""
    gc.collect()  # what start-up left as garbage is freed, not frozen with the rest
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_SWEEP_AFTER)
