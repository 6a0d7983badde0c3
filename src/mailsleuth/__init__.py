"""mailsleuth: find and verify professional email addresses.

The engine is usable on its own::

    import asyncio
    from mailsleuth import find_email, verify_email

    asyncio.run(verify_email("jane.doe@example.com"))
    asyncio.run(find_email("Jane Doe", "example.com"))
"""

from __future__ import annotations

from mailsleuth.config import Settings, get_settings
from mailsleuth.engine.results import FindResult, Verdict, VerifyResult

__all__ = ["FindResult", "Settings", "Verdict", "VerifyResult", "find_email", "verify_email"]
__version__ = "0.1.0"


async def verify_email(address: str, *, settings: Settings | None = None) -> VerifyResult:
    """One-shot verification with a fresh Verifier (reuse a Verifier for many addresses)."""
    from mailsleuth.engine.verify import Verifier

    async with Verifier(settings or get_settings()) as verifier:
        return await verifier.verify(address)


async def find_email(name: str, domain: str, *, settings: Settings | None = None) -> FindResult:
    """One-shot find of ``name`` (a full name) at ``domain``."""
    from mailsleuth.engine.find import Finder
    from mailsleuth.engine.names import parse_name
    from mailsleuth.engine.verify import Verifier

    async with Verifier(settings or get_settings()) as verifier:
        return await Finder(verifier).find(parse_name(name), domain)
