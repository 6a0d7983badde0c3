"""The Reacher (check-if-email-exists) dialect: single checks and bulk checks."""

from mailsleuth.api.reacher import routes
from mailsleuth.api.reacher.dialect import DIALECT

__all__ = ["DIALECT", "routes"]
