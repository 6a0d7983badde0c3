"""The LeadGenius EmailGuess dialect (`/emailguess/v1/`): single and bulk guesses."""

from mailsleuth.api.leadgenius import bulk, notices, routes
from mailsleuth.api.leadgenius.dialect import DIALECT

__all__ = ["DIALECT", "bulk", "notices", "routes"]
