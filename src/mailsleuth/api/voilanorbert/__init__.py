"""The VoilaNorbert dialect (`/2018-01-08/`): searches, contacts, lists, account, and bulk files."""

from mailsleuth.api.voilanorbert import bulk, notices, routes
from mailsleuth.api.voilanorbert.dialect import DIALECT

__all__ = ["DIALECT", "bulk", "notices", "routes"]
