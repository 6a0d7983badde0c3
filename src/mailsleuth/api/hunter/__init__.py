"""The Hunter.io v2 dialect (`/v2/`): finder, verifier, domain search, count, account, enrichment,
leads and leads lists."""

from mailsleuth.api.hunter import leads, routes
from mailsleuth.api.hunter.dialect import DIALECT

__all__ = ["DIALECT", "leads", "routes"]
